"""Which configuration is really better than which: declared expectations judged across replicate runs.

The unit of analysis is the replicate run (:mod:`scaleperf.analysis.values`): batch means over the plateau
for latency and error rate, each run's capacity from its load steps for throughput.  Every decision is
made by :func:`scaleperf.analysis.decision.decide`; this module gathers the values, refuses what must not
be compared (different scales or profiles, an unlimited setup, capacity that cannot be told) and words the
verdict.  Kruskal-Wallis across every configuration measured is reported alongside.  See docs/statistics.md.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from scaleperf.analysis import sequential, setup, stats, values
from scaleperf.analysis.decision import DEFAULT_ALPHA, Claim, decide
from scaleperf.analysis.expectations import DEFAULT_MIN_EFFECT, Expectation, load_expectations
from scaleperf.analysis.metrics import Metric, parse_metric
from scaleperf.analysis.verdict import BETTER, INCONCLUSIVE, REFUSED, WORSE, ComparisonVerdict
from scaleperf.results import RunResult

__all__ = ["DEFAULT_ALPHA", "DEFAULT_MIN_EFFECT", "Expectation", "Metric", "compare", "load_expectations", "parse_metric"]


def _mismatch(runs: list[RunResult]) -> str | None:
    for key in ("scale", "profile"):
        found = sorted({str(r.meta.get(key)) for r in runs})
        if len(found) > 1:
            return f"results of different {key}s ({', '.join(found)}); rerun so every configuration uses the same {key}"
    return None


def _setting(result: RunResult) -> tuple[str, str]:
    return (str(result.meta.get("scale")), str(result.meta.get("profile")))


def _side_values(
    e: Expectation, metric: Metric, by_config: dict, slos: list, memo: dict
) -> tuple[values.Values, values.Values, int | None] | str:
    runs_a, runs_b = by_config.get(e.a, []), by_config.get(e.b, [])
    missing = [n for n in e.configs if not by_config.get(n)]
    if missing:
        return f"{' and '.join(missing)} {'have' if len(missing) > 1 else 'has'} no stored runs"
    if metric.statistic == "throughput":
        if metric.group != "all":
            return "capacity is judged on every request; claim it on throughput, not on one group's"
        sides = []
        for runs in (runs_a, runs_b):
            got = values.capacity_values([r for r in runs if r.complete], slos)
            if isinstance(got, str):
                return f"a throughput claim compares capacities from the load steps, and {got}"
            gone = tuple(f"{values.run_name(r)}: incomplete" for r in runs if not r.complete)
            sides.append(values.Values(got.values, gone + got.excluded, got.lower_bounds))
        a, b = sides
        a_claimed_higher = (e.expect == "better") == metric.higher_is_better
        both = a.lower_bounds + b.lower_bounds
        unsafe = both if e.expect == "same" else (b.lower_bounds if a_claimed_higher else a.lower_bounds)
        if any(unsafe):
            return (
                "the steps of a side that must not be higher stopped before its throughput stopped tracking the load, "
                "so its capacity is only a lower bound; extend the step load"
            )
        return a, b, None
    kept = [r for r in runs_a + runs_b if r.complete]
    batch_s = values.comparison_batch_length(kept, metric) if kept else stats.MIN_BATCH_S
    return values.plateau_values(runs_a, metric, batch_s, memo), values.plateau_values(runs_b, metric, batch_s, memo), batch_s


def _kruskal(
    metric: Metric, batch_s: int | None, by_config: dict, reference: tuple[str, str] | None, slos: list, memo: dict
) -> float:
    """Kruskal-Wallis across every configuration given, on the runs measured at the pair's scale and profile."""
    groups = []
    for runs in by_config.values():
        same = [r for r in runs if _setting(r) == reference]
        if batch_s is None:
            got = values.capacity_values([r for r in same if r.complete], slos)
            groups.append(got.values if not isinstance(got, str) else np.zeros(0))
        else:
            groups.append(values.plateau_values(same, metric, batch_s, memo).values)
    return stats.kruskal_p(*groups)


def compare(
    results_by_config: dict[str, list[RunResult]],
    expectations: list[Expectation],
    *,
    alpha: float = DEFAULT_ALPHA,
    family_size: int | None = None,
    slos: list | None = None,
    accept_unlimited: bool = False,
    max_rounds: int | None = None,
) -> list[ComparisonVerdict]:
    """Judge each expectation on the replicate runs of its two configurations, each in a family of
    ``family_size`` (default: the expectations given) through :func:`decision.decide`.  ``slos`` are the
    thresholds the load steps are held to when capacity is read from them.  ``max_rounds``: judge as a
    sequential campaign of at most that many rounds (default: as the runs' metadata says they were run)."""
    family = max(family_size or 0, len(expectations), 1)
    memo: dict = {}
    out = []
    for e in expectations:
        metric = parse_metric(e.metric)
        involved = results_by_config.get(e.a, []) + results_by_config.get(e.b, [])
        refused = _mismatch(involved) or setup.untrusted(involved, accept_unlimited=accept_unlimited)
        got = refused or _side_values(e, metric, results_by_config, slos or [], memo)
        if isinstance(got, str):
            out.append(_refused(e, got, alpha, family))
            continue
        a, b, batch_s = got
        claim = Claim(expect=e.expect, higher_is_better=metric.higher_is_better, min_effect=e.min_effect)
        d = decide(a.values, b.values, claim, family, alpha=alpha, **_plan(involved, a.values.size, b.values.size, max_rounds))
        reference = _setting(involved[0]) if involved else None
        kw = _kruskal(metric, batch_s, results_by_config, reference, slos or [], memo)
        v = _verdict(e, metric, a, b, batch_s, d, kw, alpha, family)
        note = setup.accepted_note(involved, accept_unlimited=accept_unlimited)
        out.append(replace(v, reason=v.reason + note) if note else v)
    return out


def _plan(runs: list[RunResult], n_a: int, n_b: int, max_rounds: int | None) -> dict:
    """The look and design of a sequential campaign (``--replicates auto``) the runs came from, as the campaign
    recorded it (or ``max_rounds`` when given): the look is the rounds both sides took part in. Empty for a
    fixed number of replicates."""
    plans = {max_rounds} if max_rounds is not None else {(r.meta.get("sequential") or {}).get("max_rounds") for r in runs}
    if len(plans) != 1 or None in plans:
        return {}
    return {"look": min(n_a, n_b), "design": sequential.design_for(int(plans.pop()))}


def _clean(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _common(e: Expectation, alpha: float) -> dict:
    return dict(
        kind="comparison", subject=e.claim, expectation_id=e.id, metric=e.metric, a=e.a, b=e.b, expected=e.expect, alpha=alpha
    )


def _refused(e: Expectation, why: str, alpha: float, family: int) -> ComparisonVerdict:
    figures = {"expectation": e.id, "claim": e.claim, "result": REFUSED, "refused": why, "family_size": family}
    return ComparisonVerdict(
        outcome=INCONCLUSIVE,
        reason=f"{e.claim}: inconclusive, refused: {why}",
        figures=figures,
        result=REFUSED,
        **_common(e, alpha),
    )


def _verdict(e, metric, a, b, batch_s, d, kw, alpha, family) -> ComparisonVerdict:
    va, vb = a.values, b.values
    said = f"{e.a} {d.result} than {e.b}" if d.result in (BETTER, WORSE) else d.result
    basis = "capacity from the load steps" if batch_s is None else f"plateau batch means of {batch_s} s"
    reason = f"{e.claim}: {d.outcome}, data say {said}; {d.detail}; each replicate's {basis}"
    estimate_a = _clean(float(va.mean())) if va.size else None
    estimate_b = _clean(float(vb.mean())) if vb.size else None
    excluded = (*a.excluded, *b.excluded)
    figures = {
        "expectation": e.id,
        "claim": e.claim,
        "metric": e.metric,
        "a": e.a,
        "b": e.b,
        "expected": e.expect,
        "result": d.result,
        "basis": "capacity" if batch_s is None else "plateau",
        "values_a": va.tolist(),
        "values_b": vb.tolist(),
        "lower_bounds_a": list(a.lower_bounds),
        "lower_bounds_b": list(b.lower_bounds),
        "n_a": int(va.size),
        "n_b": int(vb.size),
        "estimate_a": estimate_a,
        "estimate_b": estimate_b,
        "ratio": d.ratio,
        "ratio_ci": list(d.interval) if d.interval else [None, None],
        "confidence": d.confidence,
        "p_value": d.p_value,
        "p_adjusted": d.p_adjusted,
        "cliffs_delta": d.cliffs_delta,
        "kruskal_p": _clean(kw),
        "alpha": alpha,
        "min_effect": e.min_effect,
        "mde": d.mde,
        "replicates_needed": d.replicates_needed,
        "family_size": family,
        "min_replicates": d.min_replicates,
        "against": d.against,
        "batch_s": batch_s,
        "excluded": list(excluded),
    }
    return ComparisonVerdict(
        outcome=d.outcome,
        reason=reason,
        figures=figures,
        result=d.result,
        values_a=tuple(va.tolist()),
        values_b=tuple(vb.tolist()),
        n_a=int(va.size),
        n_b=int(vb.size),
        estimate_a=estimate_a,
        estimate_b=estimate_b,
        ratio=d.ratio,
        ratio_ci=d.interval,
        confidence=d.confidence,
        p_value=d.p_value,
        p_holm=d.p_adjusted,
        cliffs_delta=d.cliffs_delta,
        kruskal_p=_clean(kw),
        min_effect=e.min_effect,
        mde=d.mde,
        replicates_needed=d.replicates_needed,
        batch_s=batch_s,
        excluded=excluded,
        **_common(e, alpha),
    )
