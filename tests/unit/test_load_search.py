"""A saturation search run by the load engine against a target of known capacity (real HTTP, real Locust).

The target's /queue serves 2 requests at a time, each for 20 ms: 100 requests/s. Each user asks every 0.1 s,
so 10 users offer the capacity. The search must bracket that point, record the steps it chose and why, step
down after a broken step, and end the run when it is done rather than at the profile's planned end.
"""

from __future__ import annotations

import itertools

import pytest
from test_load_target import target

from scaleperf.analysis import saturation, slo
from scaleperf.load import profile_from_dict, run
from scaleperf.search import LatencyLimit, StepCriteria

LOCUSTFILE = """
from locust import FastHttpUser, constant_pacing, task


class Asker(FastHttpUser):
    wait_time = constant_pacing(0.1)

    @task
    def ask(self):
        self.client.get("/queue?ms=20", context={"group": "reads"})
"""
CAPACITY_USERS = 10  # 2 workers / 20 ms = 100 req/s, at 10 req/s per user
PROFILE = profile_from_dict(
    "search",
    {
        "phases": [
            {"kind": "ramp", "users": 3, "rate": 20},
            {"kind": "plateau", "duration_s": 4, "warmup_s": 1},
            {"kind": "search", "start": 4, "factor": 1.6, "precision": 0.15, "max_users": 60, "max_steps": 8,
             "step_s": 5, "warmup_s": 2, "rate": 50},
        ]
    },
)  # fmt: skip
CRITERIA = StepCriteria(latency=(LatencyLimit("reads", 95, 100.0),), max_error_rate=0.01, tracking_floor=0.9)


@pytest.mark.slow
def test_the_search_brackets_the_known_capacity_and_ends_when_done(locustfile, tmp_path):
    with target() as url:
        result = run(url, locustfile, PROFILE, out_dir=tmp_path / "run", step_criteria=CRITERIA, progress=False)
    search = result.meta["search"]
    assert search["finished"], search
    outcomes = {s["deploy_users"]: s["outcome"] for s in search["steps"]}
    held = [u for u, o in outcomes.items() if o == "ok"]
    broke = [u for u, o in outcomes.items() if o == "broke"]
    assert held and broke, outcomes
    # the bracket lies around the known capacity (a loaded machine may break a step a little early)
    assert 5 <= max(u for u in held if u < min(broke)) <= CAPACITY_USERS + 1 <= min(broke) + 1 <= 2 * CAPACITY_USERS
    # the recorded phases are the steps the search chose; a broken step is followed straight by a lower one
    steps = result.phases_of("step")
    assert [p.deploy_users for p in steps] == [s["deploy_users"] for s in search["steps"]]
    assert {p.kind for p in result.phases} <= {"ramp", "plateau", "step"}
    for before, after in itertools.pairwise(steps):
        if outcomes[before.deploy_users] == "broke":
            assert after.deploy_users < before.deploy_users and after.start_s == pytest.approx(before.end_s)
    # the run ended with the search, well before the profile's planned longest
    assert result.phases[-1].end_s < PROFILE.duration_s
    assert result.meta["complete"]
    # the saturation analysis reads the search's steps like a ladder
    verdict = saturation.find(result, [slo.parse_threshold("t", "local", "reads.p95", "< 100 ms")])
    assert verdict.users is not None and 5 <= verdict.users <= CAPACITY_USERS + 1, verdict.reason
