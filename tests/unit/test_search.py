"""The saturation search: grow until a step breaks, bisect to the requested precision, judge a step's window."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scaleperf.errors import ScaleperfError
from scaleperf.profiles import profile_from_dict
from scaleperf.search import BROKE, OK, UNDECIDED, Bracket, LatencyLimit, StepCriteria, StepJudge, Window, percentile_lower_bound


def search(capacity: int, **kw) -> Bracket:
    """Run a bracket against a target that holds every step below ``capacity`` users."""
    bracket = Bracket(**({"start": 100, "factor": 1.5, "precision": 0.10, "max_users": 5000, "max_steps": 20} | kw))
    while (level := bracket.next_level()) is not None:
        bracket.record(level, OK if level < capacity else BROKE)
    return bracket


@pytest.mark.parametrize("capacity", [130, 237, 400, 999, 3100])
def test_the_bracket_closes_within_the_precision_around_the_capacity(capacity):
    bracket = search(capacity)
    low, high = bracket.highest_ok, bracket.lowest_broken
    assert low < capacity <= high
    assert high <= low * 1.10
    # growth to the first break, then about log2(log(factor) / log(1 + precision)) bisections: far fewer than
    # a 10 % ladder from the start would need
    ladder = math.ceil(math.log(capacity / 100) / math.log(1.10)) + 1
    assert len(bracket.tried) < ladder or capacity < 200


def test_growth_is_geometric_and_bisection_geometric_midpoints():
    bracket = search(400, factor=2.0)
    assert [u for u, _ in bracket.tried[:4]] == [100, 200, 400, 283]  # 400 broke; sqrt(200 x 400) = 283


def test_the_search_stops_at_max_users_without_a_break():
    bracket = search(10_000, max_users=1000)
    assert bracket.lowest_broken is None
    assert max(u for u, _ in bracket.tried) == 1000
    assert "no step broke up to 1000" in bracket.describe()


def test_a_first_step_that_breaks_searches_below_it():
    bracket = search(40)
    assert bracket.tried[0] == (100, BROKE)
    assert bracket.highest_ok is not None and bracket.highest_ok < 40 <= bracket.lowest_broken


def test_levels_that_run_the_same_local_users_are_not_both_tried():
    # at scale 0.01, 450 and 470 deployment users are both 5 local users: the bisection stops there
    bracket = search(460, scale=0.01)
    levels = [round(u * 0.01) for u, _ in bracket.tried]
    assert len(levels) == len(set(levels))


def test_max_steps_bounds_the_search():
    assert len(search(3000, max_steps=4).tried) == 4


def window(latency_ms, groups=None, failed=None, completed=None, seconds=10.0) -> Window:
    latency_ms = np.asarray(latency_ms, dtype=float)
    n = len(latency_ms)
    return Window(
        latency_ms=latency_ms,
        groups=np.asarray(groups if groups is not None else ["polls"] * n, dtype=object),
        failed=np.asarray(failed if failed is not None else [False] * n),
        completed=n if completed is None else completed,
        seconds=seconds,
    )


CRITERIA = StepCriteria(latency=(LatencyLimit("polls", 95, 250.0),), max_error_rate=0.01, tracking_floor=0.9)


def test_a_step_within_every_limit_holds_only_when_its_time_is_up():
    judge = StepJudge(CRITERIA, per_user_rps=1.0)
    w = window(np.full(100, 50.0), completed=100, seconds=10.0)  # 10 users x 1/s x 10 s
    assert judge.judge(w, users=10, final=False).outcome == UNDECIDED
    assert judge.judge(w, users=10, final=True).outcome == OK


def test_latency_above_the_limit_breaks_and_far_above_breaks_clearly():
    judge = StepJudge(CRITERIA, per_user_rps=1.0)
    rng = np.random.default_rng(1)
    near = judge.judge(window(rng.normal(230, 15, 200)), users=20, final=False)
    far = judge.judge(window(rng.normal(900, 50, 200)), users=20, final=False)
    assert near.outcome in (BROKE, UNDECIDED) and not near.clear
    assert far.outcome == BROKE and far.clear and "polls p95" in far.reason


def test_latency_of_another_group_is_not_judged_against_the_polls_limit():
    judge = StepJudge(CRITERIA, per_user_rps=1.0)
    w = window(np.full(100, 900.0), groups=["auth"] * 100)
    assert judge.judge(w, users=10, final=True).outcome == OK


def test_throughput_that_stops_tracking_the_offered_load_breaks():
    judge = StepJudge(CRITERIA, per_user_rps=1.0)
    w = window(np.full(100, 50.0), completed=60, seconds=10.0)  # 10 users offer 100 in 10 s; 60 completed
    verdict = judge.judge(w, users=10, final=True)
    assert verdict.outcome == BROKE and verdict.clear and "60% of the offered load" in verdict.reason


def test_errors_above_the_limit_break():
    judge = StepJudge(CRITERIA, per_user_rps=None)
    verdict = judge.judge(window(np.full(100, 50.0), failed=[True] * 3 + [False] * 97), users=10, final=True)
    assert verdict.outcome == BROKE and not verdict.clear


def test_the_percentile_lower_bound_is_an_order_statistic_that_rarely_exceeds_the_truth():
    values = np.arange(1.0, 1001.0)
    bound = percentile_lower_bound(values, 95)
    assert bound in values and 930 < bound < 950
    assert percentile_lower_bound(np.arange(1.0), 95) == -math.inf  # one value bounds nothing at 99.5 %
    # Lognormal latencies, 200 per window: the bound lies above the true p95 in about 0.5 % of windows at most.
    rng = np.random.default_rng(7)
    true_p95 = math.exp(4.0 + 0.5 * 1.6448536)
    above = sum(percentile_lower_bound(rng.lognormal(4.0, 0.5, 200), 95) > true_p95 for _ in range(4000))
    assert above / 4000 < 0.012


def test_a_search_profile_is_validated_and_planned_at_its_longest():
    raw = {
        "phases": [
            {"kind": "ramp", "users": 50, "rate": 5.0},
            {"kind": "plateau", "duration_s": 30, "warmup_s": 5},
            {"kind": "search", "start": 60, "factor": 1.5, "precision": 0.1, "max_users": 2000, "max_steps": 6, "step_s": 20,
             "warmup_s": 8, "rate": 10.0},
        ]
    }  # fmt: skip
    profile = profile_from_dict("s", raw)
    assert profile.has_search
    assert profile.duration_s == pytest.approx(10 + 30 + 6 * 20)
    with pytest.raises(ScaleperfError, match="precision"):
        profile_from_dict("s", {"phases": [raw["phases"][0], raw["phases"][2] | {"precision": 0}]})
    with pytest.raises(ScaleperfError, match="last phase"):
        profile_from_dict("s", {"phases": [raw["phases"][2], raw["phases"][1]]})
