"""Each load worker's CPU, second by second, and whether any worker ran out of it.

Two figures reach the master for every worker: Locust's own (``current_cpu_usage`` in each heartbeat,
which the master keeps as ``WorkerNode.cpu_usage``; Locust measures it over 10 s windows), and the
raw-sample recorder's (``cpu_pct`` in every worker report, measured over the 3 s between reports). Once a
second the engine keeps, per worker, the higher of the two that are current. One worker is one gevent loop on
one core: past 90 % it queues its own requests, so the latencies it measured include its own waiting, and a
run in which any worker passed that is flagged saturated, naming the worker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from locust.runners import STATE_MISSING

from scaleperf.trust import WORKER_CPU_SATURATED_PCT

REPORT_STALE_S = 10.0  # a recorder figure older than this is not current


class WorkerCpu:
    """Per-second CPU of every worker the master knows, from heartbeats and recorder reports."""

    def __init__(self) -> None:
        self.per_s: dict[str, list[float | None]] = {}  # worker id -> one figure per second (None: no figure)
        self.seconds = 0

    def sample(self, heartbeats: Mapping[str, float], reports: Mapping[str, dict], now: float | None = None) -> None:
        """Add one second: ``heartbeats`` is worker id -> Locust's figure, ``reports`` the recorder's facts per worker."""
        now = time.time() if now is None else now
        figures: dict[str, float] = {}
        for wid, pct in heartbeats.items():
            if pct is not None and math.isfinite(float(pct)):
                figures[wid] = float(pct)
        for wid, facts in reports.items():
            pct = facts.get("cpu_pct")
            if pct is not None and now - facts.get("received_at", 0.0) < REPORT_STALE_S:
                figures[wid] = max(figures.get(wid, 0.0), float(pct))
        for wid in figures.keys() - self.per_s.keys():
            self.per_s[wid] = [None] * self.seconds
        for wid, series in self.per_s.items():
            series.append(figures.get(wid))
        self.seconds += 1


def heartbeats_of(runner: Any) -> dict[str, float]:
    """Locust's latest CPU figure of each worker still sending heartbeats to a master runner (empty for a local runner)."""
    return {node.id: node.cpu_usage for node in getattr(runner, "clients", {}).values() if node.state != STATE_MISSING}


def summarise(per_s: Mapping[str, list[float | None]], names: Mapping[str, str] | None = None) -> dict:
    """The result's worker checks: ``worker_cpu_max_pct`` per worker, the series, and a reason per busy worker.

    ``names`` maps a worker id to how the reason names it (for example its host and process id).
    """
    maxima: dict[str, float | None] = {}
    reasons: list[str] = []
    for wid in sorted(per_s):
        values = [v for v in per_s[wid] if v is not None]
        top = max(values) if values else None
        maxima[wid] = top
        if top is not None and top > WORKER_CPU_SATURATED_PCT:
            second = per_s[wid].index(top)
            label = (names or {}).get(wid) or wid
            reasons.append(
                f"load worker {label} reached {top:.0f}% CPU (> {WORKER_CPU_SATURATED_PCT:.0f}%) at {second} s: "
                "its latencies include its own queueing"
            )
    return {
        "worker_cpu_max_pct": maxima,
        "worker_cpu_per_s": {wid: [None if v is None else round(v, 1) for v in per_s[wid]] for wid in sorted(per_s)},
        "worker_cpu_saturated_pct": WORKER_CPU_SATURATED_PCT,
        "worker_cpu_reasons": reasons,
    }
