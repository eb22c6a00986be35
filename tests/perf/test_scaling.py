"""Which configuration is really better than which: one test per expectation in fixtures/expectations.toml.

Configurations may have run in different sessions (one tox environment each, sharing SCALEPERF_RUN_ID):
the comparison reads the run's results directory. A configuration that has not run is a skip that names
it; results of different scales or profiles are refused.
"""

from __future__ import annotations

import pytest
from verdicts import settle

pytestmark = pytest.mark.perf


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "expectation" in metafunc.fixturenames:
        from scaleperf.analysis import compare

        expectations = compare.load_expectations(None)
        metafunc.parametrize("expectation", expectations, ids=[e.id for e in expectations])


def test_expectation(expectation, campaign, perf_settings, record_property, perf_extras, request):
    from scaleperf import results
    from scaleperf.analysis import compare

    selected = {c.name for c in campaign.configs}
    for name in expectation.configs:
        if name in selected:
            campaign.results(next(c for c in campaign.configs if c.name == name))  # run it now if it has not run
    by_config: dict[str, list] = {}
    for stored in results.find_runs(perf_settings.results_dir, perf_settings.run_id):
        if stored.config in expectation.configs:
            by_config.setdefault(stored.config, []).append(results.load(stored.path))
    missing = [n for n in expectation.configs if n not in by_config]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} has not run in run {perf_settings.run_id}; "
            f"run it (e.g. tox -e {missing[0]}) with the same SCALEPERF_RUN_ID"
        )
    [verdict] = compare.compare(by_config, [expectation], family_size=len(compare.load_expectations(None)))
    record_property("config", " vs ".join(expectation.configs))
    record_property("verdict", verdict.outcome)
    perf_extras.comparison(verdict, by_config)
    settle([verdict], " vs ".join(expectation.configs))
