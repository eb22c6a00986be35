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
import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from scaleperf.analysis import generator, stats
from scaleperf.analysis import slo as slo_mod
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
    UslFit,
)
from scaleperf.results import RunResult

STEP = "step"  # phase kind of the step load
TRACKING_FLOOR = 0.90  # a step tracks the load when it achieves at least this share of the offered throughput
OFFERED_BASE_STEPS = 2  # the per-user request rate is measured on up to this many leading steps
USL_MIN_POINTS = 4  # steps needed before a USL fit means anything
USL_PEAK_HORIZON = 2.0  # a USL peak beyond this multiple of the largest step is reported as "no peak"
KAPPA_EPS = 1e-9  # kappa below this is zero (Amdahl: no retrograde region)
SIGMA_EPS = 1e-6  # sigma below this is zero (no throughput ceiling)
KNEE_MIN_DISTANCE = 0.05  # Kneedle: a difference curve peaking lower than this means the curve has no knee
AGREE_TOLERANCE = 0.10  # a cross-check within this fraction outside the step bracket still agrees
MIN_STEP_SAMPLES = 50  # a step with fewer requests cannot be judged
GEN_CPU_LIMIT = generator.CPU_SATURATED_P95_PCT  # load-generator CPU p95 beyond which its own queueing distorts the numbers
PLATEAU_BASIS = "plateau"  # the offered load is the plateau's per-user rate times the step's users
STEPS_BASIS = "first steps"  # ... or the first steps' (the plateau could not vouch for its rate)


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


def _steps(result: RunResult, slos: list[slo_mod.Slo]) -> tuple[list[StepStat], list[tuple[str, ...]], dict]:
    """Each step's figures, the load generator's problems on each step (empty: trusted), and the offered-load basis."""
    # by load, not time: a saturation search steps back down to bisect, a ladder's order is the same either way
    phases = sorted(result.phases_of(STEP), key=lambda p: (p.deploy_users, p.start_s))
    judged = [s for s in slos if s.metric != "throughput"]  # plateau throughput floors do not apply to steps
    samples = result.samples
    done = _completions(result)
    raw, gen = [], []
    for p in phases:
        w = p.window
        span = w[1] - w[0]
        if span <= 0:
            continue
        m = samples.mask(window=w)
        n = int(m.sum())
        completed = int(((done >= w[0]) & (done < w[1])).sum())
        gen_p95 = generator.cpu_p95(result, w[0], w[1])
        raw.append(
            dict(
                label=p.label,
                users=p.users,
                deploy_users=p.deploy_users,
                window=w,
                n_samples=n,
                p95_ms=stats.percentile(samples.latency_ms[m], 95),
                error_rate=float(samples.failed[m].mean()) if n else float("nan"),
                achieved_rps=completed / span,
                failed_slos=_broken_slos(result, judged, [w]),
                gen_cpu_p95_pct=gen_p95,
            )
        )
        gen.append(tuple(generator.problems(result, w[0], w[1])))
    if not raw:
        return [], [], {}
    per_user, basis = _offered_basis(result, slos, raw, gen)
    out = []
    for r in raw:
        offered = per_user * r["users"]
        tracking = r["achieved_rps"] / offered if offered > 0 else float("nan")
        out.append(
            StepStat(
                offered_rps=offered,
                tracking=tracking,
                slo_ok=not r["failed_slos"],
                tracks=bool(tracking >= TRACKING_FLOOR),
                **r,
            )
        )
    return out, gen, basis


def _completions(result: RunResult) -> np.ndarray:
    """When each request completed, seconds since t0."""
    return result.samples.t + result.samples.latency_ms.astype(np.float64) / 1000.0


def _broken_slos(result: RunResult, slos: list[slo_mod.Slo], windows: list[tuple[float, float]]) -> tuple[str, ...]:
    """Ids of the SLOs measured on enough requests in ``windows`` that did not hold there."""
    broken = []
    for s in slos:
        value, count = slo_mod.measure(result, s, windows)
        if count >= slo_mod.MIN_SAMPLES[s.metric] and math.isfinite(value) and not s.holds(value):
            broken.append(s.id)
    return tuple(broken)


def _offered_basis(result: RunResult, slos: list[slo_mod.Slo], raw: list[dict], gen: list[tuple[str, ...]]) -> tuple[float, dict]:
    """Requests/s one user asks for when the target keeps up, and where that figure comes from.

    The plateau's rate when the plateau can vouch for it (it held its users, met its SLOs, completed what it
    started, with a trusted load generator): it is less loaded than any step, and a first step that already
    saturated would otherwise set the standard every later step is measured against.  Else the first steps'.
    """
    rate, why_not = _plateau_rate(result, slos)
    if rate is not None:
        return rate, {"source": PLATEAU_BASIS, "per_user_rps": rate}
    rate, labels = _per_user_rate(raw, gen)
    return rate, {"source": STEPS_BASIS, "per_user_rps": rate, "steps": labels, "plateau_not_used": why_not}


def _plateau_rate(result: RunResult, slos: list[slo_mod.Slo]) -> tuple[float | None, str]:
    """Completed requests per user-second over the plateau windows, or None and why the plateau cannot vouch."""
    plateaus = [p for p in result.phases_of(slo_mod.PLATEAU) if p.window[1] > p.window[0] and p.users > 0]
    if not plateaus:
        return None, "the run has no plateau"
    samples, done = result.samples, _completions(result)
    started = completed = 0
    user_seconds = 0.0
    for p in plateaus:
        w = p.window
        problems = generator.problems(result, w[0], w[1])
        if problems:
            return None, f"the load generator could not be trusted on the {p.label} ({'; '.join(problems)})"
        held = _users_held(result, w)
        if held is not None and held < TRACKING_FLOOR * p.users:
            return None, f"the {p.label} held {held:.0f} of its {p.users} users"
        started += int(samples.mask(window=w).sum())
        completed += int(((done >= w[0]) & (done < w[1])).sum())
        user_seconds += (w[1] - w[0]) * p.users
    if started < MIN_STEP_SAMPLES:
        return None, f"the plateau has {started} requests, need {MIN_STEP_SAMPLES}"
    if completed < TRACKING_FLOOR * started:
        return None, f"the plateau completed {completed / started:.0%} of the requests it started: a queue built up"
    broke = _broken_slos(result, slos, [p.window for p in plateaus])
    if broke:
        return None, f"the plateau broke {', '.join(broke)}"
    return completed / user_seconds, ""


def _users_held(result: RunResult, w: tuple[float, float]) -> float | None:
    """Mean users the generator ran over the window, from the per-second series (None when it has none)."""
    t, users = result.series.get("t"), result.series.get("users")
    if t is None or users is None or len(t) != len(users):
        return None
    u = np.asarray(users, dtype=np.float64)[(np.asarray(t) >= w[0]) & (np.asarray(t) < w[1])]
    u = u[np.isfinite(u)]
    return float(u.mean()) if len(u) else None


def _per_user_rate(raw: list[dict], gen: list[tuple[str, ...]]) -> tuple[float, list[str]]:
    """Requests/s one user asks for, pooled over the first OFFERED_BASE_STEPS steps while each of them agrees with
    the first within the tracking floor (a small first step is noisy) and the load generator is trusted on it."""
    first = raw[0]["achieved_rps"] / raw[0]["users"] if raw[0]["users"] > 0 else float("nan")
    base = [raw[0]]
    for r, problems in zip(raw[1:OFFERED_BASE_STEPS], gen[1:OFFERED_BASE_STEPS], strict=True):
        rate = r["achieved_rps"] / r["users"] if r["users"] > 0 else float("nan")
        if problems or not rate >= TRACKING_FLOOR * first:
            break
        base.append(r)
    users = sum(r["users"] for r in base)
    return (sum(r["achieved_rps"] for r in base) / users if users > 0 else float("nan")), [r["label"] for r in base]


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
    """The saturation point of one run, judged against ``minimum_users`` (deployment users) when given."""
    steps, gen, basis = _steps(result, slos)
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
