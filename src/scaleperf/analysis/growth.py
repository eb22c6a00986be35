"""What broke first: per endpoint, how latency and response size grow with the load steps, and which
endpoints broke their group's latency SLO first; and how bursty the arrivals were on each step.

Per step (warm-up excluded) and endpoint (request name): requests, p95 and median latency, mean response
size.  An endpoint *breaks* on the first step where its own p95 exceeds the p95 threshold of its group's
SLO (the SLO of the group most of its requests belong to); endpoints are ordered by that step, then by how
far past the threshold they were, so the first row names the endpoint to fix first.

Arrival dispersion (issue of burstiness, not of capacity): per step, the variance/mean of request starts
per second (1 for random, Poisson arrivals) and the ratio of the busiest to the quietest tenth of the
polling cycle (request start times modulo the cycle, in ten bins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scaleperf.analysis import stats
from scaleperf.results import RunResult

STEP = "step"
CYCLE_S = 5.0  # the help desk frontend's polling interval (locustfiles/helpdesk.py DEFAULT_POLL_INTERVAL_S)
CYCLE_BINS = 10  # tenths of the polling cycle
MIN_ENDPOINT_REQUESTS = 5  # an endpoint with fewer requests on a step shows no percentile there


@dataclass(frozen=True)
class EndpointGrowth:
    name: str
    group: str
    p95_ms: tuple[float, ...]  # per step, NaN when too few requests
    median_ms: tuple[float, ...]
    size_bytes: tuple[float, ...]  # mean response size per step
    requests: tuple[int, ...]
    threshold_ms: float | None  # its group's p95 SLO
    broke_at: int | None  # index of the first step where p95 > threshold


@dataclass(frozen=True)
class Growth:
    steps: tuple[str, ...]  # step labels
    users: tuple[int, ...]  # deployment users per step
    endpoints: tuple[EndpointGrowth, ...]  # in the order they broke (first first), then the rest by their last p95

    @property
    def broke_first(self) -> list[EndpointGrowth]:
        """The endpoints that broke on the earliest step any did."""
        broken = [e for e in self.endpoints if e.broke_at is not None]
        if not broken:
            return []
        first = min(e.broke_at for e in broken)
        return [e for e in broken if e.broke_at == first]


def _step_windows(result: RunResult) -> list[tuple[str, int, tuple[float, float]]]:
    phases = sorted(result.phases_of(STEP), key=lambda p: (p.deploy_users, p.start_s))  # by load, as the steps are judged
    return [(p.label, p.deploy_users, p.window) for p in phases if p.window[1] > p.window[0]]


def endpoint_growth(result: RunResult, p95_thresholds: dict[str, float]) -> Growth:
    """Per endpoint and load step; ``p95_thresholds`` maps group name to its p95 SLO in ms (``all`` applies
    to every group without its own)."""
    steps = _step_windows(result)
    s = result.samples
    rows = []
    for i, name in enumerate(s.names):
        of_name = s.name == i
        if not of_name.any():
            continue
        groups = np.bincount(s.group[of_name].astype(int), minlength=len(s.groups))
        group = s.groups[int(np.argmax(groups))] if len(s.groups) else "all"
        threshold = p95_thresholds.get(group, p95_thresholds.get("all"))
        p95, med, size, count = [], [], [], []
        for _, _, w in steps:
            m = of_name & (s.t >= w[0]) & (s.t < w[1])
            n = int(m.sum())
            lat = s.latency_ms[m].astype(np.float64)
            enough = n >= MIN_ENDPOINT_REQUESTS
            p95.append(stats.percentile(lat, 95) if enough else math.nan)
            med.append(stats.percentile(lat, 50) if enough else math.nan)
            size.append(float(s.size[m].mean()) if n else math.nan)
            count.append(n)
        broke = next((k for k, v in enumerate(p95) if threshold is not None and math.isfinite(v) and v > threshold), None)
        rows.append(EndpointGrowth(name, group, tuple(p95), tuple(med), tuple(size), tuple(count), threshold, broke))

    def order(e: EndpointGrowth) -> tuple:
        if e.broke_at is not None:
            return (0, e.broke_at, -(e.p95_ms[e.broke_at] / e.threshold_ms))
        last = next((v for v in reversed(e.p95_ms) if math.isfinite(v)), 0.0)
        return (1, 0, -last)

    return Growth(tuple(label for label, _, _ in steps), tuple(u for _, u, _ in steps), tuple(sorted(rows, key=order)))


def growth_sentence(g: Growth) -> str:
    """One line naming the endpoint(s) that broke first, or saying none did."""
    if not g.steps:
        return "no load steps: nothing to say about what broke first"
    first = g.broke_first
    if not first:
        return "no endpoint's p95 passed its group's SLO on any step"
    step = first[0].broke_at
    named = ", ".join(
        f"{e.name} ({e.group}, p95 {e.p95_ms[step]:.0f} ms against {e.threshold_ms:.0f} ms, "
        f"{_size(e.size_bytes[0])} to {_size(e.size_bytes[step])})"
        for e in first
    )
    return f"first to break, at {g.steps[step]} ({g.users[step]} users): {named}"


def _size(b: float) -> str:
    if not math.isfinite(b):
        return "n/a"
    return f"{b / 1024:.1f} KB" if b >= 1024 else f"{b:.0f} B"


@dataclass(frozen=True)
class Dispersion:
    label: str
    users: int
    index: float  # variance / mean of request starts per second (1: random arrivals)
    cycle_ratio: float  # busiest / quietest tenth of the polling cycle (1: even)


def dispersion(result: RunResult, window: tuple[float, float], *, cycle_s: float = CYCLE_S) -> tuple[float, float]:
    """(variance/mean of starts per second, busiest/quietest tenth of the polling cycle) over ``window``."""
    t = result.samples.t[(result.samples.t >= window[0]) & (result.samples.t < window[1])].astype(np.float64)
    seconds = int(window[1] - window[0])
    if seconds < 2 or t.size == 0:
        return (math.nan, math.nan)
    per_s = np.bincount((t - window[0]).astype(int), minlength=seconds)[:seconds].astype(np.float64)
    index = float(per_s.var(ddof=1) / per_s.mean()) if per_s.mean() > 0 else math.nan
    bins = np.bincount(((t % cycle_s) / cycle_s * CYCLE_BINS).astype(int) % CYCLE_BINS, minlength=CYCLE_BINS)
    ratio = float(bins.max() / bins.min()) if bins.min() > 0 else math.inf
    return (index, ratio)


def step_dispersion(result: RunResult, *, cycle_s: float = CYCLE_S) -> list[Dispersion]:
    """:func:`dispersion` on each load step (and the plateau first, when there is one)."""
    out = []
    for p in sorted(result.phases_of("plateau") + result.phases_of(STEP), key=lambda p: p.start_s):
        if p.window[1] > p.window[0]:
            index, ratio = dispersion(result, p.window, cycle_s=cycle_s)
            out.append(Dispersion(p.label, p.deploy_users, index, ratio))
    return out
