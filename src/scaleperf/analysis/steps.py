"""What each load step of a run measured, how much load it was offered, and the run's capacity.

Per step (warm-up excluded): p95 and error rate of the requests started in the window, achieved
throughput (requests *completed* in the window) and the throughput the load *offered*: the per-user rate
measured on the plateau (or, when the plateau cannot vouch for it, the first steps), times the step's users.
A step *tracks* when it achieved at least ``TRACKING_FLOOR`` of that.  See :mod:`scaleperf.analysis.saturation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scaleperf.analysis import generator, metrics, slo_decision, stats
from scaleperf.analysis import slo as slo_mod
from scaleperf.analysis.verdict import FAIL, StepStat
from scaleperf.results import RunResult

STEP = "step"  # phase kind of the step load
TRACKING_FLOOR = 0.90  # a step tracks the load when it achieves at least this share of the offered throughput
OFFERED_BASE_STEPS = 2  # the per-user request rate is measured on up to this many leading steps
MIN_STEP_SAMPLES = 50  # a step with fewer requests cannot be judged
PLATEAU_BASIS = "plateau"  # the offered load is the plateau's per-user rate times the step's users
STEPS_BASIS = "first steps"  # ... or the first steps' (the plateau could not vouch for its rate)


def measure_steps(result: RunResult, slos: list[slo_mod.Slo]) -> tuple[list[StepStat], list[tuple[str, ...]], dict]:
    """Each step's figures, the load generator's problems on each step (empty: trusted), and the offered-load basis."""
    # by load, not time: a saturation search steps back down to bisect; a ladder's order is the same either way
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
    return metrics.completions(result)


@dataclass(frozen=True)
class Capacity:
    """The highest throughput a run's steps achieved while still tracking the offered load."""

    rps: float | None  # requests completed per second on that step; None when it cannot be told
    lower_bound: bool  # the steps stopped (or the generator gave out) before the target stopped tracking
    step: str | None  # the step's label
    reason: str  # why it is what it is, or why it cannot be told


def capacity(result: RunResult, slos: list[slo_mod.Slo]) -> Capacity:
    """The run's capacity from its load steps: the highest achieved throughput among the steps that tracked
    the offered load, over the steps with a trusted load generator.  A lower bound when the last such step
    still tracked; unknown with no steps, an incomplete run, or no step that tracked."""
    steps, gen, _ = measure_steps(result, slos)
    if not steps:
        return Capacity(None, False, None, "the run has no load steps; a throughput claim is judged on capacity")
    if not result.complete:
        return Capacity(None, False, None, "the run did not complete")
    trusted = next((i for i, g in enumerate(gen) if g), len(steps))
    curve = steps[:trusted]
    tracked = [s for s in curve if s.tracks]
    if not tracked:
        why = "no step tracked the offered load" if curve else f"the load generator could not be trusted on {steps[0].label}"
        return Capacity(None, False, None, why)
    best = max(tracked, key=lambda s: s.achieved_rps)
    bound = curve[-1].tracks
    if bound:
        why = f"{curve[-1].label} still tracked the load; capacity is at least {best.achieved_rps:.1f} req/s"
    else:
        broke = next(s for s in curve if not s.tracks)
        why = f"{best.label} tracked at {best.achieved_rps:.1f} req/s; {broke.label} achieved {broke.tracking:.0%} of the offered"
    return Capacity(best.achieved_rps, bound, best.label, why)


def _broken_slos(result: RunResult, slos: list[slo_mod.Slo], windows: list[tuple[float, float]]) -> tuple[str, ...]:
    """Ids of the SLOs that clearly did not hold in ``windows``: the whole interval of the metric on the window's
    requests lies on the failing side of the threshold (:mod:`scaleperf.analysis.slo_decision`), as an SLO
    verdict fails; no fixed minimum count of requests."""
    broken = []
    for s in slos:
        _, lo, hi = slo_decision.interval(s, slo_decision.pool_of(result, s, windows))
        if slo_decision.decide(s, lo, hi) == FAIL:
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
