"""Whether the load generator can be trusted over one window of a run, from the checks the engine writes."""

from __future__ import annotations

import numpy as np
import pytest

from scaleperf.analysis import generator
from scaleperf.load import selfcheck
from scaleperf.results import Phase, RunResult, Samples

SECONDS = 200


def run(checks: dict, cpu: np.ndarray | None = None, *, series: bool = True) -> RunResult:
    """A 200-second run with the given self-checks and per-second generator CPU (20 % unless given)."""
    cpu = np.full(SECONDS, 20.0) if cpu is None else cpu
    phase = Phase(kind="plateau", label="plateau", start_s=0, end_s=SECONDS, users=10, deploy_users=10)
    return RunResult(
        meta={"config": "single", "complete": True},
        phases=(phase,),
        samples=Samples.empty(),
        series={"t": np.arange(SECONDS, dtype=np.float64), "gen_cpu_pct": cpu} if series else {},
        checks=checks,
    )


def engine_checks(cpu: np.ndarray | None = None, **kw) -> dict:
    """The checks the load engine writes (scaleperf.load.selfcheck.checks), with a quiet generator by default."""
    args = dict(
        cpu_per_s=np.full(SECONDS, 20.0) if cpu is None else cpu,
        lag_ms=np.ones(100),
        paced_waits=100,
        cpu_warnings=0,
        lost_workers=[],
    )
    return selfcheck.checks(**{**args, **kw})


def late_overload() -> np.ndarray:
    return np.where(np.arange(SECONDS) >= 170, 99.0, 20.0)


def test_a_quiet_generator_has_no_problems():
    checks = engine_checks()
    assert not checks["saturated"]
    assert generator.problems(run(checks), 0, SECONDS) == []


def test_generator_cpu_is_judged_on_the_window():
    cpu = late_overload()
    checks = engine_checks(cpu)
    assert checks["saturated"]  # the run as a whole is flagged ...
    r = run(checks, cpu)
    assert generator.problems(r, 0, 160) == []  # ... but the first 160 s are sound
    [why] = generator.problems(r, 160, 200)
    assert why == "load generator CPU p95 99% > 90% over 160-200 s"
    assert generator.problems(r, 0, 175) == []  # 5 busy seconds out of 175 stay under the p95 rule


def test_a_busy_window_is_flagged_even_when_the_whole_run_is_not():
    cpu = np.where((np.arange(SECONDS) >= 50) & (np.arange(SECONDS) < 58), 99.0, 20.0)
    checks = engine_checks(cpu)
    assert not checks["saturated"]
    assert generator.problems(run(checks, cpu), 50, 60) == ["load generator CPU p95 99% > 90% over 50-60 s"]


def test_each_workers_cpu_is_judged_on_the_window():
    per_s = {"w1": [40.0] * 150 + [95.0] + [40.0] * 49, "w2": [None] * 10 + [30.0] * 190}
    checks = engine_checks(worker_cpu_per_s=per_s, worker_names={"w1": "host-a pid 7"})
    assert checks["saturated"]
    r = run(checks)
    assert generator.problems(r, 0, 150) == []
    [why] = generator.problems(r, 140, 160)
    assert why.startswith("load worker w1 reached 95% CPU (> 90%) at 150 s")


@pytest.mark.parametrize(
    "lost",
    ["local pid 41 (exit code 1 at 120s: Traceback ...)", "a1b2c3 (stopped sending heartbeats at 120s)"],
)
def test_a_lost_worker_counts_from_when_it_was_lost(lost):
    r = run(engine_checks(lost_workers=[lost]))
    assert generator.problems(r, 0, 100) == []
    assert generator.problems(r, 200, 250) and generator.problems(r, 100, 130)
    # Noticed at 120 s: the worker may have stopped a few seconds earlier.
    [why] = generator.problems(r, 100, 117)
    assert lost in why and "was lost before 117 s" in why


def test_a_lost_worker_without_a_time_counts_for_the_whole_run():
    r = run(engine_checks(lost_workers=["w9"]))
    [why] = generator.problems(r, 0, 10)
    assert "load worker w9 was lost" in why and "over the whole run" in why


def test_task_lag_on_the_last_seconds_leaves_the_earlier_windows_sound():
    at = np.repeat(np.arange(SECONDS, dtype=np.float64), 10) + 0.5  # 10 paced waits a second
    lag = np.where(at >= 170, 400.0, 2.0)  # the generator fell behind on the last load step only
    checks = engine_checks(lag_ms=lag, paced_waits=len(lag), lag_at_s=at)
    assert checks["saturated"] and checks["lag_p99_ms"] > 100  # the run as a whole is flagged ...
    r = run(checks)
    assert generator.problems(r, 15, 160) == []  # ... the plateau before it is not
    [why] = generator.problems(r, 160, 200)
    assert why == (
        "paced users started up to 400 ms late over 160-200 s: 300 of 400 waits later than 100 ms (lag p99 > 100 ms): "
        "the schedule slipped"
    )
    assert generator.problems(r, 0, 171) == []  # 10 late waits of 1710: under the 1 % a p99 allows


def test_a_locust_cpu_warning_counts_against_the_seconds_it_measured():
    r = run(engine_checks(cpu_warnings=1, cpu_warnings_at_s=[185.0]))
    assert generator.problems(r, 15, 160) == []
    assert generator.problems(r, 160, 175) == []  # it measured 175-185 s
    [why] = generator.problems(r, 170, 200)
    assert why == "Locust warned 1 time(s) that its CPU was above 90% (at 185 s), over 170-200 s"


def test_task_lag_and_locust_warnings_without_times_count_for_the_whole_run_and_say_so():
    r = run(engine_checks(lag_ms=np.full(100, 500.0), cpu_warnings=2))
    warned, lag = sorted(generator.problems(r, 0, 10))
    assert lag.startswith("paced users started 500 ms late") and "over the whole run: task lag is recorded without times" in lag
    assert warned.startswith("Locust warned 2 time(s)") and "over the whole run" in warned


def test_results_without_per_second_figures_fall_back_to_the_run_wide_checks():
    cpu = late_overload()
    checks = engine_checks(cpu, worker_cpu_per_s={"w1": [95.0] + [40.0] * 199})
    old = {k: v for k, v in checks.items() if k not in ("worker_cpu_per_s", "lost_workers")}
    old["reasons"] = [*old["reasons"], "load worker w3 was lost during the run; the load fell short of the profile"]
    problems = generator.problems(run(old, series=False), 0, 10)
    assert len(problems) == 3 and all("over the whole run" in p for p in problems)
    assert problems[0].startswith("load generator CPU p95 ")
    assert problems[1].startswith("load worker w1 reached 95% CPU")
    assert problems[2].startswith("load worker w3 was lost")
    assert generator.problems(run(old, cpu), 0, 160)[0].startswith("load worker w1")  # the CPU series is used when kept


def test_a_window_without_cpu_figures_falls_back_to_the_run_wide_figure():
    cpu = late_overload()
    r = run(engine_checks(cpu), np.where(np.arange(SECONDS) < 100, cpu, np.nan))
    assert generator.problems(r, 0, 100) == []
    [why] = generator.problems(r, 150, 200)
    assert "load generator CPU p95" in why and "no per-second generator CPU covers this window" in why


def test_unknown_and_bare_checks_count_for_the_whole_run():
    [why] = generator.problems(run({"saturated": True, "reasons": ["generator CPU 97 %"]}), 0, 10)
    assert why.startswith("generator CPU 97 % (over the whole run")
    [why] = generator.problems(run({"saturated": True, "reasons": []}), 0, 10)
    assert "saturated without a reason" in why
    assert generator.problems(run({}), 0, 10) == []
