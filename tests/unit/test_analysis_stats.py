"""The statistics every verdict rests on, checked against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from scaleperf.analysis import stats


def test_percentile_is_linear_interpolation_at_q_times_n_minus_1():
    values = list(range(1, 11))  # 1..10: p95 sits at rank 0.95 * 9 = 8.55 -> 9 + 0.55 * (10 - 9)
    assert stats.percentile(values, 95) == pytest.approx(9.55)
    assert stats.percentile(values, 50) == pytest.approx(5.5)
    assert stats.percentile([104.0], 95) == 104.0  # exact, not bucketed to 100
    assert math.isnan(stats.percentile([], 95))


def test_cliffs_delta_and_mann_whitney_on_known_samples():
    a, b = np.array([1.0, 2, 3, 4, 5]), np.array([6.0, 7, 8, 9, 10])
    assert stats.cliffs_delta(a, b) == -1.0
    assert stats.cliffs_delta(b, a) == 1.0
    assert stats.cliffs_delta(a, a) == 0.0
    assert stats.mann_whitney_p(a, b) == pytest.approx(2 / 252)  # the exact minimum, 2 / C(10, 5)
    assert stats.mann_whitney_p(a[:3], b[:3]) == pytest.approx(0.1)  # 3 v 3 can never reject at 0.05
    stacked = stats.mann_whitney_p(np.vstack([a, b]), np.vstack([b, a]))
    assert stacked.shape == (2,) and stacked == pytest.approx([2 / 252, 2 / 252])


def test_bootstrap_interval_of_a_ratio_covers_it_and_is_reproducible():
    rng = np.random.default_rng(0)
    a, b = 130 * rng.lognormal(0, 0.1, 5), 100 * rng.lognormal(0, 0.1, 5)
    lo, hi = stats.bootstrap_ratio_ci(a, b)
    ratio = a.mean() / b.mean()
    assert lo < ratio < hi
    assert (lo, hi) == stats.bootstrap_ratio_ci(a, b)
    narrow = stats.bootstrap_ratio_ci(a, b, confidence=0.5)
    assert lo < narrow[0] < narrow[1] < hi
    assert all(math.isnan(x) for x in stats.bootstrap_ratio_ci(a, []))


def test_minimum_detectable_effect_shrinks_with_replicates():
    assert stats.mde(0.1, 10, 10) < stats.mde(0.1, 5, 5) < stats.mde(0.1, 4, 4)
    assert stats.mde(0.2, 5, 5) > stats.mde(0.1, 5, 5)
    assert math.isnan(stats.mde(0.1, 1, 5))
    n = stats.replicates_needed(0.1, 0.2)
    assert stats.mde(0.1, n, n) <= 0.2 < stats.mde(0.1, n - 1, n - 1)
    assert stats.replicates_needed(0.0, 0.2) == stats.MIN_REPLICATES
    assert stats.replicates_needed(5.0, 0.01) is None


def test_relative_sd_uses_logs_unless_a_value_is_zero():
    a, b = np.array([100.0, 110, 90]), np.array([200.0, 220, 180])
    assert stats.relative_sd(a, b) == pytest.approx(np.log(a).std(ddof=1), rel=1e-9)  # same spread in logs
    zeros = stats.relative_sd(np.array([0.0, 0.02]), np.array([0.01, 0.01]))
    assert zeros == pytest.approx(math.sqrt(0.0002 / 2) / 0.01)


def test_ar1_batch_correlation_matches_simulation():
    rng = np.random.default_rng(4)
    rho, b = 0.9, 30
    x = lfilter([1.0], [1.0, -rho], rng.normal(size=(400, 60 * b)), axis=-1)[:, 1000:]
    means = stats.batch_means(x, b)
    # The process mean is known (0): pooled over rows, without the small-sample bias of re-estimating it.
    observed = (means[:, :-1] * means[:, 1:]).sum() / (means**2).sum()
    assert observed == pytest.approx(float(stats.ar1_batch_correlation(rho, b)), abs=0.04)
    assert float(stats.ar1_batch_correlation(0.0, 10)) == 0.0


def test_lag1_autocorrelation_and_batches():
    x = np.tile([1.0, -1.0], 50)
    assert float(stats.lag1_autocorr(x)) == pytest.approx(-0.99)
    assert np.isnan(stats.lag1_autocorr(np.ones(10)))
    assert stats.batch_edges((10, 57), 10) == [(10, 20), (20, 30), (30, 40), (40, 50)]
    assert list(stats.batch_means(np.arange(10.0), 3)) == [1.0, 4.0, 7.0]


def test_batch_length_is_capped_to_keep_enough_batches():
    rng = np.random.default_rng(2)
    x = lfilter([1.0], [1.0, -0.99], rng.normal(size=(4, 60)), axis=-1)
    assert stats.batch_length_s(x, 60) == 60 // stats.MIN_BATCHES
    assert stats.batch_length_s(np.zeros(0), 60) == stats.MIN_BATCH_S


def test_kruskal_needs_two_groups_with_spread():
    assert math.isnan(stats.kruskal_p(np.array([1.0, 2.0])))
    assert math.isnan(stats.kruskal_p(np.zeros(3), np.zeros(4)))
    assert stats.kruskal_p(np.arange(5.0), np.arange(5.0) + 10, np.arange(5.0) + 20) < 0.01
