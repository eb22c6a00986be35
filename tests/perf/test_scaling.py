"""Which configuration is really better than which: one test per expectation in fixtures/expectations.toml.

Configurations may have run in different sessions (one tox environment each, sharing SCALEPERF_RUN_ID):
the comparison reads the run's verdicts (verdicts.json), judged over every configuration stored in the run:
the expectation's two for the pairwise test, all of them for Kruskal-Wallis, in the family of every declared
expectation. A configuration that has not run is a skip that names
it; results of different scales or profiles are refused.

Without xdist, a selected configuration that has not run yet runs on first use (interleaved with the other
selected configurations, as the campaign always runs). Under xdist each configuration's tests run on the
worker that holds its xdist group, so a comparison never runs a configuration itself: it reads the results
from disk, waiting for selected configurations that are still running on other workers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from verdicts import settle, verdict_of

# Every comparison is in one xdist group of its own. Under `--dist loadgroup` a group is one unit of work:
# one worker takes it and runs its tests in order, and units are handed out in a fixed order (largest first,
# then collection order), each to a worker with at most two tests left. Each configuration's group holds
# its run-sanity, saturation and SLO tests, more than the comparisons (9 against 4 as shipped), so every
# configuration is handed to a worker before the comparisons are, and the worker that takes them has
# finished its own configuration's load runs. A comparison therefore waits only for runs that other workers
# are making, never for one queued behind itself; and the comparisons, together, occupy one worker rather
# than one slot on every worker. Should the order ever differ (a custom selection, one worker), the wait
# below still ends: it gives up once nothing in the run has been written for a profile's length plus
# provisioning, and the test skips.
pytestmark = [pytest.mark.perf, pytest.mark.xdist_group("comparisons")]

POLL_S = 10.0  # how often a waiting comparison looks at the run directory
PROVISION_ALLOWANCE_S = 900.0  # per run, beyond the profile's own length: provisioning, data reset, teardown
_gave_up: set[tuple[str, str]] = set()  # (run directory, configuration) this worker stopped waiting for


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "expectation" in metafunc.fixturenames:
        from scaleperf.analysis import compare

        expectations = compare.load_expectations(None)
        metafunc.parametrize("expectation", expectations, ids=[e.id for e in expectations])


def test_expectation(expectation, perf_settings, record_property, perf_extras, request):
    from scaleperf import results

    run_root = perf_settings.results_dir / perf_settings.run_id
    if hasattr(request.config, "workerinput"):
        unfinished = wait_for_other_workers(expectation, perf_settings, request)
        if unfinished:
            names = ", ".join(unfinished)
            pytest.skip(
                f"{names} did not finish in run {perf_settings.run_id} ({run_root}) while this comparison waited; "
                f"run it (e.g. tox -e {unfinished[0]}, or pytest -m perf --config={unfinished[0]}) "
                f"with SCALEPERF_RUN_ID={perf_settings.run_id}, then rerun the comparisons"
            )
    else:
        campaign = request.getfixturevalue("campaign")
        for name in expectation.configs:
            config = next((c for c in campaign.configs if c.name == name), None)
            if config is not None:
                campaign.results(config)  # run it now (interleaved with the other selected ones) if it has not run
    stored = {stored.config for stored in results.find_runs(perf_settings.results_dir, perf_settings.run_id)}
    missing = [n for n in expectation.configs if n not in stored]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} has not run in run {perf_settings.run_id}; "
            f"run it (e.g. tox -e {missing[0]}) with the same SCALEPERF_RUN_ID"
        )
    verdict = verdict_of(perf_settings, request, f"comparison/{expectation.id}")  # judged in the family of every declared one
    record_property("config", " vs ".join(expectation.configs))
    record_property("verdict", verdict.outcome)
    perf_extras.comparison(verdict, None)
    if verdict.outcome == "pass":  # a fail or skip states the reason in the row already: each verdict shown once
        perf_extras.verdict(verdict)
    settle(verdict, request)


# ------------------------------------------------------------------------------------- under xdist
def wait_for_other_workers(expectation, perf_settings, request) -> list[str]:
    """Wait until the selected configurations that this session runs have finished on disk.

    Waited for: every selected configuration whose tests are in this session (another worker runs it),
    the expectation's two so that it can be judged, the others so that Kruskal-Wallis sees every
    configuration. The wait gives up when nothing in the run has been written for a profile's length
    plus provisioning, or after the whole campaign's worst-case length, whichever comes first; a
    configuration given up on is not waited for again. Returns the expectation's configurations that
    this session runs and that have not finished.
    """
    from scaleperf.configs import load_configs, select
    from scaleperf.profiles import load_profile

    run_root = perf_settings.results_dir / perf_settings.run_id
    selected = [c.name for c in select(load_configs(), list(perf_settings.configs))]
    running = {
        item.callspec.params["scaling_config"].name
        for item in request.session.items
        if hasattr(item, "callspec") and "scaling_config" in item.callspec.params
    }
    ours = [n for n in selected if n in running]  # a configuration no test here runs must come from another session
    replicates = perf_settings.replicates
    awaited = [n for n in ours if (str(run_root), n) not in _gave_up]
    stall_s = load_profile(perf_settings.profile).duration_s + PROVISION_ALLOWANCE_S
    cap_s = 2 * replicates * max(1, len(awaited)) * stall_s  # every awaited run one after the other, twice over
    started = last_change = time.monotonic()
    latest = latest_write(run_root)
    pending = [n for n in awaited if not finished(run_root, n, replicates)]
    while pending and time.monotonic() - last_change <= stall_s and time.monotonic() - started <= cap_s:
        time.sleep(POLL_S)
        if latest_write(run_root) != latest:
            latest, last_change = latest_write(run_root), time.monotonic()
        pending = [n for n in pending if not finished(run_root, n, replicates)]
    _gave_up.update((str(run_root), n) for n in pending)
    return [n for n in expectation.configs if n in ours and not finished(run_root, n, replicates)]


def finished(run_root: Path, config: str, replicates: int) -> bool:
    """Whether ``config``'s runs in the run directory are over: every replicate's run ended, or one was
    interrupted (the campaign makes no further runs of a configuration whose run failed)."""
    ended = 0
    for replicate in range(1, replicates + 1):
        try:
            meta = json.loads((run_root / config / f"r{replicate}" / "meta.json").read_text()).get("meta", {})
        except (FileNotFoundError, json.JSONDecodeError):
            continue
        if meta.get("interrupted"):
            return True
        ended += bool(meta.get("ended_at"))
    return ended == replicates


def latest_write(run_root: Path) -> float:
    """When any run in the run directory last wrote its meta.json (a running load phase does, every few seconds)."""
    times = []
    for meta in run_root.glob("*/r*/meta.json"):
        try:
            times.append(meta.stat().st_mtime)
        except FileNotFoundError:  # replaced between listing and stat
            continue
    return max(times, default=0.0)
