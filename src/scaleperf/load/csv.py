"""Locust-format CSV files (``_stats.csv``, ``_stats_history.csv``, ``_failures.csv``) from the raw samples.

The columns are Locust's own, so tools that read ``locust --csv`` output read these; the numbers are exact
(percentiles by numpy ``method="linear"``, not Locust's buckets) and the history has one row per second.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from scaleperf.results import Samples

PREFIX = "locust"  # files are <out_dir>/locust_stats.csv etc., as `locust --csv locust` names them
PERCENTILES = (0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0)  # Locust's PERCENTILES_TO_REPORT
PERCENTILE_COLUMNS = [f"{int(p * 100) if (p * 100).is_integer() else round(100 * p, 6)}%" for p in PERCENTILES]
STATS_COLUMNS = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *PERCENTILE_COLUMNS,
]
HISTORY_COLUMNS = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *PERCENTILE_COLUMNS,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
]
FAILURE_COLUMNS = ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]


def _fmt(x: float) -> str:
    return "N/A" if x is None or not np.isfinite(x) else f"{x:.3f}".rstrip("0").rstrip(".")


def _row(kind: str, name: str, sel: Samples, duration_s: float) -> list[str]:
    n = len(sel)
    lat = sel.latency_ms.astype(np.float64)
    fails = int(sel.failed.sum())
    if n:
        pct = np.percentile(lat, [p * 100 for p in PERCENTILES], method="linear")
        stats = [np.median(lat), lat.mean(), lat.min(), lat.max(), sel.size.astype(np.float64).mean()]
    else:
        pct, stats = [np.nan] * len(PERCENTILES), [np.nan] * 5
    span = max(duration_s, 1e-9)
    return [kind, name, str(n), str(fails), *map(_fmt, stats), _fmt(n / span), _fmt(fails / span), *map(_fmt, pct)]


def write(out_dir: Path, samples: Samples, methods: dict[str, str], series: dict[str, np.ndarray], t0: float) -> list[Path]:
    """Write the three CSV files into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    duration = float(len(series.get("t", ()))) or (float(samples.t.max()) if len(samples) else 0.0)
    paths = [out_dir / f"{PREFIX}_stats.csv", out_dir / f"{PREFIX}_stats_history.csv", out_dir / f"{PREFIX}_failures.csv"]

    with open(paths[0], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(STATS_COLUMNS)
        for i, name in sorted(enumerate(samples.names), key=lambda x: (methods.get(x[1], ""), x[1])):
            w.writerow(_row(methods.get(name, ""), name, samples.select(samples.name == i), duration))
        w.writerow(_row("", "Aggregated", samples, duration))

    with open(paths[1], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HISTORY_COLUMNS)
        order = np.argsort(samples.t, kind="stable")
        ordered = samples.select(order)
        bounds = np.searchsorted(ordered.t, np.arange(len(series.get("t", ())) + 1, dtype=np.float64))
        running = _Running()
        for i, t in enumerate(series.get("t", ())):
            now = ordered.select(slice(bounds[i], bounds[i + 1]))
            running.add(now)
            users = series["users"][i]
            current = _row("", "Aggregated", now, 1.0)
            w.writerow(
                [str(int(t0 + t + 1)), "0" if not np.isfinite(users) else str(int(users)), "", "Aggregated",
                 current[9], current[10], *current[11:], *running.totals()]
            )  # fmt: skip

    with open(paths[2], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FAILURE_COLUMNS)
        failed = samples.select(samples.failed)
        pairs = np.unique(np.stack([failed.name.astype(np.int64), failed.error.astype(np.int64)]), axis=1) if len(failed) else []
        for name_i, err_i in np.asarray(pairs).T if len(failed) else []:
            m = (failed.name == name_i) & (failed.error == err_i)
            name = samples.names[name_i]
            first, last = (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + x)) for x in (failed.t[m].min(), failed.t[m].max())
            )
            w.writerow([methods.get(name, ""), name, samples.error_kinds[err_i], int(m.sum()), first, last])
    return paths


class _Running:
    """Cumulative totals for the history's "Total" columns; the median from a fine log histogram (0.1 % bins)."""

    EDGES = np.geomspace(0.001, 1e6, 13_816)  # ms; consecutive edges 0.1 % apart

    def __init__(self) -> None:
        self.hist = np.zeros(len(self.EDGES) + 1, dtype=np.int64)
        self.n = self.fails = 0
        self.lat_sum = self.size_sum = 0.0
        self.lo, self.hi = np.inf, -np.inf

    def add(self, sel: Samples) -> None:
        if not len(sel):
            return
        lat = sel.latency_ms.astype(np.float64)
        self.hist += np.bincount(np.searchsorted(self.EDGES, lat), minlength=len(self.hist))
        self.n += len(sel)
        self.fails += int(sel.failed.sum())
        self.lat_sum += float(lat.sum())
        self.size_sum += float(sel.size.astype(np.float64).sum())
        self.lo, self.hi = min(self.lo, float(lat.min())), max(self.hi, float(lat.max()))

    def totals(self) -> list[str]:
        if not self.n:
            return ["0", "0", "N/A", "N/A", "N/A", "N/A", "N/A"]
        k = int(np.searchsorted(np.cumsum(self.hist), (self.n + 1) // 2))
        median = self.EDGES[min(k, len(self.EDGES) - 1)]
        return [
            str(self.n),
            str(self.fails),
            *map(_fmt, (median, self.lat_sum / self.n, self.lo, self.hi, self.size_sum / self.n)),
        ]
