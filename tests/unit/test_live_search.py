"""The live saturation search against a simulated server of known capacity, second by second.

The simulation stands in for the load engine: each second it makes the requests the shape's users send (one
sign-in per new user, then polls), serves them up to the server's capacity, and hands them to the search as
the sink does. What is checked is the search's own logic: the offered load it measures on the plateau, the
warm-up it ends once a step's users have signed in, and the bracket it closes around the capacity.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scaleperf.load.searching import MIN_WARMUP_S, SETTLE_S, LiveSearch
from scaleperf.profiles import profile_from_dict
from scaleperf.search import LatencyLimit, StepCriteria

PER_USER_RPS = 0.5  # each user's requests per second once signed in
GROUPS = {"auth": 0, "polls": 1}


def profile(warmup_s: float = 20.0):
    return profile_from_dict(
        "t",
        {
            "phases": [
                {"kind": "ramp", "users": 40, "rate": 4.0},
                {"kind": "plateau", "duration_s": 20, "warmup_s": 5},
                {
                    "kind": "search",
                    "start": 60,
                    "factor": 1.6,
                    "precision": 0.10,
                    "max_users": 2000,
                    "max_steps": 9,
                    "step_s": warmup_s + 15,
                    "warmup_s": warmup_s,
                    "rate": 20.0,
                },
            ]
        },
    )


def run(capacity_rps: float, sign_in_s: float, warmup_s: float = 20.0, report_lag_s: float = 0.0):
    """Drive a LiveSearch as the engine does; the server serves ``capacity_rps`` and a sign-in takes ``sign_in_s``.
    ``report_lag_s``: requests reach the search this long after they complete (load workers report every 3 s),
    and the search is told so."""
    prof = profile(warmup_s)
    segments = prof.segments(1.0)
    groups = dict(GROUPS)
    search = LiveSearch(prof, segments, 1.0, StepCriteria(latency=(LatencyLimit("polls", 95, 250.0),)), groups)
    rng = np.random.default_rng(1)
    signed_at: list[float] = []  # when each user present signed in
    pending: list[tuple[float, dict]] = []  # chunks on their way from the load workers
    users = 0
    now = 0.0
    while not search.done and now < 2000:
        seg = next((s for s in segments if s.start_s <= now < s.end_s), segments[-1])
        t, lat, grp = [], [], []
        for _ in range(max(0, seg.users - users)):  # new users sign in
            at = now + rng.uniform(0, 1)
            t.append(at)
            lat.append(sign_in_s * 1000)
            grp.append(0)
            signed_at.append(at + sign_in_s)
        del signed_at[seg.users :]
        users = seg.users
        active = sum(1 for s in signed_at if s <= now)
        offered = active * PER_USER_RPS
        n = rng.poisson(offered)
        load = offered / capacity_rps
        wait_ms = 20.0 if load < 0.8 else 20.0 + 2000.0 * (load - 0.8)
        served = min(n, rng.poisson(capacity_rps)) if load > 1 else n
        t += list(now + rng.uniform(0, 1, served))
        lat += list(rng.exponential(wait_ms, served))
        grp += [1] * served
        chunk = {
            "t": np.asarray(t, dtype=float),
            "latency_ms": np.asarray(lat, dtype=np.float32),
            "group": np.asarray(grp, dtype=np.int64),
            "error": np.zeros(len(t), dtype=np.int64),
        }
        pending.append((now + 1.0 + report_lag_s, chunk))
        now += 1.0
        while pending and pending[0][0] <= now:
            search.add(pending.pop(0)[1])
        search.advance(now, known_until=now - report_lag_s if report_lag_s else None)
    return search


def test_the_offered_load_is_measured_on_the_plateau():
    search = run(capacity_rps=100.0, sign_in_s=0.5)
    assert search.judge.per_user_rps == pytest.approx(PER_USER_RPS, rel=0.15)


def test_a_step_whose_users_signed_in_quickly_is_judged_sooner():
    search = run(capacity_rps=100.0, sign_in_s=0.5)
    steps = [s for s in search.segments if s.kind == "step"]
    assert steps, "the search ran no step"
    ups = [seg for before, seg in itertools.pairwise(steps) if seg.users > before.users] + steps[:1]
    for seg in ups:
        assert MIN_WARMUP_S <= seg.warmup_s < 20.0, (seg.label, seg.warmup_s)
        assert seg.end_s - seg.start_s <= seg.warmup_s + 15.0 + 1e-9
    slow = run(capacity_rps=100.0, sign_in_s=30.0)
    assert all(s.warmup_s == pytest.approx(20.0) for s in slow.segments if s.kind == "step" and s.end_s - s.start_s >= 20)


def test_the_warm_up_waits_for_the_last_sign_in_and_settles():
    search = run(capacity_rps=100.0, sign_in_s=9.0)
    first = next(s for s in search.segments if s.kind == "step")
    # 20 new users at 20/s arrive within a second or two; each sign-in takes 9 s; the judge sees them at most
    # a second late; then SETTLE_S more.
    assert 9.0 + SETTLE_S <= first.warmup_s <= 9.0 + SETTLE_S + 3.0


@pytest.mark.parametrize("capacity_rps", [60.0, 150.0])
def test_the_bracket_closes_around_the_capacity(capacity_rps):
    search = run(capacity_rps=capacity_rps, sign_in_s=0.5)
    assert search.done
    held, broke = search.bracket.highest_ok, search.bracket.lowest_broken
    assert held is not None and broke is not None
    assert broke / held <= 1.10 + 1e-9
    true_users = capacity_rps / PER_USER_RPS
    # p95 crosses 250 ms at 80 % + ~0.06 of the capacity in this server; throughput tracks up to 100 %
    assert 0.7 * true_users <= held <= 1.05 * true_users, (held, broke, true_users)


def test_a_small_shortfall_on_few_requests_is_noise_but_not_on_many():
    from scaleperf.search import BROKE, OK, StepJudge, Window

    def window(completed: int, seconds: float) -> Window:
        n = completed
        return Window(np.full(n, 10.0), np.array(["polls"] * n, dtype=object), np.zeros(n, bool), completed, seconds)

    few = StepJudge(StepCriteria(), per_user_rps=0.5, base_requests=150)  # the plateau saw 150 requests
    assert few.judge(window(88, 10.0), 20, final=True).outcome == OK  # 88 % of 100 offered
    many = StepJudge(StepCriteria(), per_user_rps=0.5, base_requests=15000)
    assert many.judge(window(8800, 1000.0), 20, final=True).outcome == BROKE
    exact = StepJudge(StepCriteria(), per_user_rps=0.5)  # the rate taken as exact: only the step's count is noise
    assert exact.judge(window(88, 10.0), 20, final=True).outcome == OK
    assert exact.judge(window(60, 10.0), 20, final=True).outcome == BROKE


def test_a_step_below_a_broken_one_sheds_users_at_once_and_keeps_its_whole_warm_up():
    search = run(capacity_rps=60.0, sign_in_s=0.5)
    segs = [s for s in search.segments if s.kind == "step"]
    downs = [(before, seg) for before, seg in itertools.pairwise(segs) if seg.users < before.users]
    assert downs and all(s.kind != "recover" for s in search.segments)
    for before, seg in downs:
        assert seg.rate >= before.users - seg.users  # the surplus stops within a second, nobody logs in again
        assert seg.warmup_s == pytest.approx(20.0)  # the queue the broken step built drains in the warm-up
        assert seg.start_s == pytest.approx(before.end_s)


def test_requests_still_on_their_way_from_the_workers_are_not_a_shortfall():
    # Reports 3 s late; told so, the search judges the span that has arrived and finds the same capacity.
    on_time = run(capacity_rps=150.0, sign_in_s=0.5)
    late = run(capacity_rps=150.0, sign_in_s=0.5, report_lag_s=3.0)
    assert late.bracket.highest_ok == on_time.bracket.highest_ok
    assert all("offered load" not in d["reason"] for d in late.decisions if d["outcome"] == "broke" and d["deploy_users"] < 200)


def test_the_progress_line_still_sees_requests_handed_to_the_sink():
    from scaleperf.load.sink import RECENT_S, Sink

    sink = Sink(None, t0=1000.0)
    for second in range(60):
        t = 1000.0 + second + np.array([0.1, 0.5])
        sink({"t": t, "latency_ms": np.full(2, float(second), np.float32), "error": np.zeros(2, np.uint8)})
    recent = sink.recent_latencies(49.0)  # the last 11 s
    assert sorted(set(recent.tolist())) == [float(s) for s in range(49, 60)] and len(recent) == 22
    assert len(sink.recent_latencies(0.0)) <= 2 * (RECENT_S + 2)  # older seconds are let go
