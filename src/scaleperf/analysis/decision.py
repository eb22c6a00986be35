"""The one place a comparison is decided: two sides' replicate values and a claim in, an outcome out.

Every comparison verdict (the perf tests, the results document, the session summary, ``scaleperf report``,
and the rounds of ``--replicates auto``) is decided by :func:`decide` and nothing else.

The test is :func:`scaleperf.analysis.sequential.decide`: Welch's t on the log replicate values, read off a
confidence interval of the ratio whose two ends are one-sided bounds at ``alpha / family_size`` each. A fixed
number of replicates looks once (``look=None``: the claim's whole share of alpha); a sequential campaign looks
after every round and its interval is a repeated one, which holds at every look at once. One effect size,
the claim's ``min_effect`` ``e``, serves pass and fail alike:

* ``better`` / ``worse``: **pass** when the interval shows a difference in the claimed direction; **fail**
  when it rules out an effect of ``e`` (a difference the other way rules it out too);
* ``same``: **pass** when the interval lies within ``[1 / (1 + e), 1 + e]``; **fail** when it excludes 1
  without lying within that band.

Anything else is inconclusive, with the replicates per configuration the interval would need to decide.
Mann-Whitney's p (family-adjusted) and Cliff's delta are reported beside it as descriptions of the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scaleperf.analysis import sequential, stats
from scaleperf.analysis.verdict import (
    BETTER,
    FAIL,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    NO_MEANINGFUL_DIFFERENCE,
    NOT_ENOUGH_DATA,
    WORSE,
)

DEFAULT_ALPHA = 0.05  # family-wise error rate over the declared comparisons
EXPECT = ("better", "worse", "same")
MIN_PER_SIDE = 2  # a fixed design needs two replicates per side for an interval at all
# Run-to-run spread (SD of log replicate values) assumed to project the rounds a comparison needs when it has
# too few replicates to measure its own: the one measured on the miniature (docs/statistics.md).
PLANNING_LOG_SD = 0.155


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
    confidence: float  # 1 - 2 alpha / family: each end a one-sided bound at alpha / family
    replicates_needed: int | None  # per configuration, for the interval to decide; None once decided
    p_value: float | None  # two-sided Mann-Whitney U (descriptive; the decision is the interval's)
    p_adjusted: float | None  # family-adjusted
    cliffs_delta: float | None
    mde: float | None  # minimum detectable effect at this n (80 % power)
    min_replicates: int  # below this per side the interval cannot decide (the first look of a sequential plan)
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


def decide(
    values_a,
    values_b,
    claim: Claim,
    family_size: int,
    *,
    alpha: float = DEFAULT_ALPHA,
    look: int | None = None,
    design: sequential.Design | None = None,
) -> Decision:
    """Decide ``claim`` about side a against side b from their per-replicate values, in a family of
    ``family_size`` declared comparisons at family-wise level ``alpha``. ``look`` and ``design``: the round
    and the plan of a sequential campaign (``--replicates auto``); None for a fixed number of replicates."""
    if claim.expect not in EXPECT:
        raise ValueError(f"unknown claim {claim.expect!r}; use one of {', '.join(EXPECT)}")
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    family = max(1, int(family_size))
    n_a, n_b = a.size, b.size
    plan = design or sequential.Design(alpha=alpha)
    if plan.alpha != alpha:
        plan = sequential.Design(alpha=alpha, min_rounds=plan.min_rounds, max_rounds=plan.max_rounds, spending=plan.spending)
    least = plan.min_rounds if look is not None else MIN_PER_SIDE
    confidence = 1 - 2 * alpha / family
    e = claim.min_effect
    seq = sequential.decide(
        a, b, expected=claim.expect, higher_is_better=claim.higher_is_better, min_effect=e, family_size=family,
        look=look, design=plan,
    )  # fmt: skip
    ratio = 1 / seq.ratio if math.isfinite(seq.ratio) and seq.ratio > 0 else float("nan")  # a / b
    interval = (1 / seq.ci_high, 1 / seq.ci_low) if math.isfinite(seq.ci_low) and seq.ci_low > 0 else None
    rel_sd = stats.relative_sd(a, b)
    mde = stats.mde(rel_sd, n_a, n_b, alpha=alpha, family_size=family)
    p = float(stats.mann_whitney_p(a, b)) if n_a and n_b else float("nan")
    p_adj = min(1.0, p * family) if math.isfinite(p) else float("nan")
    delta = float(stats.cliffs_delta(a, b)) if n_a and n_b else float("nan")
    needed = min(n_a, n_b) + seq.rounds_needed if seq.outcome == INCONCLUSIVE and seq.rounds_needed is not None else None
    band = (1 / (1 + e), 1 + e)
    if interval is None or min(n_a, n_b) < least:
        result = NOT_ENOUGH_DATA
    elif interval[0] > 1 or interval[1] < 1:
        if band[0] < interval[0] and interval[1] < band[1]:
            result = NO_MEANINGFUL_DIFFERENCE
        else:
            result = BETTER if (ratio > 1) == claim.higher_is_better else WORSE
    else:
        result = NO_DIFFERENCE
    why = seq.reason.split(";", 1)[0].split(": ", 1)[-1]
    against = why if seq.outcome == FAIL else None
    if min(n_a, n_b) < least:
        why = f"{n_a} and {n_b} usable replicates: at least {least} per side are needed before the interval can decide"
        if n_a and n_b and np.all(a > 0) and np.all(b > 0):
            auto = sequential.design_for(None)
            more = sequential.rounds_to_decide(
                float(np.log(b).mean() - np.log(a).mean()), PLANNING_LOG_SD, min(n_a, n_b), expected=claim.expect,
                higher_is_better=claim.higher_is_better, min_effect=e, family_size=family, design=auto,
            )  # fmt: skip
            needed = min(n_a, n_b) + more
            why += (
                f"; at the miniature's measured run-to-run spread (log SD {PLANNING_LOG_SD:g}) and the ratio seen so "
                f"far, about {needed} rounds of --replicates auto would decide"
            )
    elif seq.outcome == INCONCLUSIVE and needed is not None:
        unit = "rounds in all" if look is not None else "replicates per configuration"
        why = f"the interval cannot tell yet; about {needed} {unit} would decide"
    shown = f"{confidence:.4g} CI {_fmt(interval[0])}-{_fmt(interval[1])}" if interval else "no interval"
    detail = f"{why}; ratio {_fmt(ratio)} ({shown}), n {n_a}/{n_b}"
    if look is not None:
        detail += f", look {look} of {plan.min_rounds}-{plan.max_rounds}"
    detail += f"; Mann-Whitney adjusted p {_fmt(p_adj, 2)}, Cliff's delta {_fmt(delta, 2)} (descriptive)"
    return Decision(
        outcome=seq.outcome,
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
