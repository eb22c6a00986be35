"""The raw-sample recorder: every request, exact, in compact columns.

Locust's own statistics round each response time into buckets; this recorder keeps the exact one. A
``request`` listener appends start time, name, endpoint group, latency (float ms), response size and error
kind into preallocated numpy columns (20 bytes per request, ``results.SAMPLE_DTYPES`` plus a float64
absolute start time) and hands each full chunk to a sink (the engine spills it to disk).

Importing this module registers its hooks on ``locust.events``. That is what makes it travel with a
locustfile: a plain ``locust -f locustfiles/helpdesk.py --worker`` process that imports it records its own
requests and ships them to the master with every worker report (``report_to_master``); the master's
recorder merges them (``worker_report``), remapping names, groups and error kinds to its own tables.

It also times every wait of a paced user (``TaskSet._sleep``): how late the user woke after its wait was
due, and when it woke. That lag is the load generator's coordinated-omission signal; its times let analysis
judge each window of a run on its own.
"""

from __future__ import annotations

import logging
import os
import time
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil
from locust import events
from locust.runners import WorkerRunner
from locust.user.task import TaskSet

from scaleperf.results import SAMPLE_DTYPES

log = logging.getLogger(__name__)

CHUNK_ROWS = 65536  # requests per buffered chunk (1.3 MB); a full chunk goes to the sink at once
MAX_ERROR_KINDS = 255  # error kinds fit in a uint8 (0 = ok); later kinds share OTHER_ERRORS
MAX_NAMES = 65535  # request names fit in a uint16
MAX_GROUPS = 255  # endpoint groups fit in a uint8
ERROR_TEXT_LIMIT = 160  # characters of an error message kept as its kind
OTHER_ERRORS = "other errors (too many distinct error kinds)"
OTHER_NAMES = "other names (too many distinct request names)"
NO_GROUP = "other"  # group of a request whose context names none
REPORT_KEY = "scaleperf"  # key of the recorder's payload in a worker report

# Columns recorded per request: SAMPLE_DTYPES, except that "t" holds the absolute start (epoch seconds).
COLUMNS = dict(SAMPLE_DTYPES)

Chunk = dict[str, np.ndarray]


def error_kind(exception: BaseException | None) -> str:
    """A failed request's error kind: its message (with the exception's type unless it is a failure verdict)."""
    if exception is None:
        return "ok"
    text = str(exception)
    kind = text if type(exception).__name__ in ("CatchResponseError", "ResponseError") else f"{type(exception).__name__}: {text}"
    return kind[:ERROR_TEXT_LIMIT] or type(exception).__name__


class Recorder:
    """Columnar buffers and the name/group/error tables of one process's requests."""

    def __init__(self, sink: Callable[[Chunk], None] | None = None, chunk_rows: int = CHUNK_ROWS) -> None:
        self.sink = sink  # receives full chunks; None: chunks wait in ``pending`` (a worker ships them)
        self.chunk_rows = chunk_rows
        self.names: dict[str, int] = {}
        self.methods: dict[str, str] = {}  # name -> the HTTP method first seen with it
        self.groups: dict[str, int] = {}
        self.errors: dict[str, int] = {"ok": 0}
        self.pending: list[Chunk] = []
        self.lag_ms = array("f")  # wake-up lag of paced waits, ms (4 bytes each)
        self.lag_at = array("d")  # when each of those waits ended (epoch seconds), one per lag_ms
        self.paced_waits = 0
        self.total = 0
        self.workers: dict[str, dict] = {}  # worker id -> its latest report facts (master side)
        self._cols = {k: np.empty(chunk_rows, dtype=v) for k, v in COLUMNS.items()}
        self._n = 0

    # -- tables --------------------------------------------------------------------------------------
    def _intern(self, table: dict[str, int], key: str, limit: int, overflow: str) -> int:
        index = table.get(key)
        if index is None:
            if len(table) >= limit:
                return self._intern(table, overflow, limit + 1, overflow)
            index = table[key] = len(table)
        return index

    def name_index(self, name: str, method: str = "") -> int:
        if name not in self.names and method:
            self.methods[name] = method
        return self._intern(self.names, name, MAX_NAMES, OTHER_NAMES)

    def group_index(self, group: str) -> int:
        return self._intern(self.groups, group, MAX_GROUPS, NO_GROUP)

    def error_index(self, kind: str) -> int:
        return self._intern(self.errors, kind, MAX_ERROR_KINDS, OTHER_ERRORS)

    @staticmethod
    def table(index: dict[str, int]) -> tuple[str, ...]:
        return tuple(sorted(index, key=index.__getitem__))

    # -- recording -----------------------------------------------------------------------------------
    def record(
        self,
        *,
        start: float,
        method: str,
        name: str,
        group: str,
        latency_ms: float,
        size: int,
        exception: BaseException | None,
    ) -> None:
        i = self._n
        cols = self._cols
        cols["t"][i] = start
        cols["latency_ms"][i] = latency_ms
        cols["name"][i] = self.name_index(name, method)
        cols["group"][i] = self.group_index(group)
        cols["size"][i] = min(max(int(size or 0), 0), 0xFFFFFFFF)
        if exception is None:
            cols["error"][i] = 0
        else:
            cols["error"][i] = self.error_index(error_kind(exception))
        self._n = i + 1
        self.total += 1
        if self._n == self.chunk_rows:
            self.spill()

    def append(self, columns: Chunk) -> None:
        """Append whole columns (already mapped to this recorder's tables)."""
        n = len(columns["t"])
        done = 0
        while done < n:
            room = min(self.chunk_rows - self._n, n - done)
            for k in COLUMNS:
                self._cols[k][self._n : self._n + room] = columns[k][done : done + room]
            self._n += room
            done += room
            if self._n == self.chunk_rows:
                self.spill()
        self.total += n

    def take(self) -> Chunk:
        """The buffered rows as a new chunk (copied), emptying the buffer."""
        chunk = {k: v[: self._n].copy() for k, v in self._cols.items()}
        self._n = 0
        return chunk

    def spill(self) -> None:
        """Hand the buffered rows to the sink (or keep them pending for the next worker report)."""
        if not self._n:
            return
        chunk = self.take()
        if self.sink is None:
            self.pending.append(chunk)
        else:
            self.sink(chunk)

    def recent(self, since: float) -> tuple[np.ndarray, int]:
        """Latencies of buffered requests started after ``since`` (epoch seconds), and the buffer's failures."""
        n = self._n
        return self._cols["latency_ms"][:n][self._cols["t"][:n] >= since], int(np.count_nonzero(self._cols["error"][:n]))

    @property
    def buffered(self) -> int:
        return self._n

    # -- distribution ----------------------------------------------------------------------------------
    def report(self, users: int) -> dict:
        """A worker's payload for its next report: every row recorded since the last one, plus its tables."""
        self.spill()
        chunks, self.pending = self.pending, []
        cols = {k: np.concatenate([c[k] for c in chunks]) if chunks else np.zeros(0, dtype=v) for k, v in COLUMNS.items()}
        lag, self.lag_ms = self.lag_ms, array("f")
        lag_at, self.lag_at = self.lag_at, array("d")
        payload = {
            "cols": {k: v.tobytes() for k, v in cols.items()},
            "names": list(self.table(self.names)),
            "methods": self.methods,
            "groups": list(self.table(self.groups)),
            "errors": list(self.table(self.errors)),
            "lag_ms": lag.tobytes(),
            "lag_at": lag_at.tobytes(),
            "paced_waits": self.paced_waits,
            "users": users,
            "pid": os.getpid(),
            "host": os.uname().nodename,
            "cpu_pct": _PROCESS.cpu_percent(),
            "sent_at": time.time(),
        }
        self.paced_waits = 0
        return payload

    def merge(self, worker_id: str, payload: dict) -> int:
        """Merge one worker report into this recorder; returns the number of requests it carried."""
        cols = {k: np.frombuffer(payload["cols"][k], dtype=v) for k, v in COLUMNS.items()}
        methods = payload.get("methods", {})
        names = np.array([self.name_index(n, methods.get(n, "")) for n in payload["names"]] or [0], dtype=np.uint16)
        groups = np.array([self.group_index(g) for g in payload["groups"]] or [0], dtype=np.uint8)
        errors = np.array([self.error_index(e) for e in payload["errors"]] or [0], dtype=np.uint8)
        n = len(cols["t"])
        if n:
            cols["name"] = names[cols["name"]]
            cols["group"] = groups[cols["group"]]
            cols["error"] = errors[cols["error"]]
            self.append(cols)
        lags = array("f", payload.get("lag_ms", b""))
        self.lag_ms.extend(lags)
        at = array("d", payload.get("lag_at", b""))
        if len(at) != len(lags):  # a worker of an earlier version: its lags are placed at the report's arrival
            at = array("d", [time.time()] * len(lags))
        self.lag_at.extend(at)
        self.paced_waits += payload.get("paced_waits", 0)
        facts = self.workers.setdefault(worker_id, {"requests": 0})
        facts.update({k: payload[k] for k in ("users", "pid", "host", "cpu_pct", "sent_at") if k in payload})
        facts["requests"] += n
        facts["received_at"] = time.time()
        return n


_PROCESS = psutil.Process()
_active: Recorder | None = None
_worker_environment: Any = None  # the Locust environment of a worker process, once its test starts


def activate(recorder: Recorder) -> Recorder:
    """Make ``recorder`` receive this process's requests and worker reports."""
    global _active
    _active = recorder
    return recorder


def deactivate() -> None:
    global _active
    _active = None


def active() -> Recorder | None:
    return _active


# ----------------------------------------------------------------------------------- locust hooks
@events.request.add_listener
def _on_request(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    exception: BaseException | None = None,
    context: dict | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    rec = _active
    if rec is None:
        return
    group = (context or {}).get("group") or NO_GROUP
    start = start_time if start_time is not None else time.time() - (response_time or 0) / 1000.0
    rec.record(
        start=start,
        method=request_type,
        name=name,
        group=str(group),
        latency_ms=response_time or 0.0,
        size=response_length,
        exception=exception,
    )


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    # A worker started by plain `locust --worker` has no engine to set a recorder up: it ships what it records.
    global _worker_environment
    if isinstance(environment.runner, WorkerRunner):
        _worker_environment = environment
    if isinstance(environment.runner, WorkerRunner) and _active is None:
        activate(Recorder(sink=None))
        _PROCESS.cpu_percent()
        log.info("scaleperf recorder: recording raw samples on this worker")


@events.report_to_master.add_listener
def _on_report_to_master(client_id: str, data: dict, **_: Any) -> None:
    rec = _active
    if rec is None:
        return
    runner = getattr(_worker_environment, "runner", None)
    users = runner.user_count if runner is not None else -1
    data[REPORT_KEY] = rec.report(users)


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict, **_: Any) -> None:
    rec = _active
    payload = data.get(REPORT_KEY)
    if rec is None or payload is None:
        return
    rec.merge(client_id, payload)


def _timed_sleep(self: TaskSet, seconds: float) -> None:
    started = time.perf_counter()
    _original_sleep(self, seconds)
    rec = _active
    if rec is not None and seconds and seconds > 0:
        rec.paced_waits += 1
        rec.lag_ms.append(max(0.0, (time.perf_counter() - started - seconds) * 1000.0))
        rec.lag_at.append(time.time())


_original_sleep = TaskSet._sleep
TaskSet._sleep = _timed_sleep  # type: ignore[method-assign]
