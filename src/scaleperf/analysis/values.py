"""One value per replicate run for a comparison: batch means over the plateau, or capacity from the steps.

Latency and error-rate metrics: the plateau (warm-up excluded) is cut into batches whose length is fixed
before any test from the per-second series (:func:`stats.batch_length_s`); the run's value is the mean of
its batch values.  Throughput: the run's *capacity* from its load steps (:func:`saturation.capacity`), the
highest completed-requests rate that still tracked the offered load; a plateau below saturation serves the
same offered load whatever the capacity, so it cannot tell configurations apart.  Raw per-request samples
never enter a test.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from scaleperf.analysis import generator, metrics, saturation, stats
from scaleperf.analysis.metrics import Metric
from scaleperf.results import RunResult

PLATEAU = "plateau"
MIN_BATCH_SAMPLES = {"p50": 10, "p95": 20, "p99": 100, "mean": 5, "error_rate": 20, "throughput": 0}  # fewer: batch skipped
SAMPLE_HEADROOM = 1.5  # batches are sized for this many times the minimum sample at the mean request rate


def plateau_windows(result: RunResult) -> list[tuple[float, float]]:
    return [p.window for p in result.phases_of(PLATEAU) if p.window[1] > p.window[0]]


def per_second(result: RunResult, metric: Metric) -> np.ndarray:
    """The run's per-second series over its plateau windows, for fixing the batch length."""
    t = result.series.get("t")
    values = result.series.get(metric.series_key)
    windows = plateau_windows(result)
    if t is None or values is None or not windows:
        return np.zeros(0)
    m = np.zeros(len(t), dtype=bool)
    for start, end in windows:
        m |= (t >= start) & (t < end)
    picked = np.asarray(values, dtype=np.float64)[m]
    return picked[np.isfinite(picked)]  # seconds without requests have no percentile


def batch_value(result: RunResult, metric: Metric, window: tuple[float, float]) -> float:
    """The metric over one batch; NaN when the batch is too thin."""
    value, n = metrics.value(result, metric, [window])
    if metric.statistic != "throughput" and n < max(1, MIN_BATCH_SAMPLES[metric.statistic]):
        return float("nan")
    return value


def replicate_value(batch_values: np.ndarray) -> np.ndarray:
    """One run's value from its batch values (last axis): their mean, thin (NaN) batches left out."""
    x = np.asarray(batch_values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a run whose batches are all thin is NaN, and excluded
        return np.nanmean(x, axis=-1)


def run_batches(result: RunResult, metric: Metric, batch_s: float) -> np.ndarray:
    """The batch values of one run over its plateau windows."""
    values = [batch_value(result, metric, edge) for w in plateau_windows(result) for edge in stats.batch_edges(w, batch_s)]
    return np.asarray(values, dtype=np.float64)


def request_rate(result: RunResult, metric: Metric) -> float:
    """Requests of the metric's group started per second over the run's plateau windows (0 without any)."""
    windows = plateau_windows(result)
    span = sum(e - s for s, e in windows)
    n = sum(int(result.samples.mask(window=w, group=metric.group).sum()) for w in windows)
    return n / span if span > 0 else 0.0


def comparison_batch_length(runs: list[RunResult], metric: Metric) -> int:
    """The batch length for a comparison: one rule, fixed from every involved run's per-second series and
    request counts (never from the latencies compared).

    The autocorrelation rule of :func:`stats.batch_length_s` gives the shortest batches whose means are
    nearly independent; a group with few requests (reads at two a second) also needs batches long enough
    that a batch holds the statistic's minimum sample (:data:`MIN_BATCH_SAMPLES`) with room to spare
    (:data:`SAMPLE_HEADROOM`) at the slowest run's request rate, or every batch would be too thin to value.
    Both are capped so the shortest window holds :data:`stats.MIN_BATCHES` batches."""
    rows = [per_second(r, metric) for r in runs]
    windows = [sum(e - s for s, e in plateau_windows(r)) for r in runs]
    shortest = min((w for w in windows if w > 0), default=0.0)
    cap = max(stats.MIN_BATCH_S, int(shortest // stats.MIN_BATCHES))
    usable = [row for row in rows if len(row) >= 3]
    if not usable:
        return cap
    n = min(len(row) for row in usable)
    length = stats.batch_length_s(np.vstack([row[:n] for row in usable]), shortest)
    need = MIN_BATCH_SAMPLES.get(metric.statistic, 0) * SAMPLE_HEADROOM
    rates = [rate for r in runs if (rate := request_rate(r, metric)) > 0] if need else []
    if rates:
        length = max(length, math.ceil(need / min(rates)))
    return min(length, cap)


def run_name(result: RunResult) -> str:
    return f"{result.config} r{result.meta.get('replicate', '?')}"


def usable_for_plateau(runs: list[RunResult]) -> tuple[list[RunResult], list[str]]:
    """The runs whose plateau can be compared, and why each other one cannot."""
    kept, excluded = [], []
    for r in runs:
        if not r.complete:
            excluded.append(f"{run_name(r)}: incomplete")
        elif not plateau_windows(r):
            excluded.append(f"{run_name(r)}: no plateau phase")
        elif problems := [p for s, e in plateau_windows(r) for p in generator.problems(r, s, e)]:
            excluded.append(f"{run_name(r)}: the load generator could not be trusted on the plateau ({'; '.join(problems)})")
        else:
            kept.append(r)
    return kept, excluded


@dataclass(frozen=True)
class Values:
    """One side's replicate values, with what was left out and why."""

    values: np.ndarray
    excluded: tuple[str, ...]
    lower_bounds: tuple[bool, ...] = ()  # capacity only: the value is a lower bound (the steps stopped first)


def plateau_values(runs: list[RunResult], metric: Metric, batch_s: int, memo: dict) -> Values:
    kept, excluded = usable_for_plateau(runs)
    values = []
    for r in kept:
        key = (id(r), metric.name, batch_s)
        if key not in memo:
            memo[key] = float(replicate_value(run_batches(r, metric, batch_s)))
        if math.isfinite(memo[key]):
            values.append(memo[key])
        else:
            excluded.append(f"{run_name(r)}: too few {metric.group} requests per {batch_s} s batch")
    return Values(np.asarray(values, dtype=np.float64), tuple(excluded))


def capacity_values(runs: list[RunResult], slos: list) -> Values | str:
    """Each replicate's capacity; a reason (str) when one of them cannot give it, or none ran load steps.

    A replicate that ran no load steps (an auto round that left them out once its configuration's capacity
    claims were decided) is left out; the replicates that ran them are its side's values."""
    has_steps = [bool(r.phases_of(saturation.STEP)) for r in runs]
    stepped = [r for r, yes in zip(runs, has_steps, strict=True) if yes]
    if runs and not stepped:
        return f"{run_name(runs[0])}: capacity unknown (the run has no load steps)"
    excluded = tuple(f"{run_name(r)}: no load steps in this run" for r, yes in zip(runs, has_steps, strict=True) if not yes)
    values, bounds = [], []
    for r in stepped:
        c = saturation.capacity(r, slos)
        if c.rps is None:
            return f"{run_name(r)}: capacity unknown ({c.reason})"
        values.append(c.rps)
        bounds.append(c.lower_bound)
    return Values(np.asarray(values, dtype=np.float64), excluded, tuple(bounds))
