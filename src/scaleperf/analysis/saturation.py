"""Where a configuration saturates, from the ``step`` phases of one run.

Per step (warm-up excluded): p95 and error rate of the requests started in the window, achieved
throughput (requests *completed* in the window: what the target delivered, which a queue building up
inside the window cannot inflate) and the throughput the load *offered*.  The load is a closed loop
(Locust users with pacing), so the offered throughput is defined by throughput-tracking: the per-user
request rate measured on the first (least loaded) steps, times the step's users.  A step *tracks*
when it achieved at least ``TRACKING_FLOOR`` of that.

The saturation point is the last step before the first step that broke a latency or error-rate SLO or
stopped tracking, in deployment-scale users and in requests/s.  Two cross-checks: a Universal
Scalability Law fit of throughput against users (peak at sqrt((1 - sigma) / kappa), used when it lies
within the steps) and the knee of the same curve (Kneedle).  When a cross-check falls outside the
bracket between the saturation step and the next step, at a throughput materially different from the
step's, the verdict is a range spanning them.  See docs/statistics.md.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from scaleperf.analysis import slo as slo_mod
from scaleperf.analysis import stats
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
GEN_CPU_LIMIT = 90.0  # load-generator CPU percent beyond which its own queueing distorts the numbers


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


def _steps(result: RunResult, slos: list[slo_mod.Slo]) -> list[StepStat]:
    phases = sorted(result.phases_of(STEP), key=lambda p: p.start_s)
    judged = [s for s in slos if s.metric != "throughput"]  # plateau throughput floors do not apply to steps
    samples = result.samples
    done = samples.t + samples.latency_ms.astype(np.float64) / 1000.0  # when each request completed
    raw = []
    for p in phases:
        w = p.window
        span = w[1] - w[0]
        if span <= 0:
            continue
        m = samples.mask(window=w)
        n = int(m.sum())
        completed = int(((done >= w[0]) & (done < w[1])).sum())
        failed = []
        for s in judged:
            value, count = slo_mod.measure(result, s, [w])
            if count >= slo_mod.MIN_SAMPLES[s.metric] and math.isfinite(value) and not s.holds(value):
                failed.append(s.id)
        gen = None
        t, cpu = result.series.get("t"), result.series.get("gen_cpu_pct")
        if t is not None and cpu is not None:
            sel = (t >= w[0]) & (t < w[1])
            if sel.any():
                gen = stats.percentile(np.asarray(cpu, dtype=np.float64)[sel], 95)
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
                failed_slos=tuple(failed),
                gen_cpu_p95_pct=gen,
            )
        )
    if not raw:
        return []
    per_user = _per_user_rate(raw)
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
    return out


def _per_user_rate(raw: list[dict]) -> float:
    """Requests/s one user asks for when the target keeps up: pooled over the first OFFERED_BASE_STEPS steps
    while each of them agrees with the first within the tracking floor (a small first step is noisy)."""
    first = raw[0]["achieved_rps"] / raw[0]["users"] if raw[0]["users"] > 0 else float("nan")
    base = [raw[0]]
    for r in raw[1:OFFERED_BASE_STEPS]:
        rate = r["achieved_rps"] / r["users"] if r["users"] > 0 else float("nan")
        if not rate >= TRACKING_FLOOR * first:
            break
        base.append(r)
    users = sum(r["users"] for r in base)
    return sum(r["achieved_rps"] for r in base) / users if users > 0 else float("nan")


def _rps_at(steps: list[StepStat], users: float) -> float:
    return float(np.interp(users, [s.deploy_users for s in steps], [s.achieved_rps for s in steps]))


def _figures(v: dict) -> dict:
    """JSON-ready copy of the verdict's fields."""
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
        }
        for s in v["steps"]
    ]
    usl_fit = v.get("usl")
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
    if minimum >= first:
        return FAIL, f"below the first step ({first} users), itself not above the minimum {minimum}"
    return INCONCLUSIVE, f"below the first step ({first} users); start the steps below the minimum {minimum}"


def find(result: RunResult, slos: list[slo_mod.Slo], *, minimum_users: int | None = None) -> SaturationVerdict:
    """The saturation point of one run, judged against ``minimum_users`` (deployment users) when given."""
    steps = _steps(result, slos)
    base = dict(config=result.config, steps=tuple(steps), minimum_users=minimum_users, scale=result.scale)
    subject = f"{result.config}: saturation point"
    problem = None
    if not steps:
        problem = "the run has no step phase; use a profile with steps"
    elif not result.complete:
        problem = "the run did not complete"
    elif result.generator_saturated:
        problem = f"the load generator saturated first ({'; '.join(result.checks.get('reasons', [])) or 'see the run checks'})"
    elif any(s.n_samples < MIN_STEP_SAMPLES for s in steps):
        thin = next(s for s in steps if s.n_samples < MIN_STEP_SAMPLES)
        problem = f"{thin.label} has {thin.n_samples} requests, need {MIN_STEP_SAMPLES}; lengthen the steps"
    if problem:
        v = dict(base, result=SAT_INCONCLUSIVE)
        return SaturationVerdict(
            kind="saturation",
            subject=subject,
            outcome=INCONCLUSIVE,
            reason=f"{subject}: inconclusive, {problem}",
            figures=_figures(v),
            result=SAT_INCONCLUSIVE,
            **base,
        )

    users = np.array([s.deploy_users for s in steps], dtype=np.float64)
    rps = np.array([s.achieved_rps for s in steps])
    fit = fit_usl(users, rps)
    knee_users = knee(users, rps)
    capacity = float(rps.max())
    broken = next((i for i, s in enumerate(steps) if not s.holds), None)
    lo = hi = None
    if broken is None:
        result_kind, point = SAT_NOT_REACHED, steps[-1]
        why = (
            f"the last step ({point.deploy_users} users, {point.achieved_rps:.1f} req/s) still met the SLOs and tracked the load"
        )
    elif broken == 0:
        result_kind, point = SAT_BELOW, None
        why = f"the first step ({steps[0].deploy_users} users) already {_broke(steps[0])}"
    else:
        point, nxt = steps[broken - 1], steps[broken]
        bracket = (point.deploy_users * (1 - AGREE_TOLERANCE), nxt.deploy_users * (1 + AGREE_TOLERANCE))
        checks = []  # (name, users, throughput there) of each cross-check
        if fit is not None and fit.peak_users is not None and fit.peak_users <= users.max():
            checks.append(("USL peak", fit.peak_users, _rps_at(steps, fit.peak_users)))
        if knee_users is not None:
            checks.append(("knee", knee_users, _rps_at(steps, knee_users)))
        outside = [c for c in checks if _disagrees(c[1], c[2], point, bracket)]
        why = f"{point.label} ({point.deploy_users} users, {point.achieved_rps:.1f} req/s) held; {nxt.label} {_broke(nxt)}"
        if outside:
            result_kind = SAT_RANGE
            lo = float(min(point.deploy_users, *(c[1] for c in outside)))
            hi = float(max(point.deploy_users, *(c[1] for c in outside)))
            why += "; " + ", ".join(f"{name} at {u:.0f} users ({x:.1f} req/s)" for name, u, x in outside) + " disagree"
        else:
            result_kind = SAT_VALUE
    sat_users = point.deploy_users if point else None
    v = dict(
        base,
        result=result_kind,
        users=sat_users,
        rps=point.achieved_rps if point else None,
        users_range=(lo, hi) if lo is not None else None,
        rps_range=(_rps_at(steps, lo), _rps_at(steps, hi)) if lo is not None else None,
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
    return SaturationVerdict(kind="saturation", subject=subject, outcome=outcome, reason=reason, figures=_figures(v), **v)


def _disagrees(users: float, rps: float, point: StepStat, bracket: tuple[float, float]) -> bool:
    """A cross-check disagrees when it puts saturation outside the step bracket *and* where the measured
    throughput is more than AGREE_TOLERANCE away from the saturation step's: on a flat ceiling the exact
    location of a peak is noise.  (A USL peak beyond the largest step is an extrapolation and is not used.)"""
    if bracket[0] <= users <= bracket[1]:
        return False
    return abs(rps - point.achieved_rps) > AGREE_TOLERANCE * point.achieved_rps


def _broke(step: StepStat) -> str:
    parts = []
    if step.failed_slos:
        parts.append(f"broke {', '.join(step.failed_slos)} (p95 {step.p95_ms:.0f} ms)")
    if not step.tracks:
        parts.append(f"achieved {step.tracking:.0%} of the offered {step.offered_rps:.1f} req/s")
    return " and ".join(parts)
