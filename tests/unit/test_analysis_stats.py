"""The statistics every verdict rests on, checked against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.integrate import quad
from scipy.signal import lfilter
from scipy.stats import norm

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


def test_minimum_replicates_depend_on_the_family_size():
    assert stats.min_exact_mwu_p(4, 4) == pytest.approx(2 / 70)
    assert stats.min_exact_mwu_p(5, 5) == pytest.approx(2 / 252)
    assert stats.min_exact_mwu_p(4, 6) == pytest.approx(2 / 210)
    a, b = np.arange(5.0), np.arange(5.0) + 10
    assert stats.min_exact_mwu_p(5, 5) == pytest.approx(float(stats.mann_whitney_p(a, b)))  # scipy's exact minimum
    assert stats.min_replicates(1) == stats.MIN_REPLICATES == 4  # 2/70 = 0.029 <= 0.05
    assert [stats.min_replicates(m) for m in (2, 4, 6)] == [5, 5, 5]  # 2/252 = 0.0079 <= 0.05/6
    assert stats.min_replicates(7) == 6 and stats.min_replicates(23) == 6 and stats.min_replicates(24) == 7
    for m in range(1, 40):  # the smallest n whose best p clears Holm's first threshold
        n = stats.min_replicates(m)
        assert stats.min_exact_mwu_p(n, n) <= 0.05 / m < stats.min_exact_mwu_p(n - 1, n - 1)
    assert stats.min_replicates(4, alpha=0.01) == 6


def test_minimum_detectable_effect_accounts_for_the_family():
    assert stats.mde(0.1, 4, 4, family_size=4) == float("inf")  # 4 v 4 cannot be significant over four claims
    assert stats.mde(0.1, 5, 5, family_size=4) > stats.mde(0.1, 5, 5)  # the per-claim threshold is alpha / 4
    n = stats.replicates_needed(0.1, 0.3, family_size=4)
    assert n >= 5 and stats.mde(0.1, n, n, family_size=4) <= 0.3 < stats.mde(0.1, n - 1, n - 1, family_size=4)
    assert stats.replicates_needed(0.0, 0.3, family_size=4) == 5
    assert stats.replicates_needed(0.1, 0.3, family_size=4) >= stats.replicates_needed(0.1, 0.3)


def test_rank_test_power_matches_the_exact_figure_at_5_v_5():
    # Over four claims, 5 v 5 is significant only on complete separation: P(every a below every b) + the reverse.
    d = 2.5
    below = quad(lambda x: 5 * norm.pdf(x) * norm.cdf(x) ** 4 * norm.sf(x - d) ** 5, -12, 12 + d)[0]
    above = quad(lambda x: 5 * norm.pdf(x - d) * norm.cdf(x - d) ** 4 * norm.sf(x) ** 5, -12, 12 + d)[0]
    simulated = stats.mwu_power(d, 5, 5, 0.05 / 4)
    assert simulated == pytest.approx(below + above, abs=0.025)  # 3 standard errors of 4 000 draws
    assert stats.mwu_power(d, 5, 5, 0.05 / 4) == simulated  # fixed seed: the same figure every time
    assert stats.mwu_power(0.0, 5, 5, 0.05) == pytest.approx(0.05, abs=0.02)  # at no shift, the attainable level
    assert stats.mwu_power(d, 4, 4, 0.05 / 4) == 0.0  # 2/70 > 0.0125: never significant


def test_minimum_detectable_effect_meets_the_normal_approximation_for_many_replicates():
    def approximation(s: float, n: int, m: int) -> float:
        z = sps.t.ppf(1 - 0.05 / m / 2, 2 * n - 2) + sps.t.ppf(0.8, 2 * n - 2)
        return math.expm1(z * s * math.sqrt(2 / n) / math.sqrt(3 / math.pi))

    n = stats.MAX_SIMULATED_POWER_N
    assert stats.mde(0.1, n, n, family_size=4) == pytest.approx(approximation(0.1, n, 4), rel=0.03)
    assert stats.mde(0.1, n + 1, n + 1, family_size=4) == pytest.approx(approximation(0.1, n + 1, 4), rel=1e-9)
    assert stats.mde(0.1, 5, 5, family_size=4) > approximation(0.1, 5, 4)  # the discrete exact test at 5 v 5 needs more


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
