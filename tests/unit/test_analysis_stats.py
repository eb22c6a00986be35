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


COVERAGE_PAIRS = 5000  # simulated pairs per coverage figure (docs/statistics.md quotes them)
COVERAGE_SEED = 20261203


def ratio_coverage(n: int, log_sd: float, true_ratio: float, confidence: float, seed: int = COVERAGE_SEED) -> float:
    """Share of COVERAGE_PAIRS simulated n v n comparisons (lognormal run-to-run spread ``log_sd``, the pinned
    noise model's) whose interval of the ratio holds the true ratio."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(COVERAGE_PAIRS):
        a = true_ratio * rng.lognormal(0, log_sd, n)
        b = rng.lognormal(0, log_sd, n)
        lo, hi = stats.ratio_ci(a, b, confidence=confidence)
        hits += lo <= true_ratio <= hi
    return hits / COVERAGE_PAIRS


@pytest.mark.parametrize(("n", "confidence"), [(5, 0.95), (7, 0.95), (7, 0.9875)])
def test_interval_of_a_ratio_holds_its_level(n, confidence, capsys):
    """The bootstrap interval this replaced covered about 90 % at a stated 95 %; the t-interval on the log
    replicate values holds its level (binomial sd of the estimate at 5 000 pairs: 0.003)."""
    coverage = ratio_coverage(n, 0.10, 1.3, confidence)
    with capsys.disabled():
        print(f"\nratio interval coverage, {n} v {n} replicates, stated {confidence:.4g}: {coverage:.4f}")
    assert abs(coverage - confidence) <= 0.01, coverage


def test_interval_of_a_ratio_with_zeros_and_its_estimate():
    a, b = np.array([0.0, 0.01, 0.02, 0.0]), np.array([0.01, 0.01, 0.02, 0.02])
    lo, hi = stats.ratio_ci(a, b)
    assert stats.ratio_estimate(a, b) == pytest.approx(0.5)
    assert 0 <= lo < 0.5 < hi
    assert all(math.isnan(x) for x in stats.ratio_ci(a, [1.0]))
    assert stats.ratio_estimate([2.0, 8.0], [4.0]) == pytest.approx(1.0)  # geometric means: sqrt(16) / 4


def test_order_statistic_interval_of_a_percentile_holds_its_level(capsys):
    rng = np.random.default_rng(COVERAGE_SEED)
    true_p95 = -math.log(0.05)  # of a unit exponential
    draws = 2000
    hits = sum(lo <= true_p95 <= hi for lo, hi in (stats.quantile_ci(rng.exponential(1, 200), 95) for _ in range(draws)))
    with capsys.disabled():
        print(f"\np95 order-statistic interval coverage, 200 requests, stated 0.95: {hits / draws:.4f}")
    assert 0.94 <= hits / draws <= 0.99  # conservative by construction, never below its level beyond noise


def test_order_statistic_interval_is_open_where_the_sample_cannot_bound_it():
    few = np.arange(1.0, 21.0)  # 20 values: the largest cannot bound a p95 from above at 95 %
    lo, hi = stats.quantile_ci(few, 95)
    assert hi == math.inf and lo > 10
    assert stats.quantile_sample_needed(95) == 72  # 0.95^72 <= 0.025 < 0.95^71
    lo, hi = stats.quantile_ci(np.arange(1.0, 1001.0), 50)
    assert lo < 500 < hi and hi - lo < 80
    assert stats.proportion_ci(0, 100)[0] == 0.0 and stats.proportion_ci(0, 100)[1] == pytest.approx(0.0362, abs=1e-3)
    lo, hi = stats.rate_ci(100, 10.0)
    assert lo < 10 < hi


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
