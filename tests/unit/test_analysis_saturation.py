"""Saturation point from step loads of synthetic closed systems with a known capacity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_analysis_slo import make_run

from scaleperf.analysis import saturation, slo
from scaleperf.load import selfcheck
from scaleperf.profiles import load_profile
from scaleperf.results import Phase

SLOS = [
    slo.parse_threshold("f", "local", "all.p95", "< 250 ms"),
    slo.parse_threshold("f", "local", "all.error_rate", "< 1 %"),
    slo.parse_threshold("f", "local", "all.throughput", ">= 1000 /s"),  # a plateau floor: must not apply to steps
]


def closed_system(users: list[int], capacity: float, *, scale: float = 1.0, seed: int = 0, plateau: int | None = None, **kw):
    """Each local user asks once a second; the server serves at most ``capacity`` req/s.

    Below capacity responses take ~50 ms; beyond it the queue makes them grow with the overload.  With
    ``plateau``, a 40 s plateau of that many deployment users (10 s warm-up) comes before the 30 s steps.
    """
    phases = []
    t = 0.0
    if plateau is not None:
        local = max(1, round(plateau * scale))
        phases.append(Phase(kind="plateau", label="plateau", start_s=0, end_s=40, users=local, deploy_users=plateau, warmup_s=10))
        t = 40.0
    for i, n in enumerate(users):
        local = max(1, round(n * scale))
        label = f"step {i + 1}"
        phases.append(Phase(kind="step", label=label, start_s=t, end_s=t + 30, users=local, deploy_users=n, warmup_s=10))
        t += 30
    return closed_loop(phases, capacity, scale=scale, seed=seed, **kw)


def closed_loop(phases, capacity: float, **kw):
    """``closed_system`` over given phases: a ramp offers half its users' requests on average."""
    segments = []
    for phase in phases:
        asked = phase.users / 2 if phase.kind == "ramp" else phase.users
        over = max(0.0, asked / capacity - 1)
        segments.append((phase, min(asked, capacity), lambda rng, k, over=over: 50 + 1000 * over + rng.uniform(-5, 5, k), 0.0))
    return make_run(segments, **kw)


def busy_generator(*windows: tuple[float, float]):
    """A generator CPU series (seconds -> %) at 99 % inside ``windows``, 20 % elsewhere."""

    def cpu(secs):
        busy = np.zeros(len(secs), dtype=bool)
        for start, end in windows:
            busy |= (secs >= start) & (secs < end)
        return np.where(busy, 99.0, 20.0)

    return cpu


def engine_checks(cpu, seconds: int, **kw) -> dict:
    """The run-wide checks the load engine would write for that CPU series."""
    args = dict(lag_ms=np.ones(100), paced_waits=100, cpu_warnings=0, lost_workers=[])
    return selfcheck.checks(cpu_per_s=cpu(np.arange(float(seconds))), **{**args, **kw})


def test_saturation_point_is_the_last_step_that_holds():
    run = closed_system([20, 40, 60, 80, 100, 120, 140, 160], capacity=100)
    v = saturation.find(run, SLOS, minimum_users=90)
    assert v.result == "value", v.reason
    assert v.users == 100
    assert v.rps == pytest.approx(100, rel=0.03)
    assert v.capacity_rps == pytest.approx(100, rel=0.03)
    assert v.outcome == "pass"
    assert [s.holds for s in v.steps] == [True] * 5 + [False] * 3
    assert v.steps[5].tracking == pytest.approx(100 / 120, rel=0.05)  # binomial share of each step in its window
    assert not v.steps[5].tracks and "all.p95<250ms" in v.steps[6].failed_slos
    assert v.knee_users == 100
    assert v.figures["users"] == 100 and len(v.figures["steps"]) == 8
    assert json.loads(json.dumps(v.figures, allow_nan=False))["usl"]["lam"] == pytest.approx(v.usl.lam)
    assert saturation.find(run, SLOS, minimum_users=120).outcome == "fail"


def test_units_are_deployment_users_and_local_requests():
    # Run at a tenth of the deployment scale: 200 deployment users are 20 local users.
    run = closed_system([100, 200, 300, 400, 500, 600], capacity=30, scale=0.1)
    v = saturation.find(run, SLOS)
    assert v.result == "value", v.reason
    assert v.users == 300 and v.rps == pytest.approx(30, rel=0.03)
    assert v.scale == 0.1 and v.outcome == "pass"


def test_not_reached_and_below_first_step():
    v = saturation.find(closed_system([10, 20, 30, 40], capacity=100), SLOS, minimum_users=30)
    assert v.result == "not reached" and v.users == 40 and v.outcome == "pass"
    v = saturation.find(closed_system([10, 20, 30, 40], capacity=100), SLOS, minimum_users=60)
    assert v.outcome == "inconclusive" and "extend the step load" in v.reason
    v = saturation.find(closed_system([50, 60, 70, 80], capacity=20), SLOS, minimum_users=60)
    assert v.result == "below first step" and v.outcome == "fail" and v.users is None


def test_errors_break_a_step():
    run = closed_system([20, 40, 60, 80, 100], capacity=1000)
    err = run.samples.error.copy()
    err[(run.samples.t >= 120) & (np.arange(len(err)) % 10 == 0)] = 1  # 10 % errors from step 5
    run = type(run)(meta=run.meta, phases=run.phases, samples=type(run.samples)(**{**run.samples.columns(), "error": err},
                    names=run.samples.names, groups=run.samples.groups, error_kinds=run.samples.error_kinds),
                    series=run.series, checks=run.checks)  # fmt: skip
    v = saturation.find(run, SLOS)
    assert v.users == 80 and "all.error_rate<1%" in v.steps[4].failed_slos


@pytest.mark.parametrize(
    ("kw", "why"),
    [({"saturated": True}, "load generator could not be trusted on step 1"), ({"complete": False}, "did not complete")],
)
def test_untrustworthy_runs_are_inconclusive(kw, why):
    v = saturation.find(closed_system([20, 40, 60, 80, 100], capacity=60, **kw), SLOS, minimum_users=10)
    assert v.outcome == "inconclusive" and v.result == "inconclusive"
    assert why in v.reason


def test_no_steps_is_inconclusive():
    plateau = Phase(kind="plateau", label="plateau", start_s=0, end_s=60, users=10, deploy_users=10)
    run = make_run([(plateau, 10, lambda rng, n: np.full(n, 10.0), 0.0)])
    v = saturation.find(run, SLOS)
    assert v.outcome == "inconclusive" and "no step phase" in v.reason


def test_usl_fit_recovers_known_coefficients():
    n = np.array([1, 5, 10, 20, 40, 60, 80, 100, 150, 200], dtype=float)
    x = saturation.usl(n, 10.0, 0.02, 0.0005)
    fit = saturation.fit_usl(n, x * np.random.default_rng(1).normal(1, 0.01, n.size))
    assert fit.lam == pytest.approx(10, rel=0.1)
    assert fit.sigma == pytest.approx(0.02, abs=0.01)
    assert fit.kappa == pytest.approx(0.0005, rel=0.3)
    assert fit.peak_users == pytest.approx(np.sqrt(0.98 / 0.0005), rel=0.15)
    assert fit.r_squared > 0.98


def test_usl_without_retrograde_has_a_ceiling_not_a_peak():
    n = np.array([1, 10, 20, 40, 80, 160], dtype=float)
    fit = saturation.fit_usl(n, saturation.usl(n, 5.0, 0.05, 0.0))
    assert fit.peak_users is None
    assert fit.ceiling_rps == pytest.approx(100, rel=0.05)
    assert saturation.fit_usl(n[:3], n[:3]) is None


def test_disagreeing_cross_check_gives_a_range():
    # Throughput follows a USL curve (kappa > 0) that peaks near 60 users while latency stays within the
    # SLO: throughput stops tracking the load from the second step, yet keeps growing until the peak.
    users = [10, 20, 30, 40, 50, 60, 70, 80]
    segments = []
    for i, n in enumerate(users):
        phase = Phase(kind="step", label=f"step {i + 1}", start_s=i * 30, end_s=i * 30 + 30, users=n, deploy_users=n, warmup_s=10)
        achieved = float(saturation.usl(np.array([n]), 1.0, 0.0, 0.00028)[0])
        segments.append((phase, achieved, lambda rng, k: np.full(k, 40.0), 0.0))
    v = saturation.find(make_run(segments), SLOS)
    assert v.usl is not None and v.usl.peak_users == pytest.approx(np.sqrt(1 / 0.00028), rel=0.1)
    assert v.result == "range", v.reason
    assert v.users == 10
    assert v.users_range[0] == 10 and v.users_range[1] == pytest.approx(v.usl.peak_users)
    assert v.rps_range[0] == pytest.approx(v.rps) and v.rps_range[1] > 2.5 * v.rps
    assert "USL peak" in v.reason and "disagree" in v.reason


def test_knee_of_a_straight_line_is_none():
    assert saturation.knee(np.array([1, 2, 3, 4.0]), np.array([2, 4, 6, 8.0])) is None
    assert saturation.knee(np.array([10, 20, 30, 40, 50.0]), np.array([10, 20, 30, 30, 30.0])) == 30


# ------------------------------------------------------------------------- the load generator, step by step
STEPS = [20, 40, 60, 80, 100, 120, 140, 160]  # with capacity 100: step 5 holds, step 6 decides


def step_window(i: int) -> tuple[float, float]:
    """The judged window of step ``i`` (1-based) of ``closed_system`` without a plateau."""
    return (30 * (i - 1) + 10, 30 * i)


def test_a_generator_overload_after_the_deciding_step_does_not_void_the_verdict():
    cpu = busy_generator(step_window(8))
    checks = engine_checks(cpu, 240)
    assert checks["saturated"]  # the run-wide self-check flags the run
    v = saturation.find(closed_system(STEPS, capacity=100, gen_cpu=cpu, checks=checks), SLOS, minimum_users=90)
    assert v.result == "value" and v.users == 100 and v.outcome == "pass", v.reason
    trusted = [s["generator_trusted"] for s in v.figures["steps"]]
    assert trusted == [True] * 7 + [False]
    assert "CPU p95 99%" in v.figures["steps"][7]["generator_problems"][0]
    assert v.figures["fitted_steps"] == 7 and "could not be trusted from step 8 on" in v.reason


@pytest.mark.parametrize("step", [6, 3, 1])
def test_a_generator_overload_at_or_before_the_deciding_step_is_inconclusive(step):
    cpu = busy_generator(step_window(step))
    v = saturation.find(closed_system(STEPS, capacity=100, gen_cpu=cpu, checks=engine_checks(cpu, 240)), SLOS)
    assert v.outcome == "inconclusive" and v.result == "inconclusive"
    assert f"could not be trusted on step {step} (load generator CPU p95 99%" in v.reason
    assert ("held, up to" in v.reason) == (step > 1)
    assert [s["generator_trusted"] for s in v.figures["steps"]] == [i != step for i in range(1, 9)]


def test_not_reached_rests_on_every_step():
    cpu = busy_generator(step_window(4))
    v = saturation.find(closed_system([10, 20, 30, 40], capacity=100, gen_cpu=cpu, checks=engine_checks(cpu, 120)), SLOS)
    assert v.outcome == "inconclusive" and "step 1 to step 3 held, up to 30 users" in v.reason


def test_run_wide_task_lag_voids_every_step_and_says_so():
    cpu = busy_generator()
    checks = engine_checks(cpu, 240, lag_ms=np.full(100, 400.0))
    v = saturation.find(closed_system(STEPS, capacity=100, gen_cpu=cpu, checks=checks), SLOS)
    assert v.outcome == "inconclusive" and "on step 1" in v.reason and "over the whole run" in v.reason


# ------------------------------------------------------------------------------------ the offered load
ERRORS_ONLY = [slo.parse_threshold("f", "local", "all.error_rate", "< 1 %")]


def test_offered_load_comes_from_the_plateau():
    # 60 req/s of capacity: the 50-user plateau keeps up, the first step (80 users) already does not. Its
    # latency stays within every SLO here, so only throughput tracking can tell.
    v = saturation.find(closed_system([80, 100], capacity=60, plateau=50), ERRORS_ONLY, minimum_users=80)
    basis = v.figures["offered_basis"]
    assert basis["source"] == "plateau" and basis["per_user_rps"] == pytest.approx(1.0, rel=0.05)
    assert v.steps[0].offered_rps == pytest.approx(80, rel=0.05) and v.steps[0].tracking == pytest.approx(0.75, abs=0.05)
    assert v.result == "below first step" and v.outcome == "fail", v.reason
    assert "(at the plateau's per-user rate)" in v.reason
    # Without the plateau the saturated first step sets the standard, and 80 users look sustained.
    v = saturation.find(closed_system([80, 100], capacity=60), ERRORS_ONLY, minimum_users=80)
    assert v.figures["offered_basis"]["source"] == "first steps" and v.figures["offered_basis"]["steps"] == ["step 1"]
    assert v.result == "value" and v.users == 80


def test_a_plateau_that_broke_an_slo_does_not_set_the_offered_load():
    v = saturation.find(closed_system([80, 100], capacity=40, plateau=60), SLOS)
    basis = v.figures["offered_basis"]
    assert basis["source"] == "first steps"
    assert basis["plateau_not_used"] == "the plateau broke all.p95<250ms, all.throughput>=1000/s"  # a plateau floor counts there


def test_a_plateau_without_a_trusted_generator_does_not_set_the_offered_load():
    cpu = busy_generator((10, 40))
    run = closed_system([20, 40, 60], capacity=100, plateau=20, gen_cpu=cpu, checks=engine_checks(cpu, 130))
    v = saturation.find(run, SLOS)
    basis = v.figures["offered_basis"]
    assert basis["source"] == "first steps" and "could not be trusted on the plateau" in basis["plateau_not_used"]
    assert v.result == "not reached" and v.outcome == "pass", v.reason  # the steps themselves were sound


# --------------------------------------------------------------------------------- declared minimums
@pytest.mark.parametrize(("minimum", "outcome"), [(60, "fail"), (50, "fail"), (40, "inconclusive")])
def test_below_the_first_step_fails_a_minimum_not_below_it(minimum, outcome):
    v = saturation.find(closed_system([50, 60, 70, 80], capacity=20), SLOS, minimum_users=minimum)
    assert v.result == "below first step" and v.outcome == outcome, v.reason
    if outcome == "fail":
        assert f"below the minimum {minimum}" in v.reason
    else:
        assert "start the steps below it" in v.reason


def test_below_the_first_step_with_an_untrusted_generator_there_is_not_a_failure():
    cpu = busy_generator(step_window(1))
    run = closed_system([50, 60, 70, 80], capacity=20, gen_cpu=cpu, checks=engine_checks(cpu, 120))
    v = saturation.find(run, SLOS, minimum_users=60)
    assert v.outcome == "inconclusive" and "step 1" in v.reason


@pytest.mark.parametrize("config", ["single", "vertical", "horizontal1", "horizontal2"])
def test_committed_local_minimum_judges_the_smoke_profile(config):
    # A configuration that saturates at 65 users, between the smoke profile's plateau and its first step.
    phases = load_profile("smoke").phases(1.0)
    plateau, first = (min(p.deploy_users for p in phases if p.kind == kind) for kind in ("plateau", "step"))
    assert plateau < 65 < first
    minimum = slo.saturation_minimum(None, "local", config)
    v = saturation.find(closed_loop(phases, capacity=65), slo.load_slos(None, "local"), minimum_users=minimum)
    assert v.result == "below first step", v.reason
    assert v.outcome == ("pass" if minimum is None else "fail" if minimum >= first else "inconclusive"), v.reason


# ---------------------------------------------------------------------- capacity and the SLO-compliant load
def test_capacity_and_the_slo_compliant_load_are_two_figures():
    run = closed_system([20, 40, 60, 80, 100, 120, 140, 160], capacity=100)
    v = saturation.find(run, SLOS)
    assert v.figures["capacity"]["rps"] == pytest.approx(100, rel=0.03) and not v.figures["capacity"]["lower_bound"]
    assert v.figures["slo_compliant"]["users"] == 100 and v.figures["slo_compliant"]["broken_at"] == "step 6"
    strict = [slo.parse_threshold("f", "local", "all.p95", "< 52 ms")]  # breaks long before the target is full
    v = saturation.find(run, strict)
    assert v.figures["capacity"]["rps"] == pytest.approx(100, rel=0.03)  # capacity does not care about the SLO
    assert v.figures["slo_compliant"]["users"] is None and v.figures["slo_compliant"]["broken_at"] == "step 1"
    short = closed_system([20, 40], capacity=100)
    c = saturation.capacity(short, SLOS)
    assert c.lower_bound and c.rps == pytest.approx(40, rel=0.05) and "capacity is at least" in c.reason


def test_one_saturation_verdict_per_configuration_the_median_replicate_with_each_listed():
    from scaleperf.analysis import session

    runs = [
        closed_system([20, 40, 60, 80, 100, 120], capacity=cap, seed=i, replicate=i + 1) for i, cap in enumerate((60, 100, 80))
    ]
    inputs = session.Inputs(provider="local", slos=tuple(SLOS), minimums={"single": 70}, expectations=())
    v = session.saturation_verdict("single", runs, inputs)
    assert v.users == 80 and v.outcome == "pass"  # the median of 60, 100 and 80 users
    assert "the median replicate (r3) of 3: r1 60 users (fail), r2 100 users (pass), r3 80 users (pass)" in v.reason
    assert [r["users"] for r in v.figures["replicates"]] == [60, 100, 80]


def test_cpu_limits_none_make_the_saturation_point_inconclusive_unless_accepted():
    from scaleperf.analysis import session

    unlimited = {"deployment": {"limits": {"mechanism": "none"}}}
    runs = [closed_system([20, 40, 60, 80, 100, 120], capacity=100, meta=unlimited)]
    inputs = session.Inputs(provider="local", slos=tuple(SLOS), minimums={}, expectations=())
    v = session.saturation_verdict("single", runs, inputs)
    assert v.outcome == "inconclusive" and "CPU limits were 'none'" in v.reason and "--accept-unlimited" in v.reason
    accepted = session.saturation_verdict("single", runs, session.Inputs(**{**inputs.__dict__, "accept_unlimited": True}))
    assert accepted.outcome == "pass" and accepted.users == 100
    assert accepted.reason.endswith("CPU limits were 'none' for single r1, accepted for a quick look")
