"""Statistics used by every verdict: one percentile definition, batch means, rank tests, effect sizes.

Everything here is pure and vectorised over leading axes where that matters, so that the validity
simulations in the unit tests run the exact functions the real comparison runs.  See docs/statistics.md.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

PERCENTILE_METHOD = "linear"  # numpy's default and k6's definition: interpolate at q*(n-1)
MAX_BATCH_CORRELATION = 0.1  # batch length: smallest at which adjacent batch means correlate at most this much
MIN_BATCH_S = 5  # never batch finer than this many seconds
MIN_BATCHES = 3  # never fewer batches than this in a window (caps the batch length)
MAX_RHO = 0.99  # lag-1 autocorrelation estimates are clipped to [0, MAX_RHO]
MIN_REPLICATES = 4  # two-sided Mann-Whitney U cannot reject at 0.05 with fewer per side (min p 0.029 at 4 v 4)
DEFAULT_POWER = 0.8  # power used for the minimum detectable effect and the replicates needed
MWU_EFFICIENCY = 3 / math.pi  # asymptotic relative efficiency of Mann-Whitney U against the t-test (normal data)
BOOTSTRAP_RESAMPLES = 4000  # resamples for the bootstrap confidence interval of a ratio
BOOTSTRAP_SEED = 20261129  # fixed, so that a report rebuilt from disk shows the same interval
MAX_REPLICATES_SEARCH = 200  # replicates_needed gives up above this


def percentile(values: np.ndarray | list[float], q: float) -> float:
    """The q-th percentile (q in 0..100) with numpy ``method="linear"``; NaN for no values."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return float("nan")
    return float(np.percentile(arr, q, method=PERCENTILE_METHOD))


# ------------------------------------------------------------------------------------ batch means
def lag1_autocorr(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Lag-1 autocorrelation along ``axis`` (the usual biased estimator); NaN where there is no variance."""
    x = np.asarray(x, dtype=np.float64)
    d = x - x.mean(axis=axis, keepdims=True)
    n = x.shape[axis]
    if n < 3:
        return np.full(np.delete(x.shape, axis % x.ndim), np.nan) if x.ndim > 1 else np.array(np.nan)
    head = np.take(d, np.arange(n - 1), axis=axis)
    tail = np.take(d, np.arange(1, n), axis=axis)
    den = (d * d).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (head * tail).sum(axis=axis) / np.where(den > 0, den, 1.0), np.nan)


def ar1_batch_correlation(rho: float | np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """Correlation of adjacent means of ``b`` consecutive values of an AR(1) series with lag-1 correlation ``rho``.

    cov(S1, S2) / var(S) with S a sum of b values:  rho (1 - rho^b)^2 / (b (1 - rho^2) - 2 rho (1 - rho^b)).
    """
    rho = np.clip(np.asarray(rho, dtype=np.float64), 0.0, MAX_RHO)
    b = np.asarray(b, dtype=np.float64)
    rb = rho**b
    num = rho * (1 - rb) ** 2
    den = b * (1 - rho**2) - 2 * rho * (1 - rb)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def batch_length_s(per_second: np.ndarray, window_s: float) -> int:
    """The batch length, fixed before any comparison from the per-second series of the window.

    Rule: estimate the lag-1 autocorrelation rho of the per-second series (hundreds of points, unlike
    a handful of batches), then take the smallest length b >= MIN_BATCH_S whose adjacent batch means
    would correlate at most MAX_BATCH_CORRELATION under an AR(1) model, capped so the window holds at
    least MIN_BATCHES batches.  ``per_second`` may be 2-D (one row per run): rho is then the mean over rows.
    """
    series = np.asarray(per_second, dtype=np.float64)
    rows = series.reshape(-1, series.shape[-1]) if series.ndim > 1 else series[None, :]
    rows = rows[np.isfinite(rows).all(axis=1)] if rows.size else rows
    r = lag1_autocorr(rows, axis=-1) if rows.shape[0] and rows.shape[-1] >= 3 else np.array([np.nan])
    r = np.atleast_1d(r)
    rho = float(np.nanmean(r)) if np.isfinite(r).any() else 0.0
    cap = max(MIN_BATCH_S, int(window_s // MIN_BATCHES))
    lengths = np.arange(MIN_BATCH_S, cap + 1)
    ok = ar1_batch_correlation(rho, lengths) <= MAX_BATCH_CORRELATION
    return int(lengths[np.argmax(ok)]) if ok.any() else cap


def batch_edges(window: tuple[float, float], batch_s: float) -> list[tuple[float, float]]:
    """Whole batches of ``batch_s`` seconds from the window's start; a trailing partial batch is dropped."""
    start, end = window
    k = int((end - start) // batch_s)
    return [(start + i * batch_s, start + (i + 1) * batch_s) for i in range(k)]


def batch_means(per_second: np.ndarray, batch_s: int) -> np.ndarray:
    """Means of consecutive whole batches of ``batch_s`` values along the last axis (trailing rest dropped)."""
    x = np.asarray(per_second, dtype=np.float64)
    k = x.shape[-1] // batch_s
    return x[..., : k * batch_s].reshape(*x.shape[:-1], k, batch_s).mean(axis=-1)


# ----------------------------------------------------------------------------------- two samples
def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sided Mann-Whitney U p-value along the last axis (exact without ties for small n, else normal)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.asarray(sps.mannwhitneyu(a, b, alternative="two-sided", axis=-1, method="auto").pvalue)


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cliff's delta P(a > b) - P(a < b) along the last axis; in [-1, 1]."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.sign(a[..., :, None] - b[..., None, :]).mean(axis=(-2, -1))


def holm(pvalues: list[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (reject H_i when adjusted p_i <= alpha); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def kruskal_p(*groups: np.ndarray) -> float:
    """Kruskal-Wallis H p-value across groups; NaN when fewer than two groups hold two values or all are tied."""
    usable = [np.asarray(g, dtype=np.float64) for g in groups if len(g) >= 2]
    if len(usable) < 2 or np.ptp(np.concatenate(usable)) == 0:
        return float("nan")
    return float(sps.kruskal(*usable).pvalue)


def bootstrap_ratio_ci(
    a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of mean(a) / mean(b).

    Each side is resampled with replacement on its own (the replicate runs are the units); NaN when
    either side is empty or a resampled mean of ``b`` is zero.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    ma = a[rng.integers(0, a.size, size=(resamples, a.size))].mean(axis=1)
    mb = b[rng.integers(0, b.size, size=(resamples, b.size))].mean(axis=1)
    if (mb <= 0).any():
        return (float("nan"), float("nan"))
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(ma / mb, [tail, 1 - tail])
    return (float(lo), float(hi))


def relative_sd(a: np.ndarray, b: np.ndarray) -> float:
    """Pooled run-to-run spread as a fraction of the level: the SD of the logs when every value is positive,
    else the pooled SD divided by the pooled mean (error rates can be 0).  NaN with fewer than 3 values."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    df = a.size + b.size - 2
    if df <= 0:
        return float("nan")
    positive = (a > 0).all() and (b > 0).all()
    xa, xb = (np.log(a), np.log(b)) if positive else (a, b)
    sd = math.sqrt(sum(float(((x - x.mean()) ** 2).sum()) for x in (xa, xb) if x.size) / df)
    if positive:
        return sd
    level = np.concatenate([a, b]).mean()
    return sd / level if level > 0 else float("nan")


def mde(rel_sd: float, n_a: int, n_b: int, *, alpha: float = 0.05, power: float = DEFAULT_POWER) -> float:
    """Minimum detectable relative effect (e.g. 0.2 = 20%) at this n, two-sided, on a log scale.

    ``rel_sd`` is :func:`relative_sd`.  Normal-theory approximation for a shift of the logs,
    (t_{1-alpha/2} + t_{power}) * sd * sqrt(1/n_a + 1/n_b),
    inflated by 1/sqrt(MWU_EFFICIENCY) for the rank test; returned as exp(shift) - 1.
    """
    if not math.isfinite(rel_sd) or n_a < 2 or n_b < 2:
        return float("nan")
    df = n_a + n_b - 2
    z = sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(power, df)
    shift = z * rel_sd * math.sqrt(1 / n_a + 1 / n_b) / math.sqrt(MWU_EFFICIENCY)
    return float(math.expm1(shift))


def replicates_needed(rel_sd: float, effect: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER) -> int | None:
    """Replicates per configuration needed to detect a relative ``effect`` (at least MIN_REPLICATES); None if > the search cap."""
    if not math.isfinite(rel_sd) or rel_sd <= 0:
        return MIN_REPLICATES
    for n in range(MIN_REPLICATES, MAX_REPLICATES_SEARCH + 1):
        if mde(rel_sd, n, n, alpha=alpha, power=power) <= effect:
            return n
    return None
