"""Where each configuration saturates: the highest load step at which the SLOs hold and throughput
still tracks the load, in deployment-scale users and requests/s (fixtures/slos.toml declares the
minimum each configuration must reach).  One verdict per configuration: the median replicate's point,
every replicate's listed beside it."""

from __future__ import annotations

import pytest
from verdicts import settle, stored_verdicts

pytestmark = pytest.mark.perf


def test_saturation_point_meets_declared_minimum(
    run_results, scaling_config, perf_settings, record_property, perf_extras, request
):
    verdict = stored_verdicts(perf_settings, request).get(f"saturation/{scaling_config.name}")
    if verdict is None:
        pytest.skip(f"{scaling_config.name}: the profile has no load steps; no saturation point to judge")
    main = next((r for r in run_results if r.complete), run_results[0])
    perf_extras.saturation(verdict, main)
    if verdict.outcome == "pass":  # a fail or skip states the reason in the row already: each verdict shown once
        perf_extras.verdict(verdict)
    record_property("config", scaling_config.name)
    record_property("verdict", verdict.outcome)
    settle(verdict, request)
