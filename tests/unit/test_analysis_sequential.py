"""Group-sequential decisions: boundaries, the three stopping rules, the fixed one-look test, and an A/A check."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from scaleperf.analysis import sequential
from scaleperf.analysis.sequential import DEFAULT, FAIL, INCONCLUSIVE, PASS, Design, decide, decide_arrays

LATENCY = dict(higher_is_better=False, min_effect=0.3, family_size=4)


@pytest.mark.parametrize("spending", sequential.SPENDING)
def test_spending_is_monotone_and_spends_the_claims_alpha_by_the_last_look(spending):
    design = Design(spending=spending)
    taus = np.asarray(list(design.looks)) / design.max_rounds
    cum = sequential.spent(design, taus, 0.0125)
    assert np.all(np.diff(cum) > 0) and cum[-1] == pytest.approx(0.0125)
    levels = sequential.nominal_levels(design, 0.0125)
    assert len(levels) == len(design.looks) and all(0 < p < 0.0125 for p in levels)


def test_obrien_fleming_boundaries_loosen_look_by_look_and_pocock_stays_level():
    obf = sequential.nominal_levels(Design(spending="obrien-fleming"), 0.0125)
    assert all(b > a for a, b in itertools.pairwise(obf))
    pocock = sequential.nominal_levels(DEFAULT, 0.0125)
    assert max(pocock[1:]) / min(pocock[1:]) < 1.15  # after the first look, nearly one level


@pytest.mark.parametrize("spending", sequential.SPENDING)
def test_a_normal_statistic_crosses_the_boundary_at_the_spent_rate(spending):
    design = Design(spending=spending)
    z = stats.norm.isf(np.asarray(sequential.nominal_levels(design, 0.0125)))
    rng = np.random.default_rng(5)
    looks = np.asarray(list(design.looks))
    walk = np.cumsum(rng.standard_normal((200_000, design.max_rounds)), axis=1)[:, looks - 1] / np.sqrt(looks)
    crossed = float((walk > z).any(axis=1).mean())
    assert crossed == pytest.approx(0.0125, abs=0.0015)  # SE of the estimate: 0.00025


def test_the_repeated_interval_is_wider_than_a_single_look_interval():
    a, b = [100, 104, 97, 101, 99], [120, 118, 125, 121, 119]
    fixed = decide(a, b, expected="better", **LATENCY)
    seq = decide(a, b, expected="better", look=5, **LATENCY)
    assert seq.ci_low < fixed.ci_low < fixed.ratio < fixed.ci_high < seq.ci_high
    assert fixed.ratio == pytest.approx(math.exp(np.log(b).mean() - np.log(a).mean()))


def test_a_fixed_design_spends_the_whole_alpha_over_k_at_its_one_look():
    a, b = np.array([100.0, 110, 95, 105]), np.array([130.0, 120, 140, 128])
    d = decide(a, b, expected="better", **LATENCY)
    la, lb = np.log(a), np.log(b)
    t = stats.ttest_ind(lb, la, equal_var=False)
    se = (lb.mean() - la.mean()) / t.statistic
    df = t.df if hasattr(t, "df") else sequential.welch(la, lb)[2]
    assert math.log(d.ci_low) == pytest.approx(lb.mean() - la.mean() - stats.t.isf(0.0125, df) * se)


def test_a_clear_difference_passes_at_the_first_look():
    d = decide([100, 102, 98], [130, 128, 133], expected="better", look=3, **LATENCY)
    assert d.outcome == PASS and d.rounds_needed is None and d.ratio == pytest.approx(1.3, rel=0.02)
    assert "look 3" in d.reason and "pass" in d.reason


def test_a_clear_difference_the_other_way_fails_a_better_claim():
    d = decide([130, 128, 133], [100, 102, 98], expected="better", look=3, **LATENCY)
    assert d.outcome == FAIL and d.rounds_needed is None and "rules out the claimed 30% effect" in d.reason


def test_equal_and_tight_rules_out_the_claimed_effect_and_passes_same():
    a, b = [100, 101, 99, 100], [100, 100, 101, 99]
    assert decide(a, b, expected="better", look=4, **LATENCY).outcome == FAIL
    same = decide(a, b, expected="same", look=4, **LATENCY)
    assert same.outcome == PASS and same.ci_low > 1 / 1.3 and same.ci_high < 1.3


def test_identical_values_decide_equivalence():
    d = decide([100, 100, 100], [100, 100, 100], expected="same", look=3, **LATENCY)
    assert d.outcome == PASS and d.ratio == 1 and d.ci_low == d.ci_high == 1


def test_same_fails_on_a_clear_difference_beyond_the_margin():
    d = decide([100, 102, 98, 101], [150, 148, 152, 149], expected="same", look=4, **LATENCY)
    assert d.outcome == FAIL and "excludes 1" in d.reason


@pytest.mark.parametrize(("expected", "higher", "a", "b", "outcome"), [
    ("better", True, [130, 131, 129], [100, 101, 99], PASS),  # throughput: a higher is better
    ("better", True, [100, 101, 99], [130, 131, 129], FAIL),
    ("worse", False, [130, 131, 129], [100, 101, 99], PASS),  # latency: a higher is worse
    ("worse", False, [100, 101, 99], [100, 101, 99.5], FAIL),
])  # fmt: skip
def test_directions(expected, higher, a, b, outcome):
    d = decide(a, b, expected=expected, higher_is_better=higher, min_effect=0.3, family_size=4, look=3)
    assert d.outcome == outcome, d.reason


def test_before_the_first_look_nothing_is_decided():
    d = decide([100, 102], [130, 128], expected="better", look=2, **LATENCY)
    assert d.outcome == INCONCLUSIVE and d.rounds_needed == 1
    d = decide([100], [130], expected="better", look=1, **LATENCY)
    assert d.outcome == INCONCLUSIVE and d.rounds_needed == 2


def test_noisy_data_say_how_many_more_rounds():
    d = decide([100, 125, 90], [110, 95, 130], expected="better", look=3, **LATENCY)
    assert d.outcome == INCONCLUSIVE and d.rounds_needed >= 1 and f"about {d.rounds_needed} more" in d.reason


def test_values_that_are_not_positive_are_inconclusive_with_the_reason():
    d = decide([0.0, 0.01, 0.02], [0.01, 0.02, 0.03], expected="same", look=3, **LATENCY)
    assert d.outcome == INCONCLUSIVE and d.rounds_needed is None and "positive" in d.reason


def test_the_scalar_decision_is_the_vectorised_one():
    rng = np.random.default_rng(3)
    a = 100 * np.exp(rng.normal(0, 0.1, (200, 5)))
    b = 115 * np.exp(rng.normal(0, 0.1, (200, 5)))
    for expected in sequential.EXPECTED:
        outcome, log_ba, low, _ = decide_arrays(a, b, expected=expected, look=5, **LATENCY)
        for i in range(0, 200, 7):
            d = decide(a[i], b[i], expected=expected, look=5, **LATENCY)
            assert (d.outcome, d.ratio, d.ci_low) == (
                outcome[i],
                pytest.approx(math.exp(log_ba[i])),
                pytest.approx(math.exp(low[i])),
            )


def simulate(ratio: float, expected: str, sd: float, n: int, seed: int) -> np.ndarray:
    """Outcomes of ``n`` simulated sequential comparisons (looks 3..10, stopping at the first decision)."""
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(0, sd, (n, DEFAULT.max_rounds)))
    b = ratio * np.exp(rng.normal(0, sd, (n, DEFAULT.max_rounds)))
    final = np.full(n, INCONCLUSIVE, dtype=object)
    open_ = np.ones(n, dtype=bool)
    for look in DEFAULT.looks:
        outcome, *_ = decide_arrays(a[:, :look], b[:, :look], expected=expected, look=look, **LATENCY)
        stop = open_ & (outcome != INCONCLUSIVE)
        final[stop] = outcome[stop]
        open_ &= ~stop
    return final


def test_a_a_rarely_passes_a_better_claim_over_every_look():
    final = simulate(1.0, "better", 0.1, 4000, seed=21)
    assert np.mean(final == PASS) <= 0.03  # designed for 0.0125; SE of the estimate about 0.002
    assert np.mean(final == FAIL) > 0.9  # and the claimed 30 % is ruled out


def test_a_true_30_percent_difference_is_found_and_the_same_claim_rarely_passes():
    assert np.mean(simulate(1.3, "better", 0.1, 2000, seed=22) == PASS) > 0.8
    assert np.mean(simulate(1.3, "same", 0.1, 4000, seed=23) == PASS) <= 0.03


def test_a_fixed_design_projects_fixed_replicates():
    a, b = [100, 125, 90, 110], [110, 95, 130, 120]
    fixed = decide(a, b, expected="better", **LATENCY)
    seq = decide(a, b, expected="better", look=4, **LATENCY)
    assert fixed.outcome == seq.outcome == INCONCLUSIVE
    assert 1 <= fixed.rounds_needed <= seq.rounds_needed  # one look needs no more replicates than many


def test_an_unknown_claim_is_an_error():
    with pytest.raises(ValueError):
        decide([1.0], [1.0], expected="faster", **LATENCY)


def test_more_rounds_spread_the_same_alpha_thinner():
    assert sequential.design_for() is DEFAULT and sequential.design_for(20).max_rounds == 20
    ten, twenty = sequential.nominal_levels(DEFAULT, 0.0125), sequential.nominal_levels(sequential.design_for(20), 0.0125)
    assert twenty[0] < ten[0] and twenty[-1] < ten[-1]
