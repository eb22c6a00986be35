"""Saturation point from step loads of synthetic closed systems with a known capacity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_analysis_slo import make_run

from scaleperf.analysis import saturation, slo
from scaleperf.results import Phase

SLOS = [
    slo.parse_threshold("f", "local", "all.p95", "< 250 ms"),
    slo.parse_threshold("f", "local", "all.error_rate", "< 1 %"),
    slo.parse_threshold("f", "local", "all.throughput", ">= 1000 /s"),  # a plateau floor: must not apply to steps
]


def closed_system(users: list[int], capacity: float, *, scale: float = 1.0, seed: int = 0, **kw):
    """Each local user asks once a second; the server serves at most ``capacity`` req/s.

    Below capacity responses take ~50 ms; beyond it the queue makes them grow with the overload.
    """
    segments = []
    t = 0.0
    for i, n in enumerate(users):
        local = max(1, round(n * scale))
        phase = Phase(kind="step", label=f"step {i + 1}", start_s=t, end_s=t + 30, users=local, deploy_users=n, warmup_s=10)
        achieved = min(local, capacity)
        over = max(0.0, local / capacity - 1)
        segments.append((phase, achieved, lambda rng, k, over=over: 50 + 1000 * over + rng.uniform(-5, 5, k), 0.0))
        t += 30
    return make_run(segments, scale=scale, seed=seed, **kw)


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
    [({"saturated": True}, "load generator saturated first"), ({"complete": False}, "did not complete")],
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
