"""Every configuration's load run happened and can be trusted enough to judge.

These checks come before the SLOs: a run that made no requests, ended early, or drowned in errors
says nothing about the configuration, whatever its percentiles look like.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.perf

MAX_ERROR_RATE = 0.05  # beyond this the run measured failures, not the configuration (the SLOs are stricter)
MIN_REQUESTS = 100  # fewer and no percentile is worth reporting


def test_run_completed_with_requests(run_results, scaling_config, record_property, perf_extras):
    for result in run_results:
        perf_extras.run(result)
        n = len(result.samples)
        error_rate = float(np.mean(result.samples.failed)) if n else 1.0
        record_property("config", scaling_config.name)
        record_property("requests", n)
        record_property("error_rate", error_rate)
        record_property("p95_ms", float(np.percentile(result.samples.latency_ms, 95)) if n else None)
        assert result.complete, f"{scaling_config.name}: the run did not finish (results kept, marked incomplete)"
        assert n >= MIN_REQUESTS, f"{scaling_config.name}: only {n} requests were made"
        assert error_rate <= MAX_ERROR_RATE, (
            f"{scaling_config.name}: {error_rate:.1%} of {n} requests failed (sanity bound {MAX_ERROR_RATE:.0%}); "
            f"see {result.meta.get('out_dir', 'the results directory')}"
        )


def test_every_phase_was_run(run_results, scaling_config):
    for result in run_results:
        assert result.phases, f"{scaling_config.name}: the result records no load phases"
        last = max(p.end_s for p in result.phases)
        assert result.samples.t.max() >= 0.8 * last, f"{scaling_config.name}: requests stopped before the profile ended"
        for phase in result.phases:
            inside = result.samples.mask(window=(phase.start_s, phase.end_s)).sum()
            assert inside > 0, f"{scaling_config.name}: no requests during phase {phase.label!r}"
