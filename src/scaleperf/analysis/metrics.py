"""One metric grammar for SLOs and comparisons: ``<group>.<statistic>``, the groups and the statistics.

Groups are the locustfile's endpoint groups plus ``all``; statistics are the latency percentiles and
mean (ms), the error rate (a fraction) and throughput (requests *completed* per second).  ``throughput``
alone means ``all.throughput``.  :mod:`scaleperf.analysis.slo` and :mod:`scaleperf.analysis.compare` both
parse names here, so a metric means the same in fixtures/slos.toml and fixtures/expectations.toml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scaleperf.analysis import stats
from scaleperf.results import RunResult

GROUPS = ("all", "polls", "auth", "writes", "reads")  # endpoint groups of the help desk locustfile, plus "all"
LATENCY = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "mean": None}  # statistic -> percentile (None: the mean)
STATISTICS = (*LATENCY, "error_rate", "throughput")
UNITS = {"p50": "ms", "p95": "ms", "p99": "ms", "mean": "ms", "error_rate": "ratio", "throughput": "req/s"}


@dataclass(frozen=True)
class Metric:
    """A metric name split into its group and statistic, with its direction and unit."""

    name: str
    group: str
    statistic: str  # one of STATISTICS

    @property
    def higher_is_better(self) -> bool:
        return self.statistic == "throughput"

    @property
    def latency(self) -> bool:
        return self.statistic in LATENCY

    @property
    def unit(self) -> str:
        return UNITS[self.statistic]

    @property
    def series_key(self) -> str:
        """The per-second series a batch length is fixed from."""
        if self.latency:
            return {"p50": "p50_ms", "p99": "p99_ms"}.get(self.statistic, "p95_ms")
        return "fail_rps" if self.statistic == "error_rate" else "rps"


def parse_metric(name: str) -> Metric:
    """``polls.p95``, ``all.error_rate``, ``throughput`` (= ``all.throughput``); ValueError naming the grammar when unknown."""
    group, _, statistic = name.rpartition(".")
    group = group or "all"
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r} in metric {name!r}; use one of {', '.join(GROUPS)}")
    if statistic not in STATISTICS:
        raise ValueError(f"unknown metric {statistic!r} in {name!r}; use one of {', '.join(STATISTICS)}")
    return Metric(name=name, group=group, statistic=statistic)


def completions(result: RunResult) -> np.ndarray:
    """When each request completed, seconds since t0."""
    return result.samples.t + result.samples.latency_ms.astype(np.float64) / 1000.0


def completed_in(result: RunResult, windows: list[tuple[float, float]], group: str = "all") -> int:
    """Requests of ``group`` that completed inside ``windows`` (throughput counts what the target delivered)."""
    done = completions(result)
    m = np.zeros(len(done), dtype=bool)
    for w in windows:
        m |= (done >= w[0]) & (done < w[1])
    if group != "all":
        m &= result.samples.mask(group=group)
    return int(m.sum())


def value(result: RunResult, metric: Metric, windows: list[tuple[float, float]]) -> tuple[float, int]:
    """The metric over ``windows``: latency and error rate on the requests of its group *started* there,
    throughput as requests *completed* there per second.  Returns (value, number of requests it rests on)."""
    samples = result.samples
    if metric.statistic == "throughput":
        span = sum(e - s for s, e in windows)
        n = completed_in(result, windows, metric.group)
        return (n / span if span > 0 else float("nan"), n)
    m = np.zeros(len(samples), dtype=bool)
    for w in windows:
        m |= samples.mask(window=w, group=metric.group)
    n = int(m.sum())
    if n == 0:
        return (float("nan"), 0)
    if metric.statistic == "error_rate":
        return (float(samples.failed[m].mean()), n)
    lat = samples.latency_ms[m].astype(np.float64)
    q = LATENCY[metric.statistic]
    return (float(lat.mean()) if q is None else stats.percentile(lat, q), n)


def format_value(value: float | None, unit: str) -> str:
    """A figure with its unit, as people read it: 212.4 ms, 0.83 %, 41.2 req/s."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "ratio":
        return f"{value * 100:.3g} %"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.3g} {unit}"
