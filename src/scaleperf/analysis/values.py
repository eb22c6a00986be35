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


def comparison_batch_length(runs: list[RunResult], metric: Metric) -> int:
    """The batch length for a comparison: one rule, fixed from every involved run's per-second series."""
    rows = [per_second(r, metric) for r in runs]
    windows = [sum(e - s for s, e in plateau_windows(r)) for r in runs]
    shortest = min((w for w in windows if w > 0), default=0.0)
    usable = [row for row in rows if len(row) >= 3]
    if not usable:
        return max(stats.MIN_BATCH_S, int(shortest // stats.MIN_BATCHES))
    n = min(len(row) for row in usable)
    return stats.batch_length_s(np.vstack([row[:n] for row in usable]), shortest)


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
    """Each replicate's capacity; a reason (str) when one of them cannot give it."""
    values, bounds = [], []
    for r in runs:
        c = saturation.capacity(r, slos)
        if c.rps is None:
            return f"{run_name(r)}: capacity unknown ({c.reason})"
        values.append(c.rps)
        bounds.append(c.lower_bound)
    return Values(np.asarray(values, dtype=np.float64), (), tuple(bounds))
