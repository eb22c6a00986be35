"""Where each configuration saturates: the highest load step at which the SLOs hold and throughput
still tracks the load, in deployment-scale users and requests/s (fixtures/slos.toml declares the
minimum each configuration must reach)."""

from __future__ import annotations

import pytest
from verdicts import settle

pytestmark = pytest.mark.perf


def test_saturation_point_meets_declared_minimum(run_results, scaling_config, perf_settings, record_property, perf_extras):
    from scaleperf.analysis import saturation, slo

    slos = slo.load_slos(None, perf_settings.provider)
    minimum = slo.saturation_minimum(None, perf_settings.provider, scaling_config.name)
    verdicts = []
    for result in run_results:
        verdict = saturation.find(result, slos, minimum_users=minimum)
        verdicts.append(verdict)
        perf_extras.saturation(verdict, result)
    record_property("config", scaling_config.name)
    record_property("verdict", ", ".join(v.outcome for v in verdicts))
    settle(verdicts, scaling_config.name)
