"""The one place a comparison is decided: two sides' replicate values and a claim in, an outcome out.

Every comparison verdict (the perf tests, the results document, the session summary, ``scaleperf report``)
is decided by :func:`decide` and nothing else, so replacing the test here replaces it everywhere.

Today's test: two-sided Mann-Whitney U on the replicate values, its p-value multiplied by the family size
(Holm's first step with the other claims' p-values unknown, which is never looser than Holm over the whole
family), and a Welch t-interval of the ratio on the log replicate values at the per-claim level
``1 - alpha / family_size``.  One effect size, the claim's ``min_effect`` ``e``, serves pass and fail alike:

* ``better`` / ``worse``: **pass** when the difference is significant in the claimed direction and the
  interval still allows an effect of ``e``; **fail** on a significant difference the other way, or an
  interval that rules out ``e`` (it lies wholly on the near side of the claimed ratio ``1 + e`` or
  ``1 / (1 + e)``);
* ``same``: **pass** when the interval lies within ``[1 / (1 + e), 1 + e]``; **fail** when it lies wholly
  outside; otherwise inconclusive.

Anything else is inconclusive, with the replicates per configuration that would detect ``e``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scaleperf.analysis import stats
from scaleperf.analysis.verdict import (
    BETTER,
    FAIL,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    NO_MEANINGFUL_DIFFERENCE,
    NOT_ENOUGH_DATA,
    PASS,
    WORSE,
)

DEFAULT_ALPHA = 0.05  # family-wise error rate over the declared comparisons
EXPECT = ("better", "worse", "same")


@dataclass(frozen=True)
class Claim:
    """What is claimed about ``a`` against ``b``."""

    expect: str  # "better" | "worse" | "same"
    higher_is_better: bool  # throughput: higher is better; latency and error rate: lower
    min_effect: float  # the one effect size: a is (1 + e) times better, or within (1 + e) for "same"


@dataclass(frozen=True)
class Decision:
    """What :func:`decide` concluded, with every figure behind it."""

    outcome: str  # PASS | FAIL | INCONCLUSIVE
    result: str  # what the data say: BETTER | WORSE | NO_DIFFERENCE | NO_MEANINGFUL_DIFFERENCE | NOT_ENOUGH_DATA
    ratio: float | None  # a / b (geometric means when every value is positive)
    interval: tuple[float, float] | None  # confidence interval of the ratio, at ``confidence``
    confidence: float
    replicates_needed: int | None  # per configuration, to detect ``min_effect``; None above the search limit
    p_value: float | None  # two-sided Mann-Whitney U
    p_adjusted: float | None  # family-adjusted
    cliffs_delta: float | None
    mde: float | None  # minimum detectable effect at this n (80 % power)
    min_replicates: int  # below this per side nothing can be significant in this family
    against: str | None  # why the data contradict the claim (fail), else None
    detail: str  # the figures and the why, in words


def claimed_ratio(claim: Claim) -> float | None:
    """The ratio a / b at which a better/worse claim's effect is reached (None for "same")."""
    if claim.expect == "same":
        return None
    a_higher = (claim.expect == "better") == claim.higher_is_better
    return 1 + claim.min_effect if a_higher else 1 / (1 + claim.min_effect)


def _clean(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def decide(values_a, values_b, claim: Claim, family_size: int, *, alpha: float = DEFAULT_ALPHA) -> Decision:
    """Decide ``claim`` about side a against side b from their per-replicate values, in a family of
    ``family_size`` declared comparisons at family-wise level ``alpha``."""
    if claim.expect not in EXPECT:
        raise ValueError(f"unknown claim {claim.expect!r}; use one of {', '.join(EXPECT)}")
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    family = max(1, int(family_size))
    n_a, n_b = a.size, b.size
    least = stats.min_replicates(family, alpha)
    confidence = 1 - alpha / family
    e = claim.min_effect
    rel_sd = stats.relative_sd(a, b)
    needed = stats.replicates_needed(rel_sd, e, alpha=alpha, family_size=family)
    more = needed or f"more than {stats.MAX_REPLICATES_SEARCH}"
    mde = stats.mde(rel_sd, n_a, n_b, alpha=alpha, family_size=family)
    ratio = stats.ratio_estimate(a, b) if n_a and n_b else float("nan")
    p = float(stats.mann_whitney_p(a, b)) if n_a and n_b else float("nan")
    p_adj = min(1.0, p * family) if math.isfinite(p) else float("nan")
    delta = float(stats.cliffs_delta(a, b)) if n_a and n_b else float("nan")
    lo, hi = stats.ratio_ci(a, b, confidence=confidence)
    interval = (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None
    band = (1 / (1 + e), 1 + e)

    def made(outcome: str, result: str, against: str | None, detail: str) -> Decision:
        return Decision(
            outcome=outcome,
            result=result,
            ratio=_clean(ratio),
            interval=interval,
            confidence=confidence,
            replicates_needed=needed,
            p_value=_clean(p),
            p_adjusted=_clean(p_adj),
            cliffs_delta=_clean(delta),
            mde=_clean(mde),
            min_replicates=least,
            against=against,
            detail=detail,
        )

    if min(n_a, n_b) < least:
        detail = (
            f"{n_a} and {n_b} usable replicates; with {family} declared comparison{'s' if family > 1 else ''} "
            f"Mann-Whitney needs at least {least} per side to reach adjusted p <= {alpha:g}; "
            f"about {more} replicates per configuration would detect {e:.0%}"
        )
        return made(INCONCLUSIVE, NOT_ENOUGH_DATA, None, detail)

    significant = math.isfinite(p_adj) and p_adj <= alpha
    within = interval is not None and band[0] < lo and hi < band[1]
    if significant and ratio != 1:
        result = NO_MEANINGFUL_DIFFERENCE if within else (BETTER if (ratio > 1) == claim.higher_is_better else WORSE)
    else:
        result = NO_DIFFERENCE
    shown = f"CI {_fmt(lo)}-{_fmt(hi)}" if interval else "no interval"
    numbers = f"ratio {_fmt(ratio)} ({confidence:.4g} {shown}), adjusted p {_fmt(p_adj, 2)}, Cliff's delta {_fmt(delta, 2)}"
    numbers += f", n {n_a}/{n_b}"
    against = None
    if claim.expect == "same":
        if interval is not None and (lo >= band[1] or hi <= band[0]):
            against = f"the interval of the ratio lies wholly outside the {e:.0%} equivalence band"
            outcome = FAIL
        elif within:
            outcome = PASS
        else:
            outcome = INCONCLUSIVE
    else:
        bound = claimed_ratio(claim)
        assert bound is not None
        claims_higher = bound > 1
        opposite = significant and ratio != 1 and (ratio < 1) == claims_higher
        ruled_out = interval is not None and (hi < bound if claims_higher else lo > bound)
        if opposite:
            against = "a significant difference in the opposite direction"
        elif ruled_out:
            against = f"the interval of the ratio rules out the claimed {e:.0%} effect (ratio {bound:.3g})"
        if against:
            outcome = FAIL
        elif significant and ratio != 1 and (ratio > 1) == claims_higher:
            outcome = PASS
        else:
            outcome = INCONCLUSIVE
    detail = numbers
    if against:
        detail += f"; against the claim: {against}"
    elif outcome == INCONCLUSIVE:
        if needed is None or needed > min(n_a, n_b):
            detail += f"; about {more} replicates per configuration would detect {e:.0%}"
        else:
            detail += f"; the interval still allows {e:.0%}, more replicates would narrow it"
    return made(outcome, result, against, detail)
