"""The throughput-against-users curve's cross-checks for a saturation point: a Universal Scalability Law fit
and the curve's knee (Kneedle).  See :mod:`scaleperf.analysis.saturation`."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from scaleperf.analysis.verdict import UslFit

USL_MIN_POINTS = 4  # steps needed before a USL fit means anything
USL_PEAK_HORIZON = 2.0  # a USL peak beyond this multiple of the largest step is reported as "no peak"
KAPPA_EPS = 1e-9  # kappa below this is zero (Amdahl: no retrograde region)
SIGMA_EPS = 1e-6  # sigma below this is zero (no throughput ceiling)
KNEE_MIN_DISTANCE = 0.05  # Kneedle: a difference curve peaking lower than this means the curve has no knee


def usl(n: np.ndarray, lam: float, sigma: float, kappa: float) -> np.ndarray:
    """Universal Scalability Law: X(N) = lam*N / (1 + sigma*(N-1) + kappa*N*(N-1))."""
    n = np.asarray(n, dtype=np.float64)
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def fit_usl(users: np.ndarray, rps: np.ndarray) -> UslFit | None:
    """Least-squares USL fit (sigma, kappa >= 0); None with too few points or when the fit fails."""
    n = np.asarray(users, dtype=np.float64)
    x = np.asarray(rps, dtype=np.float64)
    ok = np.isfinite(n) & np.isfinite(x) & (n > 0)
    n, x = n[ok], x[ok]
    if len(n) < USL_MIN_POINTS or x.max() <= 0:
        return None
    lam0 = float(x[0] / n[0]) if x[0] > 0 else float(x.max() / n.max())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (lam, sigma, kappa), _ = curve_fit(usl, n, x, p0=[lam0, 0.01, 1e-5], bounds=([0, 0, 0], [np.inf, 1, 1]), maxfev=20000)
    except (RuntimeError, ValueError):
        return None
    resid = x - usl(n, lam, sigma, kappa)
    ss_tot = float(((x - x.mean()) ** 2).sum())
    r2 = 1 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    peak = math.sqrt((1 - sigma) / kappa) if kappa > KAPPA_EPS and sigma < 1 else None
    if peak is not None and peak > USL_PEAK_HORIZON * n.max():
        peak = None
    return UslFit(
        lam=float(lam),
        sigma=float(sigma),
        kappa=float(kappa),
        r_squared=r2,
        peak_users=peak,
        peak_rps=float(usl(np.array([peak]), lam, sigma, kappa)[0]) if peak is not None else None,
        ceiling_rps=float(lam / sigma) if sigma > SIGMA_EPS else None,
    )


def knee(users: np.ndarray, rps: np.ndarray) -> float | None:
    """The knee of a concave, increasing throughput curve (Kneedle, offline, single knee).

    Normalise both axes to [0, 1]; the knee is where y - x is largest.  None when that difference never
    reaches KNEE_MIN_DISTANCE (a straight or convex curve has no knee).
    """
    n = np.asarray(users, dtype=np.float64)
    x = np.asarray(rps, dtype=np.float64)
    if len(n) < 3 or np.ptp(n) <= 0 or np.ptp(x) <= 0:
        return None
    xn = (n - n.min()) / np.ptp(n)
    yn = (x - x.min()) / np.ptp(x)
    d = yn - xn
    i = int(np.argmax(d))
    return float(n[i]) if d[i] >= KNEE_MIN_DISTANCE else None
