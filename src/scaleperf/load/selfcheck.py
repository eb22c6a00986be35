"""Self-checks of the load generator: can this run's numbers be trusted?

* CPU of every generator process, once a second (psutil for processes on this machine, the workers' own
  reports for workers elsewhere). One Locust process is one gevent loop on one core: past ~90 % it queues
  its own requests and the latencies it measures grow with it.
* Locust's ``cpu_warning`` events (its own 90 % check, every 10 s), each with the second it came
  (``cpu_warnings_at_s``).
* Task lag: how late paced users woke after their wait was due (from the recorder). When the generator
  falls behind its schedule, it offers less load than the profile says: coordinated omission. Kept per second
  too (``lag_per_s``: waits, waits later than the limit, the latest), so analysis can judge each window.
* Workers lost during the run: their users stopped generating load.
* Each worker's own CPU, second by second (:mod:`scaleperf.load.workercpu`): any worker past 90 % is named.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping

import numpy as np
import psutil

from scaleperf.load.workercpu import summarise
from scaleperf.trust import CPU_SATURATED_P95_PCT, LAG_SATURATED_P99_MS

log = logging.getLogger(__name__)

CPU_ACCURATE_PCT = 70.0  # below this the generator's own queueing does not distort latencies (noted, not flagged)
REMOTE_REPORT_STALE_S = 10.0  # a remote worker's CPU figure older than this is not used


class GeneratorMonitor:
    """Samples the CPU of the generator processes each second and counts Locust's CPU warnings."""

    def __init__(self, pids: Iterable[int] = ()) -> None:
        self._procs: dict[int, psutil.Process] = {}
        self.cpu_warnings = 0
        self.cpu_warning_times: list[float] = []  # when each warning came (epoch seconds)
        for pid in pids:
            self.watch(pid)

    def watch(self, pid: int) -> None:
        try:
            proc = psutil.Process(pid)
            proc.cpu_percent()  # the first call only starts the interval
            self._procs[pid] = proc
        except psutil.Error:
            log.debug("generator process %d is gone", pid)

    def on_cpu_warning(self, **_: object) -> None:
        self.cpu_warnings += 1
        self.cpu_warning_times.append(time.time())

    def sample(self, remote: dict[str, dict] | None = None) -> float:
        """The busiest generator process's CPU (%) since the last call; remote workers count by their reports."""
        busiest = 0.0
        for pid, proc in list(self._procs.items()):
            try:
                busiest = max(busiest, proc.cpu_percent())
            except psutil.Error:
                self._procs.pop(pid, None)
        now = time.time()
        local_pids = set(self._procs)
        for facts in (remote or {}).values():
            if facts.get("pid") in local_pids and facts.get("host") == _HOST:
                continue
            if now - facts.get("received_at", 0.0) < REMOTE_REPORT_STALE_S:
                busiest = max(busiest, float(facts.get("cpu_pct", 0.0)))
        return busiest


_HOST = os.uname().nodename  # this machine, to tell local worker reports from remote ones


def checks(
    *,
    cpu_per_s: np.ndarray,
    lag_ms: np.ndarray,
    paced_waits: int,
    cpu_warnings: int,
    lost_workers: list[str],
    worker_cpu_per_s: Mapping[str, list[float | None]] | None = None,
    worker_names: Mapping[str, str] | None = None,
    lag_at_s: np.ndarray | None = None,
    cpu_warnings_at_s: list[float] | None = None,
) -> dict:
    """The result's ``checks``: figures, whether the generator saturated, and why.

    ``lag_at_s`` (seconds since the run's start, one per ``lag_ms``) and ``cpu_warnings_at_s`` place the task
    lag and Locust's warnings in time: ``lag_per_s`` and ``cpu_warnings_at_s`` in the result.
    """
    cpu = np.asarray(cpu_per_s, dtype=np.float64)
    cpu = cpu[np.isfinite(cpu)]
    lag = np.asarray(lag_ms, dtype=np.float64)
    out = {
        "gen_cpu_max_pct": float(cpu.max()) if len(cpu) else None,
        "gen_cpu_p95_pct": float(np.percentile(cpu, 95, method="linear")) if len(cpu) else None,
        "gen_cpu_accurate_below_pct": CPU_ACCURATE_PCT,
        "cpu_warnings": int(cpu_warnings),
        "lag_p95_ms": float(np.percentile(lag, 95, method="linear")) if len(lag) else None,
        "lag_p99_ms": float(np.percentile(lag, 99, method="linear")) if len(lag) else None,
        "paced_waits": int(paced_waits),
        "lost_workers": list(lost_workers),
    }
    reasons = []
    if out["gen_cpu_p95_pct"] is not None and out["gen_cpu_p95_pct"] > CPU_SATURATED_P95_PCT:
        reasons.append(f"load generator CPU p95 {out['gen_cpu_p95_pct']:.0f}% > {CPU_SATURATED_P95_PCT:.0f}%")
    if cpu_warnings:
        reasons.append(f"Locust warned {cpu_warnings} time(s) that its CPU was above 90%")
    if out["lag_p99_ms"] is not None and out["lag_p99_ms"] > LAG_SATURATED_P99_MS:
        reasons.append(
            f"paced users started {out['lag_p99_ms']:.0f} ms late (p99 > {LAG_SATURATED_P99_MS:.0f} ms): the schedule slipped"
        )
    for worker in lost_workers:
        reasons.append(f"load worker {worker} was lost during the run; the load fell short of the profile")
    if worker_cpu_per_s is not None:
        workers = summarise(worker_cpu_per_s, worker_names)
        reasons.extend(workers.pop("worker_cpu_reasons"))
        out.update(workers)
    if lag_at_s is not None:
        out["lag_per_s"] = lag_per_second(lag, np.asarray(lag_at_s, dtype=np.float64), len(cpu_per_s))
    if cpu_warnings_at_s is not None:
        out["cpu_warnings_at_s"] = [round(float(t), 1) for t in cpu_warnings_at_s]
    out["saturated"] = bool(reasons)
    out["reasons"] = reasons
    return out


def lag_per_second(lag_ms: np.ndarray, at_s: np.ndarray, seconds: int = 0) -> dict:
    """Task lag second by second: how many paced waits ended in each, how many of them woke later than
    ``LAG_SATURATED_P99_MS`` (more than 1 % of a window's waits that late is a lag p99 above it), and the latest."""
    lag = np.asarray(lag_ms, dtype=np.float64)
    sec = np.floor(np.clip(np.asarray(at_s, dtype=np.float64), 0.0, None)).astype(np.int64)
    n = max(int(seconds), int(sec.max()) + 1 if len(sec) else 0)
    latest = np.zeros(n)
    np.maximum.at(latest, sec, lag)
    return {
        "waits": np.bincount(sec, minlength=n).tolist(),
        "late": np.bincount(sec[lag > LAG_SATURATED_P99_MS], minlength=n).tolist(),
        "max_ms": [round(float(v), 1) for v in latest],
        "late_above_ms": LAG_SATURATED_P99_MS,
    }
