"""Where a configuration saturates, from the ``step`` phases of one run.

Per step (warm-up excluded): p95 and error rate of the requests started in the window, achieved
throughput (requests *completed* in the window: what the target delivered, which a queue building up
inside the window cannot inflate) and the throughput the load *offered*.  The load is a closed loop
(Locust users with pacing), so the offered throughput is defined by throughput-tracking: the per-user
request rate measured on the plateau, times the step's users.  The plateau is less loaded than any step;
when it cannot vouch for its rate (it broke an SLO, fell behind, or the load generator was not trusted on
it) the first steps' rate stands in, and the verdict's figures say which was used (``offered_basis``).
A step *tracks* when it achieved at least ``TRACKING_FLOOR`` of that.

The saturation point is the last step before the first step that broke a latency or error-rate SLO or
stopped tracking, in deployment-scale users and in requests/s.  Two cross-checks: a Universal
Scalability Law fit of throughput against users (peak at sqrt((1 - sigma) / kappa), used when it lies
within the steps) and the knee of the same curve (Kneedle).  When a cross-check falls outside the
bracket between the saturation step and the next step, at a throughput materially different from the
step's, the verdict is a range spanning them.

The load generator is judged step by step (:func:`scaleperf.analysis.generator.problems`).  The answer
rests on the steps up to the one that decided it (the first that broke, or the last when none did); an
untrusted generator there makes the verdict inconclusive, while one that gave out on later steps only
removes those steps from the cross-checks.  See docs/statistics.md.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from scaleperf.analysis import generator
from scaleperf.analysis import slo as slo_mod
from scaleperf.analysis.curve import fit_usl, knee, usl  # noqa: F401  (the cross-checks, named here too)
from scaleperf.analysis.steps import (  # noqa: F401  (what a step measured, named here too)
    MIN_STEP_SAMPLES,
    STEP,
    STEPS_BASIS,
    TRACKING_FLOOR,
    Capacity,
    capacity,
    measure_steps,
)
from scaleperf.analysis.verdict import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    SAT_BELOW,
    SAT_INCONCLUSIVE,
    SAT_NOT_REACHED,
    SAT_RANGE,
    SAT_VALUE,
    SaturationVerdict,
    StepStat,
)
from scaleperf.results import RunResult

AGREE_TOLERANCE = 0.10  # a cross-check within this fraction outside the step bracket still agrees
GEN_CPU_LIMIT = generator.CPU_SATURATED_P95_PCT  # load-generator CPU p95 beyond which its own queueing distorts the numbers


def _rps_at(steps: list[StepStat], users: float) -> float:
    return float(np.interp(users, [s.deploy_users for s in steps], [s.achieved_rps for s in steps]))


def _figures(v: dict, gen: list[tuple[str, ...]], basis: dict, fitted: int) -> dict:
    """JSON-ready copy of the verdict's fields, with the load generator's state on each step and the offered-load basis."""
    steps = [
        {
            "label": s.label,
            "users": s.users,
            "deploy_users": s.deploy_users,
            "window": list(s.window),
            "n_samples": s.n_samples,
            "p95_ms": s.p95_ms if math.isfinite(s.p95_ms) else None,
            "error_rate": s.error_rate if math.isfinite(s.error_rate) else None,
            "achieved_rps": s.achieved_rps,
            "offered_rps": s.offered_rps if math.isfinite(s.offered_rps) else None,
            "tracking": s.tracking if math.isfinite(s.tracking) else None,
            "slo_ok": s.slo_ok,
            "tracks": s.tracks,
            "failed_slos": list(s.failed_slos),
            "gen_cpu_p95_pct": s.gen_cpu_p95_pct,
            "generator_trusted": not problems,
            "generator_problems": list(problems),
        }
        for s, problems in zip(v["steps"], gen, strict=True)
    ]
    usl_fit = v.get("usl")
    per_user = basis.get("per_user_rps")
    return {
        "config": v["config"],
        "result": v["result"],
        "users": v.get("users"),
        "rps": v.get("rps"),
        "users_range": list(v["users_range"]) if v.get("users_range") else None,
        "rps_range": list(v["rps_range"]) if v.get("rps_range") else None,
        "capacity_rps": v.get("capacity_rps"),
        "minimum_users": v.get("minimum_users"),
        "knee_users": v.get("knee_users"),
        "scale": v["scale"],
        "tracking_floor": TRACKING_FLOOR,
        "offered_basis": {**basis, "per_user_rps": per_user if per_user is not None and math.isfinite(per_user) else None}
        if basis
        else None,
        "fitted_steps": fitted,
        "usl": None if usl_fit is None else {k: getattr(usl_fit, k) for k in usl_fit.__dataclass_fields__},
        "steps": steps,
    }


def _judge_minimum(
    result: str, users: int | None, lo: float | None, hi: float | None, first: int, minimum: int | None
) -> tuple[str, str]:
    """Outcome against the declared minimum, with the clause that explains it."""
    if minimum is None:
        return PASS, "no minimum declared"
    if result == SAT_VALUE:
        return (PASS, f"at least the minimum {minimum}") if users >= minimum else (FAIL, f"below the minimum {minimum}")
    if result == SAT_RANGE:
        if lo >= minimum:
            return PASS, f"the whole range is at least the minimum {minimum}"
        if hi < minimum:
            return FAIL, f"the whole range is below the minimum {minimum}"
        return INCONCLUSIVE, f"the minimum {minimum} lies inside the range"
    if result == SAT_NOT_REACHED:
        if users >= minimum:
            return PASS, f"beyond the last step, at least the minimum {minimum}"
        return INCONCLUSIVE, f"the steps stop at {users}, below the minimum {minimum}; extend the step load"
    if minimum >= first:  # saturated before the first step, so before the minimum: evidence, not a gap in it
        return FAIL, f"below the minimum {minimum}"
    return INCONCLUSIVE, f"the minimum {minimum} lies below the first step ({first} users); start the steps below it"


def find(result: RunResult, slos: list[slo_mod.Slo], *, minimum_users: int | None = None) -> SaturationVerdict:
    """The saturation point of one run, judged against ``minimum_users`` (deployment users) when given.

    Its figures also give two separate answers: ``capacity`` (the highest throughput that still tracked the
    offered load, :func:`capacity`) and ``slo_compliant`` (the users and req/s of the last step before the
    first one that broke an SLO, whatever the tracking)."""
    v = _find(result, slos, minimum_users=minimum_users)
    c = capacity(result, slos)
    compliant = None
    if v.steps:
        broke = next((i for i, s in enumerate(v.steps) if not s.slo_ok), None)
        last = v.steps[-1] if broke is None else (v.steps[broke - 1] if broke > 0 else None)
        compliant = {
            "users": last.deploy_users if last else None,
            "rps": last.achieved_rps if last else None,
            "reached": broke is not None,
            "broken_at": v.steps[broke].label if broke is not None else None,
        }
    extra = {
        "capacity": {"rps": c.rps, "lower_bound": c.lower_bound, "step": c.step, "reason": c.reason},
        "slo_compliant": compliant,
    }
    return replace(v, figures={**v.figures, **extra})


def _find(result: RunResult, slos: list[slo_mod.Slo], *, minimum_users: int | None = None) -> SaturationVerdict:
    steps, gen, basis = measure_steps(result, slos)
    base = dict(config=result.config, steps=tuple(steps), minimum_users=minimum_users, scale=result.scale)
    subject = f"{result.config}: saturation point"
    broken = next((i for i, s in enumerate(steps) if not s.holds), None)
    decided = broken if broken is not None else len(steps) - 1  # the step the answer rests on; later ones do not count
    fitted = next((i for i, g in enumerate(gen) if g), len(steps))  # steps before the generator's first untrusted one
    problem = None
    if not steps:
        problem = "the run has no step phase; use a profile with steps"
    elif not result.complete:
        problem = "the run did not complete"
    elif fitted <= decided:
        problem = _untrusted(steps, gen, fitted)
    elif any(s.n_samples < MIN_STEP_SAMPLES for s in steps[:fitted]):
        thin = next(s for s in steps[:fitted] if s.n_samples < MIN_STEP_SAMPLES)
        problem = f"{thin.label} has {thin.n_samples} requests, need {MIN_STEP_SAMPLES}; lengthen the steps"
    if problem:
        v = dict(base, result=SAT_INCONCLUSIVE)
        return SaturationVerdict(
            kind="saturation",
            subject=subject,
            outcome=INCONCLUSIVE,
            reason=f"{subject}: inconclusive, {problem}",
            figures=_figures(v, gen, basis, fitted),
            result=SAT_INCONCLUSIVE,
            **base,
        )

    curve = steps[:fitted]  # the throughput curve the cross-checks read: steps with a trusted load generator
    users = np.array([s.deploy_users for s in curve], dtype=np.float64)
    rps = np.array([s.achieved_rps for s in curve])
    fit = fit_usl(users, rps)
    knee_users = knee(users, rps)
    capacity = float(rps.max())
    source = basis["source"]
    lo = hi = None
    if broken is None:
        result_kind, point = SAT_NOT_REACHED, steps[-1]
        why = (
            f"the last step ({point.deploy_users} users, {point.achieved_rps:.1f} req/s) still met the SLOs and tracked the load"
        )
    elif broken == 0:
        result_kind, point = SAT_BELOW, None
        why = f"the first step ({steps[0].deploy_users} users) already {_broke(steps[0], source)}"
    else:
        point, nxt = steps[broken - 1], steps[broken]
        bracket = (point.deploy_users * (1 - AGREE_TOLERANCE), nxt.deploy_users * (1 + AGREE_TOLERANCE))
        checks = []  # (name, users, throughput there) of each cross-check
        if fit is not None and fit.peak_users is not None and fit.peak_users <= users.max():
            checks.append(("USL peak", fit.peak_users, _rps_at(curve, fit.peak_users)))
        if knee_users is not None:
            checks.append(("knee", knee_users, _rps_at(curve, knee_users)))
        outside = [c for c in checks if _disagrees(c[1], c[2], point, bracket)]
        held = f"{point.label} ({point.deploy_users} users, {point.achieved_rps:.1f} req/s) held"
        why = f"{held}; {nxt.label} {_broke(nxt, source)}"
        if outside:
            result_kind = SAT_RANGE
            lo = float(min(point.deploy_users, *(c[1] for c in outside)))
            hi = float(max(point.deploy_users, *(c[1] for c in outside)))
            why += "; " + ", ".join(f"{name} at {u:.0f} users ({x:.1f} req/s)" for name, u, x in outside) + " disagree"
        else:
            result_kind = SAT_VALUE
    if fitted < len(steps):
        why += (
            f"; the load generator could not be trusted from {steps[fitted].label} on, after the step that decided, "
            f"so the cross-checks read {steps[0].label} to {steps[fitted - 1].label} only"
        )
    sat_users = point.deploy_users if point else None
    v = dict(
        base,
        result=result_kind,
        users=sat_users,
        rps=point.achieved_rps if point else None,
        users_range=(lo, hi) if lo is not None else None,
        rps_range=(_rps_at(curve, lo), _rps_at(curve, hi)) if lo is not None else None,
        capacity_rps=capacity,
        usl=fit,
        knee_users=knee_users,
    )
    outcome, against = _judge_minimum(result_kind, sat_users, lo, hi, steps[0].deploy_users, minimum_users)
    shown = {
        SAT_VALUE: f"{sat_users} users, {v['rps'] or 0:.1f} req/s",
        SAT_RANGE: f"{lo:.0f}-{hi:.0f} users" if lo is not None else "",
        SAT_NOT_REACHED: f"not reached (> {sat_users} users)",
        SAT_BELOW: f"below the first step ({steps[0].deploy_users} users)",
    }[result_kind]
    reason = f"{subject} {shown}, {against}: {why}"
    return SaturationVerdict(
        kind="saturation", subject=subject, outcome=outcome, reason=reason, figures=_figures(v, gen, basis, fitted), **v
    )


def _untrusted(steps: list[StepStat], gen: list[tuple[str, ...]], i: int) -> str:
    """Why the answer cannot be given: the load generator could not be trusted on step ``i``, which it rests on."""
    why = (
        f"the load generator could not be trusted on {steps[i].label} ({'; '.join(gen[i])}), "
        "at or before the step that decides the saturation point"
    )
    if i > 0:
        why += f"; {steps[0].label} to {steps[i - 1].label} held, up to {steps[i - 1].deploy_users} users"
    return why


def _disagrees(users: float, rps: float, point: StepStat, bracket: tuple[float, float]) -> bool:
    """A cross-check disagrees when it puts saturation outside the step bracket *and* where the measured
    throughput is more than AGREE_TOLERANCE away from the saturation step's: on a flat ceiling the exact
    location of a peak is noise.  (A USL peak beyond the largest step is an extrapolation and is not used.)"""
    if bracket[0] <= users <= bracket[1]:
        return False
    return abs(rps - point.achieved_rps) > AGREE_TOLERANCE * point.achieved_rps


def _broke(step: StepStat, source: str) -> str:
    parts = []
    if step.failed_slos:
        parts.append(f"broke {', '.join(step.failed_slos)} (p95 {step.p95_ms:.0f} ms)")
    if not step.tracks:
        whose = "the first steps'" if source == STEPS_BASIS else f"the {source}'s"
        parts.append(f"achieved {step.tracking:.0%} of the offered {step.offered_rps:.1f} req/s (at {whose} per-user rate)")
    return " and ".join(parts)
