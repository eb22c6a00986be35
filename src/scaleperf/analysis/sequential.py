"""Group-sequential decisions for a family of declared comparisons (pure: numpy and scipy, no I/O).

The replicate run is the unit.  Per claim, a Welch t statistic on the log replicate values of the two
configurations is looked at after every interleaved round, from ``Design.min_rounds`` to
``Design.max_rounds``.  The decision is read off a **repeated confidence interval** of the log ratio:
an interval that covers the true ratio at every look at once with probability ``1 - 2 alpha / K``
(K claims in the family), so any stopping rule built on it keeps its error rates for the whole procedure.

Per look the interval's two ends are one-sided bounds at the nominal level of a Lan-DeMets
alpha-spending boundary (Pocock-type spending by default, information fraction = rounds / max_rounds),
computed for a normal statistic by recursive numerical integration and carried over to the t
distribution of that look's Welch degrees of freedom by matching nominal p-values.  The benchmark
``benchmarks/bench_sequential_validity.py`` checks the whole procedure by simulation.

With ``d`` the log improvement of a over b in the claimed direction and ``delta = log(1 + min_effect)``:

* better / worse claims pass when the interval lies above 0 (a difference the claimed way) and still
  reaches ``delta``, and fail when it lies below ``delta`` (the claimed effect is ruled out; a difference the
  other way implies this), so one effect size serves pass and fail;
* same claims pass when the interval lies within ``(-delta, delta)`` (equivalence) and fail when it
  excludes 0 without lying within the margin.

Each wrong verdict has probability at most ``alpha / K`` over all looks: passing a better/worse claim
with no difference, failing one whose effect is ``min_effect`` or more (``2 alpha / K`` for failing an exactly
true "same"). A true effect between none and ``min_effect`` may end either way, and ends in a fail once the
interval is narrow enough to rule ``min_effect`` out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, special, stats

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
EXPECTED = ("better", "worse", "same")
SPENDING = ("pocock", "obrien-fleming", "equal")
PROJECT_LIMIT = 200  # rounds beyond which rounds_needed is not projected


@dataclass(frozen=True)
class Design:
    """The sequential plan: family-wise alpha, the looks, and how alpha is spent across them."""

    alpha: float = 0.05  # family-wise: each of K claims gets alpha / K per side of its interval
    min_rounds: int = 3  # the first look
    max_rounds: int = 10  # the last look
    spending: str = "pocock"  # Lan-DeMets Pocock-type, O'Brien-Fleming-type, or an equal split across looks

    def __post_init__(self) -> None:
        if not 2 <= self.min_rounds <= self.max_rounds:
            raise ValueError("need 2 <= min_rounds <= max_rounds")
        if self.spending not in SPENDING or not 0 < self.alpha < 1:
            raise ValueError(f"spending must be one of {SPENDING} and alpha in (0, 1)")

    @property
    def looks(self) -> range:
        return range(self.min_rounds, self.max_rounds + 1)


DEFAULT = Design()


def design_for(max_rounds: int | None = None) -> Design:
    """The default design with ``max_rounds`` rounds at most (``--replicates auto:MAX``)."""
    return DEFAULT if max_rounds is None else Design(min_rounds=DEFAULT.min_rounds, max_rounds=max_rounds)


@dataclass(frozen=True)
class Decision:
    """One claim's decision at one look."""

    outcome: str  # "pass" | "fail" | "inconclusive"
    ratio: float  # geometric mean of b / geometric mean of a (NaN without data)
    ci_low: float  # repeated confidence interval of that ratio (holds over every look)
    ci_high: float
    rounds_needed: int | None  # more rounds expected to decide; None when decided (or more rounds cannot help)
    reason: str  # one readable line


# ------------------------------------------------------------------------------------ boundaries
def spent(design: Design, tau: np.ndarray, level: float) -> np.ndarray:
    """Cumulative one-sided alpha spent by information fraction ``tau`` (Lan-DeMets spending functions)."""
    tau = np.clip(np.asarray(tau, dtype=np.float64), 0.0, 1.0)
    if design.spending == "pocock":
        return level * np.log1p((math.e - 1) * tau)
    if design.spending == "obrien-fleming":
        return 2 * stats.norm.sf(stats.norm.isf(level / 2) / np.sqrt(np.maximum(tau, 1e-12)))
    looks = np.asarray(list(design.looks), dtype=np.float64)  # equal: alpha / L more at each planned look
    return level * np.searchsorted(looks / design.max_rounds, tau, side="right") / len(looks)


@lru_cache(maxsize=64)
def nominal_levels(design: Design, level: float) -> tuple[float, ...]:
    """The one-sided nominal p at each look (min_rounds .. max_rounds) of a boundary spending ``level``.

    The boundary z_k of a normal statistic observed at information fractions tau_k = rounds / max_rounds,
    such that the chance of crossing it at look k and not before is the alpha spent between looks
    k-1 and k; found look by look by numerical integration of the Brownian-motion recursion
    (Armitage, McPherson and Rowe), on a 0.01 grid (within 1e-5 of the exact levels).
    """
    looks = np.asarray(list(design.looks), dtype=np.float64)
    taus = looks / design.max_rounds
    cum = spent(design, taus, level)
    increments = np.diff(np.concatenate([[0.0], cum]))
    h = 0.004
    out: list[float] = []
    x = f = None  # grid and sub-density of the score S = W(tau) not yet stopped
    for k, (tau, inc) in enumerate(zip(taus, increments, strict=True)):
        if k == 0:
            z = float(stats.norm.isf(inc))
            x = _grid(z * math.sqrt(tau), h)
            f = stats.norm.pdf(x / math.sqrt(tau)) / math.sqrt(tau)
        else:
            sd = math.sqrt(tau - taus[k - 1])
            w = np.full(x.size, x[1] - x[0])
            w[[0, -1]] /= 2  # trapezoid weights

            mass = w * f

            def crossing(zk, sd=sd, tau=tau, mass=mass, x=x):
                return float(np.sum(mass * special.ndtr((x - zk * math.sqrt(tau)) / sd)))

            z = math.inf if inc <= 0 else float(optimize.brentq(lambda zk, inc=inc: crossing(zk) - inc, -5.0, 40.0, xtol=1e-9))
            top = min(z * math.sqrt(tau), 12.0)
            y = _grid(top, h)
            f = np.exp(-0.5 * ((y[:, None] - x[None, :]) / sd) ** 2) @ mass / (sd * math.sqrt(2 * math.pi))
            x = y
        out.append(float(stats.norm.sf(z)))
    return tuple(out)


def _grid(top: float, h: float) -> np.ndarray:
    """Points from -8 to ``top`` (the boundary itself included) about ``h`` apart."""
    return np.linspace(-8.0, top, max(3, math.ceil((top + 8.0) / h) + 1))


def critical_t(design: Design, family_size: int, look: int | None, df: np.ndarray) -> np.ndarray:
    """The t quantile for each side of the repeated interval at ``look`` (None: a single fixed look)."""
    level = design.alpha / max(1, family_size)
    if look is None:
        p = level
    else:
        k = min(max(look, design.min_rounds), design.max_rounds) - design.min_rounds
        p = nominal_levels(design, level)[k]
    return stats.t.isf(p, np.maximum(df, 1e-9))


# ------------------------------------------------------------------------------------ statistics
def welch(la: np.ndarray, lb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Along the last axis: mean(lb) - mean(la), its standard error and Welch's degrees of freedom."""
    na, nb = la.shape[-1], lb.shape[-1]
    va = la.var(axis=-1, ddof=1) / na
    vb = lb.var(axis=-1, ddof=1) / nb
    se2 = va + vb
    with np.errstate(invalid="ignore", divide="ignore"):
        df = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    df = np.where(se2 > 0, df, na + nb - 2.0)
    return lb.mean(axis=-1) - la.mean(axis=-1), np.sqrt(se2), df


def _direction(expected: str, higher_is_better: bool) -> float:
    """The sign turning mean log(b) - mean log(a) into a's improvement in the claimed direction."""
    a_better = 1.0 if not higher_is_better else -1.0  # lower latency for a means log b - log a > 0
    return a_better if expected in ("better", "same") else -a_better


def _judge(expected: str, low: np.ndarray, high: np.ndarray, delta: float) -> np.ndarray:
    """pass / fail / inconclusive from the interval (low, high) of a's improvement d."""
    if expected == "same":
        passed = (low > -delta) & (high < delta)
        failed = ~passed & ((low > 0) | (high < 0))
    else:  # one effect size for both: a difference shown while min_effect is still possible passes; min_effect ruled out fails
        failed = high < delta
        passed = ~failed & (low > 0)
    return np.where(passed, PASS, np.where(failed, FAIL, INCONCLUSIVE))


def decide_arrays(
    a: np.ndarray,
    b: np.ndarray,
    *,
    expected: str,
    higher_is_better: bool,
    min_effect: float,
    family_size: int,
    look: int | None = None,
    design: Design = DEFAULT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vectorised core of :func:`decide` over stacked comparisons (replicates on the last axis, >= 2
    positive values per side): outcome, log ratio b/a, and the interval's ends on the log-ratio scale."""
    if expected not in EXPECTED:
        raise ValueError(f"expected must be one of {EXPECTED}, got {expected!r}")
    log_ba, se, df = welch(np.log(a), np.log(b))
    c = critical_t(design, family_size, look, df)
    low, high = log_ba - c * se, log_ba + c * se
    sign = _direction(expected, higher_is_better)
    d_low, d_high = (low, high) if sign > 0 else (-high, -low)
    outcome = _judge(expected, d_low, d_high, math.log1p(min_effect))
    if look is not None and look < design.min_rounds:
        outcome = np.full(np.shape(outcome), INCONCLUSIVE)
    return outcome, log_ba, low, high


def rounds_to_decide(
    log_ba: float,
    sd: float,
    n: int,
    *,
    expected: str,
    higher_is_better: bool,
    min_effect: float,
    family_size: int,
    design: Design,
    sequential: bool = True,
) -> int:
    """More rounds until the interval, centred where it is now and with the spread seen so far, would decide.

    Sequential: at the looks' levels, past the last look at the last look's level (as a fresh plan of that
    many rounds would need at least).  Not sequential: a fixed design of that many replicates (one look).
    Capped at PROJECT_LIMIT rounds.
    """
    for m in range(max(n + 1, design.min_rounds if sequential else 2), PROJECT_LIMIT + 1):
        se = sd * math.sqrt(2 / m)
        look = min(m, design.max_rounds) if sequential else None
        c = float(critical_t(design, family_size, look, np.asarray(2.0 * m - 2)))
        low, high = log_ba - c * se, log_ba + c * se
        sign = _direction(expected, higher_is_better)
        d_low, d_high = (low, high) if sign > 0 else (-high, -low)
        if _judge(expected, np.asarray(d_low), np.asarray(d_high), math.log1p(min_effect)) != INCONCLUSIVE:
            return m - n
    return PROJECT_LIMIT - n


def decide(
    a: Sequence[float],
    b: Sequence[float],
    *,
    expected: str,
    higher_is_better: bool,
    min_effect: float,
    family_size: int,
    look: int | None = None,
    design: Design = DEFAULT,
) -> Decision:
    """Decide the claim "a <expected> than b" (or "a same as b") from per-replicate values.

    ``look``: in a sequential campaign (``--replicates auto``) the rounds this pair took part in (for a pair
    that left the rounds, the round it was decided at); None for a fixed number of replicates, the one
    look of a fixed design, which spends the claim's whole alpha / K.  ``design``: the one the rounds ran
    with (:func:`design_for` ``auto:MAX``).
    """
    if expected not in EXPECTED:
        raise ValueError(f"expected must be one of {EXPECTED}, got {expected!r}")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    n = min(x.size, y.size)
    first = design.min_rounds if look is not None else 2
    nan = float("nan")
    if x.size < 2 or y.size < 2:
        need = max(first - n, 1)
        return Decision(INCONCLUSIVE, nan, nan, nan, need, f"{x.size} and {y.size} replicates; at least 2 per side are needed")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and x.min() > 0 and y.min() > 0):
        return Decision(
            INCONCLUSIVE, nan, nan, nan, None, "a replicate value is not positive; the ratio test needs positive values"
        )
    outcome, log_ba, low, high = decide_arrays(
        x, y, expected=expected, higher_is_better=higher_is_better, min_effect=min_effect, family_size=family_size, look=look,
        design=design,
    )  # fmt: skip
    outcome, log_ba, low, high = str(outcome), float(log_ba), float(low), float(high)
    ratio, ci = math.exp(log_ba), (math.exp(low), math.exp(high))
    sd = math.sqrt((np.log(x).var(ddof=1) + np.log(y).var(ddof=1)) / 2)
    level = 1 - 2 * design.alpha / max(1, family_size)
    kind = "repeated " if look is not None else ""
    where = f"ratio b/a {ratio:.3g}, {kind}{level:.1%} CI {ci[0]:.3g}-{ci[1]:.3g}, n {x.size}/{y.size}"
    if look is not None:
        where += f", look {look} of {design.min_rounds}-{design.max_rounds}"
    bound = 1 + min_effect
    if outcome == PASS:
        why = (
            f"the interval lies within 1/{bound:g} and {bound:g}"
            if expected == "same"
            else "a difference in the claimed direction"
        )
        return Decision(PASS, ratio, ci[0], ci[1], None, f"pass: {why}; {where}")
    if outcome == FAIL:
        why = f"the interval rules out the claimed {min_effect:.0%} effect"
        if expected == "same":
            why = f"a difference (the interval excludes 1) not shown to be within {min_effect:.0%}"
        return Decision(FAIL, ratio, ci[0], ci[1], None, f"fail: {why}; {where}")
    if look is not None and look < design.min_rounds:
        need = max(design.min_rounds - look, 1)
    else:
        need = rounds_to_decide(
            log_ba, sd, n, expected=expected, higher_is_better=higher_is_better, min_effect=min_effect,
            family_size=family_size, design=design, sequential=look is not None,
        )  # fmt: skip
    return Decision(
        INCONCLUSIVE, ratio, ci[0], ci[1], need, f"inconclusive: about {need} more round(s) expected to decide; {where}"
    )
