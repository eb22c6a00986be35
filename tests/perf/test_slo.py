"""Service-level objectives, judged on each configuration's plateau (the design load), warm-up excluded.

One test per configuration and SLO (from fixtures/slos.toml, the thresholds of the provider in use).
A failure states the measured value, the threshold and the window; a run that cannot be judged (the load
generator saturated, the run was cut short) is reported as inconclusive, not as a pass or a fail.
"""

from __future__ import annotations

import pytest
from verdicts import settle

pytestmark = pytest.mark.perf


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "slo" in metafunc.fixturenames:
        from scaleperf.analysis import slo as slo_mod

        slos = slo_mod.load_slos(None, metafunc.config.getoption("scaleperf_provider") or "local")
        metafunc.parametrize("slo", slos, ids=[s.id for s in slos])


def test_slo(run_results, scaling_config, slo, record_property, perf_extras):
    from scaleperf.analysis import slo as slo_mod

    verdicts = []
    for result in run_results:
        [verdict] = slo_mod.evaluate(result, [slo])
        verdicts.append(verdict)
        perf_extras.verdict(verdict)
        if verdict.figures.get("metric") == "p95":
            record_property("p95_ms", verdict.figures.get("measured"))
    record_property("config", scaling_config.name)
    record_property("verdict", ", ".join(v.outcome for v in verdicts))
    settle(verdicts, scaling_config.name)
