"""Comparisons across configurations: decisions on synthetic replicate runs, and their validity under a pinned noise model.

Noise model (docs/statistics.md): within a run, per-second p95 latencies follow an AR(1) process (rho = 0.9)
around the run's level; between runs, the level carries a lognormal run factor with a 10 % coefficient of
variation; the plateau lasts as long as the standard profile's; 5 replicates per configuration.
"""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from scipy.signal import lfilter
from test_analysis_slo import make_run

from scaleperf.analysis import compare, stats
from scaleperf.analysis.verdict import BETTER, NO_DIFFERENCE, NOT_ENOUGH_DATA, REFUSED, WORSE
from scaleperf.configs import FIXTURES
from scaleperf.errors import ScaleperfError
from scaleperf.results import Phase

RHO = 0.9  # lag-1 autocorrelation of per-second latencies within a run
WITHIN_SD = 0.10  # marginal standard deviation of per-second log latency within a run
RUN_CV = 0.10  # coefficient of variation of the lognormal run factor between runs
REPLICATES = 5
PAIRS = 5000  # simulated comparisons per validity check
DEFAULT_PLATEAU_S = 180  # the standard profile's plateau when fixtures/profiles.toml does not say


def standard_plateau_s() -> int:
    """The analysed length of the standard profile's plateau (duration minus warm-up), from fixtures/profiles.toml."""
    try:
        doc = tomllib.loads((FIXTURES / "profiles.toml").read_text())
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return DEFAULT_PLATEAU_S
    phases = doc.get("profiles", {}).get("standard", {}).get("phases", [])
    plateau = next((p for p in phases if p.get("kind") == "plateau" and "duration_s" in p), None)
    return int(plateau["duration_s"] - plateau.get("warmup_s", 0)) if plateau else DEFAULT_PLATEAU_S


def simulate_per_second(rng: np.random.Generator, shape: tuple[int, ...], seconds: int) -> np.ndarray:
    """Per-second p95 multipliers: run factor x exp(AR(1)), stationary from the first second."""
    innovations = rng.normal(0, WITHIN_SD * np.sqrt(1 - RHO**2), (*shape, seconds))
    start = rng.normal(0, WITHIN_SD, shape)
    x = lfilter([1.0], [1.0, -RHO], innovations, axis=-1, zi=(RHO * start)[..., None])[0]
    s = np.sqrt(np.log1p(RUN_CV**2))
    factor = np.exp(rng.normal(-s * s / 2, s, (*shape, 1)))
    return factor * np.exp(x)


def simulated_results(true_ratio: float, seed: int) -> np.ndarray:
    """What the comparison concludes for PAIRS simulated A-vs-B comparisons with p95(A) = true_ratio x p95(B).

    Uses the comparison's own code path from the per-second series on: the batch length rule, batch
    means, the replicate value, Mann-Whitney, Holm (one declared comparison), the margin.
    """
    rng = np.random.default_rng(seed)
    seconds = standard_plateau_s()
    y = 100.0 * simulate_per_second(rng, (PAIRS, 2, REPLICATES), seconds)
    y[:, 0] *= true_ratio
    values = np.empty((PAIRS, 2, REPLICATES))
    for i in range(PAIRS):
        batch_s = stats.batch_length_s(y[i].reshape(-1, seconds), seconds)
        values[i] = compare.replicate_value(stats.batch_means(y[i], batch_s))
    ps = compare.pair_stats(values[:, 0], values[:, 1])
    p_holm = np.array([stats.holm([p])[0] for p in ps.p_value])
    return compare.classify(p_holm, ps.ratio, REPLICATES, REPLICATES, higher_is_better=False, alpha=0.05)


# ------------------------------------------------------------------------------------------ validity
def test_a_a_false_positive_rate_is_at_most_6_percent():
    results = simulated_results(1.0, seed=11)
    false_positive = np.isin(results, [BETTER, WORSE]).mean()
    assert false_positive <= 0.06, false_positive
    assert (results == NO_DIFFERENCE).mean() > 0.9  # the test is not simply refusing to decide


def test_power_for_a_30_percent_shift_in_p95_is_at_least_80_percent():
    faster = simulated_results(1 / 1.3, seed=12)  # B is 30 % slower than A
    assert (faster == BETTER).mean() >= 0.80, (faster == BETTER).mean()
    assert (faster == WORSE).mean() == 0  # never the wrong direction
    slower = simulated_results(1.3, seed=13)
    assert (slower == WORSE).mean() >= 0.80


def test_batch_length_rule_reflects_autocorrelation():
    rng = np.random.default_rng(3)
    seconds = standard_plateau_s()
    correlated = simulate_per_second(rng, (5,), seconds)
    white = rng.normal(1, 0.1, (5, seconds))
    assert stats.batch_length_s(white, seconds) == stats.MIN_BATCH_S
    long = stats.batch_length_s(correlated, seconds)
    assert long > 4 * stats.MIN_BATCH_S
    assert stats.ar1_batch_correlation(0.9, 60) <= stats.MAX_BATCH_CORRELATION < stats.ar1_batch_correlation(0.9, 30)


# ---------------------------------------------------------------------------- synthetic replicate runs
def replicate_runs(
    config: str, level_ms: float, n: int, *, seed: int, rps: float = 20, scale: float = 1.0, profile: str = "standard", **kw
):
    """n runs of one configuration: a 120 s plateau (20 s warm-up) at ``rps``, lognormal latencies around level_ms."""
    rng = np.random.default_rng(seed)
    runs = []
    for r in range(n):
        factor = float(rng.lognormal(0, 0.05))
        plateau = Phase(kind="plateau", label="plateau", start_s=0, end_s=120, users=20, deploy_users=20, warmup_s=20)

        def latency(g, k, f=factor):
            return level_ms * f * g.lognormal(0, 0.3, k)

        runs.append(make_run([(plateau, rps, latency, 0.0)], config=config, replicate=r + 1, scale=scale, profile=profile,
                             seed=seed * 100 + r, **kw))  # fmt: skip
    return runs


EXPECT_FASTER = compare.Expectation(id="fast", a="vertical", b="single", metric="polls.p95", expect="better")


def test_clearly_faster_configuration_is_better():
    data = {"vertical": replicate_runs("vertical", 60, 5, seed=1), "single": replicate_runs("single", 100, 5, seed=2)}
    [v] = compare.compare(data, [EXPECT_FASTER])
    assert v.result == BETTER and v.outcome == "pass", v.reason
    assert v.ratio == pytest.approx(0.6, rel=0.1)
    assert v.ratio_ci[0] < v.ratio < v.ratio_ci[1] < 1
    assert v.cliffs_delta == -1.0
    assert v.p_value == pytest.approx(2 / 252)  # exact two-sided Mann-Whitney minimum at 5 v 5
    assert v.n_a == v.n_b == 5 and len(v.values_a) == 5
    assert v.batch_s >= stats.MIN_BATCH_S and v.kruskal_p < 0.05
    assert v.figures["result"] == BETTER and v.figures["values_b"] == list(v.values_b)
    assert json.loads(json.dumps(v.figures, allow_nan=False))["ratio_ci"] == pytest.approx(list(v.ratio_ci))
    worse = compare.Expectation(id="w", a="vertical", b="single", metric="polls.p95", expect="worse")
    [v] = compare.compare(data, [worse])
    assert v.result == BETTER and v.outcome == "fail"


def test_throughput_is_better_when_higher():
    data = {"vertical": replicate_runs("vertical", 60, 5, seed=1), "single": replicate_runs("single", 100, 5, seed=2)}
    same = compare.Expectation(id="t", a="vertical", b="single", metric="throughput", expect="same")
    [v] = compare.compare(data, [same])
    assert v.result == NO_DIFFERENCE and v.ratio == pytest.approx(1.0, abs=0.02)
    assert v.outcome == "pass" and v.mde < same.min_effect
    data["vertical"] = replicate_runs("vertical", 60, 5, seed=1, rps=26)
    more = compare.Expectation(id="t", a="vertical", b="single", metric="throughput", expect="better")
    [v] = compare.compare(data, [more])
    assert v.result == BETTER and v.outcome == "pass" and v.ratio == pytest.approx(1.3, rel=0.03)


def test_three_replicates_are_not_enough_data():
    data = {"vertical": replicate_runs("vertical", 60, 3, seed=1), "single": replicate_runs("single", 100, 3, seed=2)}
    [v] = compare.compare(data, [EXPECT_FASTER])
    assert v.result == NOT_ENOUGH_DATA and v.outcome == "inconclusive"
    assert "at least 4 per side" in v.reason and v.replicates_needed >= 4


def test_equal_configurations_show_no_detectable_difference():
    data = {"vertical": replicate_runs("vertical", 100, 5, seed=5), "single": replicate_runs("single", 100, 5, seed=6)}
    [v] = compare.compare(data, [EXPECT_FASTER])
    assert v.result == NO_DIFFERENCE, v.reason
    assert v.outcome == "fail"  # the claimed 30 % improvement would have been detected (mde below it)
    assert v.mde < EXPECT_FASTER.min_effect and "minimum detectable effect" in v.reason


@pytest.mark.parametrize(("kw", "word"), [({"scale": 0.5}, "scales"), ({"profile": "smoke"}, "profiles")])
def test_different_scales_or_profiles_are_refused(kw, word):
    data = {"vertical": replicate_runs("vertical", 60, 5, seed=1, **kw), "single": replicate_runs("single", 100, 5, seed=2)}
    [v] = compare.compare(data, [EXPECT_FASTER])
    assert v.result == REFUSED and v.outcome == "inconclusive"
    assert f"different {word}" in v.reason


def test_untrustworthy_replicates_are_excluded_and_named():
    vertical = replicate_runs("vertical", 60, 5, seed=1)
    vertical += replicate_runs("vertical", 60, 1, seed=9, saturated=True)
    data = {"vertical": vertical, "single": replicate_runs("single", 100, 5, seed=2, complete=False)}
    [v] = compare.compare(data, [EXPECT_FASTER])
    assert v.n_a == 5 and v.n_b == 0 and v.result == NOT_ENOUGH_DATA
    assert "vertical r1: load generator saturated" in v.excluded and "single r1: incomplete" in v.excluded


def test_holm_adjusts_over_the_declared_comparisons():
    data = {
        "vertical": replicate_runs("vertical", 60, 5, seed=1),
        "single": replicate_runs("single", 100, 5, seed=2),
        "horizontal1": replicate_runs("horizontal1", 95, 5, seed=3),
    }
    exps = [
        EXPECT_FASTER,
        compare.Expectation(id="h", a="horizontal1", b="single", metric="all.p95", expect="better"),
        compare.Expectation(id="e", a="horizontal1", b="single", metric="all.error_rate", expect="same"),
    ]
    verdicts = compare.compare(data, exps)
    raw = [v.p_value for v in verdicts]
    assert [v.p_holm for v in verdicts] == pytest.approx(list(stats.holm(raw)))
    assert verdicts[0].p_holm == pytest.approx(3 * verdicts[0].p_value)
    # One at a time, as a perf test does: with the family's size the adjustment is never smaller.
    for exp, together in zip(exps, verdicts, strict=True):
        [alone] = compare.compare(data, [exp], family_size=len(exps))
        assert alone.p_value == pytest.approx(together.p_value)
        assert alone.p_holm >= together.p_holm - 1e-12
        [unadjusted] = compare.compare(data, [exp])
        assert unadjusted.p_holm == pytest.approx(unadjusted.p_value)


def test_holm_matches_the_textbook_procedure():
    assert list(stats.holm([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = stats.holm([0.2, float("nan"), 0.01])
    assert adjusted[0] == pytest.approx(0.2) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


# ------------------------------------------------------------------------------------ expectations file
def test_committed_expectations_load():
    exps = compare.load_expectations(None)
    assert {e.id for e in exps} >= {"vertical-faster-polls", "horizontal1-more-throughput"}
    first = next(e for e in exps if e.id == "vertical-faster-polls")
    assert (first.a, first.b, first.metric, first.expect, first.configs) == ("vertical", "single", "polls.p95", "better",
                                                                            ("vertical", "single"))  # fmt: skip


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[expectation]]\nclaim = "vertical faster than single on polls.p95"\n', 'key "claim" must read'),
        ('[[expectation]]\nclaim = "vertical better than single on polls.p97"\n', "unknown metric"),
        ('[[expectation]]\nclaim = "single better than single on polls.p95"\n', "with itself"),
        ('[[expectation]]\nclaim = "a better than b on throughput"\nmargin = 5\n', "key 'margin'"),
        ('[[expectation]]\nclaim = "a better than b on throughput"\nwhen = 1\n', "unknown key 'when'"),
        (
            '[[expectation]]\nclaim = "a better than b on throughput"\n' * 2,
            "declared twice",
        ),
        ("[expectations]\n", "unknown key 'expectations'"),
    ],
)
def test_expectation_errors_name_the_file_and_key(tmp_path, text, needle):
    path = tmp_path / "expectations.toml"
    path.write_text(text)
    with pytest.raises(ScaleperfError) as err:
        compare.load_expectations(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_metric_names():
    assert compare.parse_metric("throughput") == compare.Metric("throughput", "all", "throughput")
    assert compare.parse_metric("reads.p99").group == "reads"
    assert compare.parse_metric("all.throughput").higher_is_better
    with pytest.raises(ValueError):
        compare.parse_metric("polls.p42")
