"""Per-second series computed from the raw samples (not from Locust's rounded buckets).

Second ``i`` holds the requests that started in ``[i, i+1)`` seconds after the run's start; its
percentiles are exact (numpy ``method="linear"``, the definition analysis uses everywhere).
"""

from __future__ import annotations

import numpy as np

from scaleperf.results import SERIES_KEYS, Samples

PERCENTILES = (50.0, 95.0, 99.0)  # the per-second latency percentiles, in SERIES_KEYS order


def per_second(
    samples: Samples,
    seconds: int,
    *,
    users: np.ndarray | None = None,
    deploy_users: np.ndarray | None = None,
    gen_cpu_pct: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The ``SERIES_KEYS`` series over ``seconds`` whole seconds (NaN percentiles in a second with no requests)."""
    n = max(int(seconds), 0)
    sec = np.floor(samples.t).astype(np.int64)
    inside = (sec >= 0) & (sec < n)
    sec, lat, failed = sec[inside], samples.latency_ms[inside], samples.failed[inside]
    rps = np.bincount(sec, minlength=n)[:n].astype(np.float64)
    fail_rps = np.bincount(sec, weights=failed.astype(np.float64), minlength=n)[:n]
    pct = np.full((len(PERCENTILES), n), np.nan)
    if len(sec):
        order = np.lexsort((lat, sec))
        sec_sorted, lat_sorted = sec[order], lat[order].astype(np.float64)
        bounds = np.searchsorted(sec_sorted, np.arange(n + 1))
        for i in np.flatnonzero(rps):
            pct[:, i] = np.percentile(lat_sorted[bounds[i] : bounds[i + 1]], PERCENTILES, method="linear")
    series = {
        "t": np.arange(n, dtype=np.float64),
        "users": _fit(users, n),
        "deploy_users": _fit(deploy_users, n),
        "rps": rps,
        "fail_rps": fail_rps,
        "p50_ms": pct[0],
        "p95_ms": pct[1],
        "p99_ms": pct[2],
        "gen_cpu_pct": _fit(gen_cpu_pct, n),
    }
    assert tuple(series) == SERIES_KEYS
    return series


def _fit(values: np.ndarray | None, n: int) -> np.ndarray:
    """``values`` cut or padded (with NaN) to ``n`` seconds."""
    out = np.full(n, np.nan)
    if values is not None:
        v = np.asarray(values, dtype=np.float64)[:n]
        out[: len(v)] = v
    return out
