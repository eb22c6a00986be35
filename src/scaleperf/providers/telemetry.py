"""Target-side telemetry of the local miniature: one sample a second of every component's cgroup.

The sampler runs in a real OS thread even when gevent has monkey-patched this process (the load
engine patches it): the thread is started with the unpatched ``_thread.start_new_thread``, sleeps
with the unpatched ``time.sleep`` and only reads files (cgroup accounting, ``/proc``) and calls plain
callables, so it never touches the gevent hub.  gevent is not imported here; its originals are used
only when something else already imported ``gevent.monkey``.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scaleperf.providers.limits import Usage
from scaleperf.results import Telemetry

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 1.0  # one sample a second, as CloudWatch's detailed monitoring gives at best per minute
STOP_POLL_S = 0.05  # how often the sampler checks that it was asked to stop
STOP_TIMEOUT_S = 5.0  # how long stop() waits for the sampler thread to finish


def _original(module: str, name: str):
    """``module.name`` as it was before gevent patched it (or as it is, when gevent is not loaded)."""
    if "gevent.monkey" in sys.modules:
        return sys.modules["gevent.monkey"].get_original(module, name)
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Component:
    """One thing to sample: ``usage()`` returns cumulative counters; ``allotted_cpus`` scales cpu_pct."""

    name: str  # "app-1", "db", "lb"
    tier: str  # "app" | "db" | "lb"
    usage: Callable[[], Usage]
    allotted_cpus: float  # 100 % cpu_pct = this many cores busy
    throttling_known: bool = True


class Sampler:
    """Samples components (and per-component request counters) every second in a native thread."""

    def __init__(
        self,
        components: list[Component],
        requests: Callable[[], dict[str, int]] | None = None,
        interval_s: float = SAMPLE_INTERVAL_S,
    ) -> None:
        self.components = components
        self.requests = requests
        self.interval_s = interval_s
        self.samples: list[tuple[float, dict[str, Usage], dict[str, int]]] = []
        self._stop = False
        self._running = False
        self._done = None

    # -- thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._running:
            return
        self._stop = False
        # The first sample is the baseline every count is measured from: take it before returning, so
        # requests sent right after start() are counted rather than absorbed into a late baseline.
        self.sample_once()
        self._done = _original("_thread", "allocate_lock")()
        self._done.acquire()
        self._running = True
        _original("_thread", "start_new_thread")(self._loop, ())

    def stop(self) -> None:
        if not self._running:
            return
        self._stop = True
        if not self._done.acquire(timeout=STOP_TIMEOUT_S):
            log.warning("telemetry sampler did not stop within %.0fs", STOP_TIMEOUT_S)
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def _loop(self) -> None:
        sleep = _original("time", "sleep")
        try:
            next_at = self.samples[-1][0] if self.samples else time.time()
            while not self._stop:
                next_at += self.interval_s
                while not self._stop and time.time() < next_at:
                    sleep(min(STOP_POLL_S, max(0.0, next_at - time.time())))
                if not self._stop:
                    self.sample_once()
        except Exception:  # a sampler must never take the run down; the gap shows in the series
            log.exception("telemetry sampler failed")
        finally:
            self._done.release()

    def sample_once(self) -> None:
        now = time.time()
        usages = {}
        for c in self.components:
            try:
                usages[c.name] = c.usage()
            except Exception as exc:  # a component that just died: skip it in this sample
                log.debug("no usage for %s: %s", c.name, exc)
        counts: dict[str, int] = {}
        if self.requests is not None:
            try:
                counts = self.requests()
            except Exception as exc:
                log.debug("no request counters: %s", exc)
        self.samples.append((now, usages, counts))

    # -- series ---------------------------------------------------------------------------------
    def telemetry(self, t0: float, t1: float) -> tuple[Telemetry, ...]:
        """Per-second series of every component for the window [t0, t1], ``t`` relative to t0."""
        window = [s for s in list(self.samples) if t0 - self.interval_s <= s[0] <= t1 + self.interval_s]
        out = []
        for c in self.components:
            ts, cpu, thr, mem, req = [], [], [], [], []
            for (ta, ua, ca), (tb, ub, cb) in itertools.pairwise(window):
                a, b = ua.get(c.name), ub.get(c.name)
                dt = tb - ta
                if a is None or b is None or dt <= 0 or not t0 <= tb <= t1 + self.interval_s:
                    continue
                ts.append(tb - t0)
                cpu.append(_cpu_pct(a, b, dt, c.allotted_cpus))
                thr.append(_throttled_pct(a, b) if c.throttling_known else math.nan)
                mem.append(b.memory_bytes / 2**20 if b.memory_bytes is not None else math.nan)
                if c.name in ca and c.name in cb:
                    req.append((cb[c.name] - ca[c.name]) / dt)
                else:
                    req.append(math.nan)
            has_requests = any(not math.isnan(r) for r in req)
            out.append(
                Telemetry(
                    component=c.name,
                    tier=c.tier,
                    t=np.asarray(ts, dtype=float),
                    cpu_pct=np.asarray(cpu, dtype=float),
                    throttled_pct=np.asarray(thr, dtype=float),
                    memory_mb=np.asarray(mem, dtype=float),
                    requests=np.asarray(req, dtype=float) if has_requests else None,
                )
            )
        return tuple(out)


def _cpu_pct(a: Usage, b: Usage, dt: float, allotted: float) -> float:
    if a.cpu_ns is None or b.cpu_ns is None or allotted <= 0:
        return math.nan
    return max(0.0, (b.cpu_ns - a.cpu_ns) / 1e9 / dt / allotted * 100.0)


def _throttled_pct(a: Usage, b: Usage) -> float:
    """Percent of the interval's CFS periods in which the group ran out of quota."""
    if None in (a.periods, b.periods, a.throttled_periods, b.throttled_periods):
        return math.nan
    periods = b.periods - a.periods
    if periods <= 0:
        return 0.0
    return min(100.0, max(0.0, (b.throttled_periods - a.throttled_periods) / periods * 100.0))
