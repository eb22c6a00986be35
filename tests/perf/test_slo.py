"""Service-level objectives, judged on each configuration's plateau (the design load), warm-up excluded.

One test per configuration and SLO (from fixtures/slos.toml, the thresholds of the provider in use), judged
once over the requests of every replicate together: decided when a distribution-free confidence interval
of the metric lies wholly on one side of the threshold, each replicate's own value shown beside it.
"""

from __future__ import annotations

import pytest
from verdicts import settle, verdict_of

pytestmark = pytest.mark.perf


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "slo" in metafunc.fixturenames:
        from scaleperf.analysis import slo as slo_mod

        slos = slo_mod.load_slos(None, metafunc.config.getoption("scaleperf_provider") or "local")
        metafunc.parametrize("slo", slos, ids=[s.id for s in slos])


def test_slo(run_results, scaling_config, slo, perf_settings, record_property, perf_extras, request):
    verdict = verdict_of(perf_settings, request, f"slo/{scaling_config.name}/{slo.id}")
    if verdict.outcome == "pass":  # a fail or skip already states the reason in the row: each verdict shown once
        perf_extras.verdict(verdict)
    if verdict.metric == "p95":
        record_property("p95_ms", verdict.measured)
    record_property("config", scaling_config.name)
    record_property("verdict", verdict.outcome)
    settle(verdict, request)
