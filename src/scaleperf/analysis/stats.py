"""Statistics used by every verdict: one percentile definition, batch means, rank tests, effect sizes.

Everything here is pure and vectorised over leading axes where that matters, so that the validity
simulations in the unit tests run the exact functions the real comparison runs.  See docs/statistics.md.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats as sps

PERCENTILE_METHOD = "linear"  # numpy's default and k6's definition: interpolate at q*(n-1)
MAX_BATCH_CORRELATION = 0.1  # batch length: smallest at which adjacent batch means correlate at most this much
MIN_BATCH_S = 5  # never batch finer than this many seconds
MIN_BATCHES = 3  # never fewer batches than this in a window (caps the batch length)
MAX_RHO = 0.99  # lag-1 autocorrelation estimates are clipped to [0, MAX_RHO]
MIN_REPLICATES = 4  # per side, for one comparison at 0.05 (min p 2/70 = 0.029); families need more: min_replicates
DEFAULT_POWER = 0.8  # power used for the minimum detectable effect and the replicates needed
MWU_EFFICIENCY = 3 / math.pi  # asymptotic relative efficiency of Mann-Whitney U against the t-test (normal data)
MAX_REPLICATES_SEARCH = 200  # replicates_needed gives up above this
POWER_DRAWS = 4000  # simulated samples per power figure of the rank test at small n
POWER_SEED = 20261130  # fixed, so that the same replicate values always give the same minimum detectable effect
MAX_SIMULATED_POWER_N = 30  # above this many replicates per side, the normal-theory approximation is used


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


def ratio_ci(a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the ratio of the two configurations' levels, from their replicate values.

    With every value positive: a Welch t-interval of mean(log a) - mean(log b), exponentiated (the ratio of
    geometric means; run-to-run spread is multiplicative).  With a zero among them (error rates can be 0): a
    Welch t-interval of mean(a) / mean(b) by the delta method.  NaN with fewer than two values on a side or
    no spread to speak of.  docs/statistics.md gives the coverage, measured by simulation.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return (float("nan"), float("nan"))
    if (a > 0).all() and (b > 0).all():
        la, lb = np.log(a), np.log(b)
        d = la.mean() - lb.mean()
        va, vb = la.var(ddof=1) / a.size, lb.var(ddof=1) / b.size
        if va + vb == 0:
            return (float(math.exp(d)), float(math.exp(d)))
        df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
        half = float(sps.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(va + vb)
        return (float(math.exp(d - half)), float(math.exp(d + half)))
    ma, mb = a.mean(), b.mean()
    if mb <= 0:
        return (float("nan"), float("nan"))
    r = ma / mb
    va, vb = a.var(ddof=1) / a.size / mb**2, (r**2) * b.var(ddof=1) / b.size / mb**2
    if va + vb == 0:
        return (float(r), float(r))
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(va + vb)
    return (float(max(0.0, r - half)), float(r + half))


def ratio_estimate(a: np.ndarray, b: np.ndarray) -> float:
    """The ratio the interval of :func:`ratio_ci` is about: geometric means when every value is positive, else means."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return float("nan")
    if (a > 0).all() and (b > 0).all():
        return float(math.exp(np.log(a).mean() - np.log(b).mean()))
    ma, mb = float(a.mean()), float(b.mean())
    return ma / mb if mb > 0 else (math.inf if ma > 0 else 1.0)


# ------------------------------------------------------------------ distribution-free intervals
def quantile_ci(values: np.ndarray, q: float, *, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the q-th percentile (q in 0..100) from order statistics.

    The number of values below the true quantile is Binomial(n, q/100): the interval is
    [x_(l), x_(u)] with l the largest and u the smallest rank such that each tail outside holds at most
    (1 - confidence) / 2.  A bound the sample is too small to give is -inf / +inf: with few values a high
    percentile can be shown to be *above* a threshold long before it can be shown to be below one.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0:
        return (-math.inf, math.inf)
    p = q / 100
    tail = (1 - confidence) / 2
    k = np.arange(n + 1)
    cdf = sps.binom.cdf(k, n, p)  # P(fewer than or exactly k values below the quantile)
    # lower bound x_(l) (1-based): P(B <= l - 1) <= tail; largest such l
    ok_lo = np.flatnonzero(cdf[:n] <= tail)
    lo = float(x[ok_lo[-1]]) if ok_lo.size else -math.inf  # index l-1 = k
    # upper bound x_(u): P(B >= u) <= tail, i.e. 1 - cdf(u - 1) <= tail; smallest such u
    ok_hi = np.flatnonzero(1 - cdf[:n] <= tail)
    hi = float(x[ok_hi[0]]) if ok_hi.size else math.inf  # index u-1 = k
    return (lo, hi)


def proportion_ci(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact binomial) interval of a proportion, k of n."""
    if n <= 0:
        return (0.0, 1.0)
    tail = (1 - confidence) / 2
    lo = 0.0 if k == 0 else float(sps.beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - tail, k + 1, n - k))
    return (lo, hi)


def rate_ci(k: int, span_s: float, *, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) Poisson interval of a rate: k events over ``span_s`` seconds."""
    if span_s <= 0:
        return (0.0, math.inf)
    tail = (1 - confidence) / 2
    lo = 0.0 if k == 0 else float(sps.chi2.ppf(tail, 2 * k)) / 2
    hi = float(sps.chi2.ppf(1 - tail, 2 * k + 2)) / 2
    return (lo / span_s, hi / span_s)


def mean_ci(values: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """t-interval of a mean (requests are many; the central limit theorem carries it)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return (-math.inf, math.inf)
    half = float(sps.t.ppf(0.5 + confidence / 2, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return (float(x.mean() - half), float(x.mean() + half))


def quantile_sample_needed(q: float, *, confidence: float = 0.95, limit: int = 100_000) -> int:
    """The fewest values whose largest can bound the q-th percentile from above at ``confidence`` (one side):
    n with (q/100)^n <= (1 - confidence) / 2.  Fewer, and no sample can show the percentile below a threshold."""
    p = q / 100
    tail = (1 - confidence) / 2
    if p <= 0:
        return 1
    return min(limit, math.ceil(math.log(tail) / math.log(p)))


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


def min_exact_mwu_p(n_a: int, n_b: int) -> float:
    """The smallest p-value the exact two-sided Mann-Whitney U test can give at ``n_a`` v ``n_b``: 2 / C(n_a + n_b, n_a)."""
    if n_a < 1 or n_b < 1:
        return 1.0
    return min(1.0, 2 / math.comb(n_a + n_b, n_a))


def min_replicates(family_size: int = 1, alpha: float = 0.05) -> int:
    """Replicates per side below which no comparison in a family of ``family_size`` can be significant.

    Holm's first step compares the smallest p-value with alpha / family_size, and a comparison judged on
    its own (the others' p-values unknown) never gets a looser threshold: this is the smallest n whose
    best possible exact two-sided Mann-Whitney p at n v n, 2 / C(2n, n), is at most alpha / family_size.
    4 for one comparison at alpha 0.05 (2/70 = 0.029), 5 for two to six (2/252 = 0.0079), 6 for up to 23.
    """
    threshold = alpha / max(1, int(family_size))
    n = 1
    while min_exact_mwu_p(n, n) > threshold:
        n += 1
    return n


def _mwu_p_by_u(n_a: int, n_b: int) -> np.ndarray:
    """scipy's two-sided Mann-Whitney p-value for every U statistic (0 .. n_a n_b) at n_a v n_b without ties."""
    return _mwu_p_table(int(n_a), int(n_b))


@functools.cache
def _mwu_p_table(n_a: int, n_b: int) -> np.ndarray:
    u = np.arange(n_a * n_b + 1)
    wins = np.clip(u[:, None] - n_b * np.arange(n_a)[None, :], 0, n_b)  # a's i-th value beats this many of b's
    a = wins - 0.5  # b's values are 0 .. n_b - 1: a value k - 0.5 beats exactly k of them
    b = np.broadcast_to(np.arange(n_b, dtype=np.float64), (len(u), n_b))
    p = np.asarray(sps.mannwhitneyu(a, b, alternative="two-sided", axis=-1, method="auto").pvalue)
    p.setflags(write=False)  # cached and shared
    return p


@functools.cache
def _power_draws(n_a: int, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(POWER_SEED)
    draws = rng.standard_normal((POWER_DRAWS, n_a)), rng.standard_normal((POWER_DRAWS, n_b))
    for x in draws:
        x.setflags(write=False)  # cached and shared
    return draws


def mwu_power(shift_sd: float, n_a: int, n_b: int, threshold: float) -> float:
    """Power of the two-sided Mann-Whitney test (scipy's p, as the comparison computes it) at p <= ``threshold``,
    for normal samples whose means differ by ``shift_sd`` standard deviations; simulated with a fixed seed."""
    za, zb = _power_draws(int(n_a), int(n_b))
    u = (za[:, :, None] > zb[:, None, :] + shift_sd).sum(axis=(1, 2))
    return float((_mwu_p_by_u(n_a, n_b)[u] <= threshold).mean())


@functools.cache
def _detectable_shift_sd(n_a: int, n_b: int, threshold: float, power: float) -> float:
    """The smallest shift, in standard deviations, that the rank test detects with ``power``; inf if none does."""
    if _mwu_p_by_u(n_a, n_b).min() > threshold:
        return float("inf")
    lo, hi = 0.0, 1.0
    while mwu_power(hi, n_a, n_b, threshold) < power:
        lo, hi = hi, 2 * hi
        if hi > 64:
            return float("inf")
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mwu_power(mid, n_a, n_b, threshold) < power else (lo, mid)
    return hi


def mde(rel_sd: float, n_a: int, n_b: int, *, alpha: float = 0.05, power: float = DEFAULT_POWER, family_size: int = 1) -> float:
    """Minimum detectable relative effect (e.g. 0.2 = 20%) at this n, two-sided, on a log scale, returned
    as exp(shift) - 1, at the family's worst-case Holm threshold alpha / family_size.

    ``rel_sd`` is :func:`relative_sd`, taken as the standard deviation of normal log replicate values.  Up to
    MAX_SIMULATED_POWER_N per side the shift is where the Mann-Whitney test itself, with the p-values
    scipy gives at this n, reaches ``power`` (:func:`mwu_power`); the discreteness of the exact test at
    a handful of replicates matters there.  Beyond, the normal-theory approximation
    (t_{1-alpha/(2 m)} + t_{power}) * sd * sqrt(1/n_a + 1/n_b), inflated by 1/sqrt(MWU_EFFICIENCY) for
    the rank test.  Infinite when a side has fewer than :func:`min_replicates`: no effect, however
    large, can be significant there.
    """
    if not math.isfinite(rel_sd) or n_a < 2 or n_b < 2:
        return float("nan")
    if min(n_a, n_b) < min_replicates(family_size, alpha):
        return float("inf")
    per_test = alpha / max(1, int(family_size))
    if max(n_a, n_b) <= MAX_SIMULATED_POWER_N:
        shift = _detectable_shift_sd(int(n_a), int(n_b), per_test, power) * rel_sd
        return float(math.expm1(shift)) if math.isfinite(shift) else float("inf")
    df = n_a + n_b - 2
    z = sps.t.ppf(1 - per_test / 2, df) + sps.t.ppf(power, df)
    shift = z * rel_sd * math.sqrt(1 / n_a + 1 / n_b) / math.sqrt(MWU_EFFICIENCY)
    return float(math.expm1(shift))


def replicates_needed(
    rel_sd: float, effect: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER, family_size: int = 1
) -> int | None:
    """Replicates per configuration needed to detect a relative ``effect`` in a family of ``family_size``
    comparisons (at least :func:`min_replicates`); None if more than MAX_REPLICATES_SEARCH."""
    least = min_replicates(family_size, alpha)
    if not math.isfinite(rel_sd) or rel_sd <= 0:
        return least
    for n in range(least, MAX_REPLICATES_SEARCH + 1):
        if mde(rel_sd, n, n, alpha=alpha, power=power, family_size=family_size) <= effect:
            return n
    return None
