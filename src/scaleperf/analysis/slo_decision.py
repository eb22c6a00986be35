"""How one SLO is decided on the requests pooled over every replicate and phase it may be judged on.

A confidence interval of the SLO's metric, distribution-free where it can be: order statistics for a
percentile (the count of requests below the true percentile is binomial), Clopper-Pearson for an error
rate, Garwood (Poisson) for a throughput, a t-interval for a mean.  The SLO passes when the whole interval
meets the threshold, fails when none of it does, and is inconclusive otherwise, saying what would decide
it.  No fixed minimum sample count: a handful of very slow requests already shows a p95 above a threshold,
while showing it below needs enough requests for the largest to bound the percentile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scaleperf.analysis import metrics, stats
from scaleperf.analysis.metrics import format_value
from scaleperf.analysis.verdict import FAIL, INCONCLUSIVE, PASS
from scaleperf.results import RunResult

if TYPE_CHECKING:
    from scaleperf.analysis.slo import Slo

CONFIDENCE = 0.95  # an SLO is decided when this two-sided interval of its metric lies wholly on one side of the threshold


@dataclass(frozen=True)
class Pool:
    """The requests an SLO is judged on, pooled over replicates and phases."""

    latency_ms: np.ndarray
    failed: int
    n: int  # requests started in the windows (latency, error rate) or completed there (throughput)
    span_s: float


def pool_of(result: RunResult, slo: Slo, windows: list[tuple[float, float]]) -> Pool:
    s = result.samples
    m = np.zeros(len(s), dtype=bool)
    for w in windows:
        m |= s.mask(window=w, group=slo.group)
    span = float(sum(e - b for b, e in windows))
    if slo.metric == "throughput":
        return Pool(np.zeros(0), 0, metrics.completed_in(result, windows, slo.group), span)
    return Pool(s.latency_ms[m].astype(np.float64), int(s.failed[m].sum()), int(m.sum()), span)


def interval(slo: Slo, pool: Pool, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(estimate, lower, upper) of the SLO's metric on the pooled requests: order statistics for a percentile,
    Clopper-Pearson for an error rate, Garwood for a throughput, a t-interval for a mean."""
    if slo.metric == "throughput":
        lo, hi = stats.rate_ci(pool.n, pool.span_s, confidence=confidence)
        return (pool.n / pool.span_s if pool.span_s > 0 else math.nan, lo, hi)
    if pool.n == 0:
        return (math.nan, -math.inf, math.inf)
    if slo.metric == "error_rate":
        lo, hi = stats.proportion_ci(pool.failed, pool.n, confidence=confidence)
        return (pool.failed / pool.n, lo, hi)
    q = metrics.LATENCY[slo.metric]
    if q is None:
        lo, hi = stats.mean_ci(pool.latency_ms, confidence=confidence)
        return (float(pool.latency_ms.mean()), lo, hi)
    lo, hi = stats.quantile_ci(pool.latency_ms, q, confidence=confidence)
    return (stats.percentile(pool.latency_ms, q), lo, hi)


def decide(slo: Slo, lo: float, hi: float) -> str:
    """Pass when the whole interval meets the threshold, fail when none of it does, else inconclusive."""
    if slo.holds(lo) and slo.holds(hi):
        return PASS
    if not slo.holds(lo) and not slo.holds(hi):
        return FAIL
    return INCONCLUSIVE


def interval_text(lo: float, hi: float, unit: str) -> str:
    def one(x: float) -> str:
        return "-inf" if x == -math.inf else "inf" if x == math.inf else format_value(x, unit)

    return f"{CONFIDENCE:.0%} CI {one(lo)} to {one(hi)}"


def undecided_hint(slo: Slo, n: int) -> str:
    q = metrics.LATENCY.get(slo.metric)
    if q is not None:
        need = stats.quantile_sample_needed(q, confidence=CONFIDENCE)
        if n < need:
            return f"; a {slo.metric} needs at least {need} requests before it can be shown below a threshold"
    return "; more requests (replicates, or a longer judged window) would narrow it"
