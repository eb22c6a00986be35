"""Which tier limited a configuration, from the target-side telemetry.

Over a window (the saturation step, else the last step, else the plateau), each component's CPU and
throttling are averaged; the tier whose busiest component worked hardest is the one that limited the
load, when it was near its allotment. Below that, no tier was CPU-bound: the limit lay elsewhere
(connections, locks, the network or the load generator), and the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scaleperf.analysis.verdict import SaturationVerdict
from scaleperf.results import RunResult

BUSY_CPU_PCT = 80.0  # a component using this much of its allotted CPU is the bottleneck candidate
THROTTLED_PCT = 10.0  # a component throttled this much of the time is CPU-bound whatever its CPU reads


@dataclass(frozen=True)
class ComponentLoad:
    component: str
    tier: str
    cpu_pct: float  # mean over the window (NaN when unknown)
    throttled_pct: float  # mean over the window (NaN when unknown)


@dataclass(frozen=True)
class Bottleneck:
    tier: str | None  # "app" | "db" | "lb", or None when no tier was CPU-bound or nothing was measured
    component: str | None
    window: tuple[float, float] | None
    loads: tuple[ComponentLoad, ...]
    sentence: str  # one line for the report


def _mean(t: np.ndarray, v: np.ndarray, window: tuple[float, float]) -> float:
    m = (t >= window[0]) & (t < window[1]) & np.isfinite(v)
    return float(v[m].mean()) if m.any() else math.nan


def analysis_window(result: RunResult, verdict: SaturationVerdict | None = None) -> tuple[float, float] | None:
    """The window the limit is read in: the saturation step, else the last step, else the plateau."""
    steps = list(verdict.steps) if verdict is not None else []
    if verdict is not None and verdict.users is not None:
        for s in steps:
            if s.deploy_users == verdict.users:
                return s.window
    if steps:
        return steps[-1].window
    phases = [p for p in result.phases if p.kind.startswith("step")] or result.phases_of("plateau")
    return phases[-1].window if phases else None


def find(result: RunResult, verdict: SaturationVerdict | None = None) -> Bottleneck:
    """The tier that limited ``result``'s configuration, judged in :func:`analysis_window`."""
    window = analysis_window(result, verdict)
    if not result.telemetry:
        return Bottleneck(None, None, window, (), "no target-side telemetry was recorded, so the limiting tier is unknown")
    if window is None:
        return Bottleneck(None, None, None, (), "the run has no plateau or step to read the limiting tier in")
    loads = tuple(
        ComponentLoad(tel.component, tel.tier, _mean(tel.t, tel.cpu_pct, window), _mean(tel.t, tel.throttled_pct, window))
        for tel in result.telemetry
    )
    where = f"{window[0]:.0f}-{window[1]:.0f} s"
    known = [c for c in loads if math.isfinite(c.cpu_pct) or math.isfinite(c.throttled_pct)]
    if not known:
        return Bottleneck(None, None, window, loads, f"telemetry recorded no CPU figures in {where}")

    def pressure(c: ComponentLoad) -> float:
        cpu = c.cpu_pct if math.isfinite(c.cpu_pct) else 0.0
        thr = c.throttled_pct if math.isfinite(c.throttled_pct) else 0.0
        return max(cpu, BUSY_CPU_PCT * thr / THROTTLED_PCT if thr else 0.0)

    top = max(known, key=pressure)
    detail = f"{top.component} at {top.cpu_pct:.0f} % CPU" + (
        f", throttled {top.throttled_pct:.0f} % of the time" if math.isfinite(top.throttled_pct) else ""
    )
    if pressure(top) >= BUSY_CPU_PCT:
        return Bottleneck(top.tier, top.component, window, loads, f"the {top.tier} tier limited the load ({detail}, {where})")
    return Bottleneck(
        None, None, window, loads, f"no tier was CPU-bound in {where} (busiest: {detail}); the limit lay outside CPU"
    )
