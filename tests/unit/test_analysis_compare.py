"""Comparisons across configurations: decisions on synthetic replicate runs, and their validity under a pinned noise model.

Noise model (docs/statistics.md): within a run, the p95 level of each second follows an AR(1) process
(rho = 0.9) around the run's level, and each request's latency is drawn around that second's level;
between runs, the level carries a lognormal run factor with a 10 % coefficient of variation; the plateau
is the standard profile's.  The validity checks build these runs as RunResult objects, request by request,
and judge them with compare.compare itself, Holm over as many claims as fixtures/expectations.toml ships,
at the replicate count docs/statistics.md recommends.
"""

from __future__ import annotations

import json
import re
import tomllib

import numpy as np
import pytest
from scipy.signal import lfilter
from test_analysis_saturation import closed_system
from test_analysis_slo import constant, make_run

from scaleperf.analysis import compare, decision, metrics, stats
from scaleperf.analysis.verdict import BETTER, NO_DIFFERENCE, NOT_ENOUGH_DATA, REFUSED, WORSE
from scaleperf.configs import FIXTURES
from scaleperf.errors import ScaleperfError
from scaleperf.results import SAMPLE_DTYPES, Phase, RunResult, Samples

RHO = 0.9  # lag-1 autocorrelation of the per-second p95 level within a run
WITHIN_SD = 0.10  # marginal standard deviation of the per-second log p95 level within a run
RUN_CV = 0.10  # coefficient of variation of the lognormal run factor between runs
RPS = 20  # requests per second in a simulated plateau, all in the polls group
REQUEST_SD = 0.3  # log-scale spread of single requests around their second's level
Z95 = 1.6448536269514722  # standard normal 95th percentile: requests are drawn so that each second's p95 is its level
PAIRS = 400  # simulated comparisons per validity check
SEEDS = {"a/a": 11, "faster": 12, "slower": 13}  # the seeds docs/statistics.md quotes
DOCS = FIXTURES.parent / "docs" / "statistics.md"
DEFAULT_PLATEAU = (120, 15)  # the standard profile's plateau (duration, warm-up) when fixtures/profiles.toml does not say


def standard_plateau() -> tuple[int, int]:
    """The standard profile's plateau duration and warm-up in seconds, from fixtures/profiles.toml."""
    try:
        doc = tomllib.loads((FIXTURES / "profiles.toml").read_text())
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return DEFAULT_PLATEAU
    phases = doc.get("profiles", {}).get("standard", {}).get("phases", [])
    plateau = next((p for p in phases if p.get("kind") == "plateau" and "duration_s" in p), None)
    return (int(plateau["duration_s"]), int(plateau.get("warmup_s", 0))) if plateau else DEFAULT_PLATEAU


def standard_plateau_s() -> int:
    """The analysed length of the standard profile's plateau (duration minus warm-up)."""
    duration, warmup = standard_plateau()
    return duration - warmup


def recommended_replicates() -> int:
    """The replicate count docs/statistics.md recommends for the shipped expectations."""
    found = re.search(r"recommended replicate count[^`]*`--replicates=(\d+)`", DOCS.read_text(), re.IGNORECASE)
    assert found, f"{DOCS} states no recommended replicate count"
    return int(found.group(1))


def simulate_per_second(rng: np.random.Generator, shape: tuple[int, ...], seconds: int) -> np.ndarray:
    """Per-second p95 multipliers: run factor x exp(AR(1)), stationary from the first second."""
    innovations = rng.normal(0, WITHIN_SD * np.sqrt(1 - RHO**2), (*shape, seconds))
    start = rng.normal(0, WITHIN_SD, shape)
    x = lfilter([1.0], [1.0, -RHO], innovations, axis=-1, zi=(RHO * start)[..., None])[0]
    s = np.sqrt(np.log1p(RUN_CV**2))
    factor = np.exp(rng.normal(-s * s / 2, s, (*shape, 1)))
    return factor * np.exp(x)


def simulated_run(rng: np.random.Generator, config: str, replicate: int, level_ms: float) -> RunResult:
    """One replicate's standard plateau, request by request, under the noise model.

    Each second holds RPS requests whose latencies are lognormal with that second's p95 at
    level_ms x run factor x exp(AR(1)); the per-second series is computed from them (p95 with the
    analysis's percentile definition), as the load engine computes it.
    """
    duration, warmup = standard_plateau()
    level = level_ms * simulate_per_second(rng, (), duration)
    second = np.repeat(np.arange(duration), RPS)
    latency = level[second] * np.exp(REQUEST_SD * (rng.standard_normal(second.size) - Z95))
    n = second.size
    samples = Samples(
        t=second + rng.random(n),
        latency_ms=latency.astype(SAMPLE_DTYPES["latency_ms"]),
        name=np.zeros(n, dtype=SAMPLE_DTYPES["name"]),
        group=np.zeros(n, dtype=SAMPLE_DTYPES["group"]),
        size=np.full(n, 100, dtype=SAMPLE_DTYPES["size"]),
        error=np.zeros(n, dtype=SAMPLE_DTYPES["error"]),
        names=("/polls",),
        groups=("polls",),
    )
    per_second = samples.latency_ms.astype(np.float64).reshape(duration, RPS)  # RPS requests per second, in second order
    series = {
        "t": np.arange(duration, dtype=np.float64),
        "rps": np.full(duration, float(RPS)),
        "fail_rps": np.zeros(duration),
        "p95_ms": np.percentile(per_second, 95, axis=1, method=stats.PERCENTILE_METHOD),
    }
    plateau = Phase(kind="plateau", label="plateau", start_s=0, end_s=duration, users=100, deploy_users=100, warmup_s=warmup)
    meta = {"config": config, "replicate": replicate, "scale": 1.0, "profile": "standard", "complete": True}
    return RunResult(meta=meta, phases=(plateau,), samples=samples, series=series, checks={"saturated": False})


def simulated_verdicts(true_ratio: float, seed: int, replicates: int, family_size: int) -> list:
    """compare.compare's verdicts on PAIRS simulated comparisons of "a better than b on polls.p95",
    with p95(a) = true_ratio x p95(b), judged as the perf test judges them (Holm over ``family_size``)."""
    rng = np.random.default_rng(seed)
    claim = compare.Expectation(id="sim", a="a", b="b", metric="polls.p95", expect="better")
    verdicts = []
    for _ in range(PAIRS):
        data = {
            "a": [simulated_run(rng, "a", r + 1, 100.0 * true_ratio) for r in range(replicates)],
            "b": [simulated_run(rng, "b", r + 1, 100.0) for r in range(replicates)],
        }
        verdicts += compare.compare(data, [claim], family_size=family_size)
    return verdicts


def shares(verdicts: list, *, result: str | None = None, outcome: str | None = None) -> float:
    return float(
        np.mean([(result is None or v.result == result) and (outcome is None or v.outcome == outcome) for v in verdicts])
    )


# ------------------------------------------------------------------------------------------ validity
SHIPPED = len(compare.load_expectations(None))  # the perf test's Holm family: every shipped expectation


def report(capsys, **figures) -> None:
    """Print the measured figures (docs/statistics.md quotes them from `pytest -s -k validity`)."""
    with capsys.disabled():
        print("\n" + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))


def test_a_a_false_positive_rate_is_at_most_6_percent(capsys):
    n = recommended_replicates()
    verdicts = simulated_verdicts(1.0, SEEDS["a/a"], n, SHIPPED)
    report(capsys, a_a_false_positives=shares(verdicts, result=BETTER) + shares(verdicts, result=WORSE),
           a_a_claim_fails=shares(verdicts, outcome="fail"), a_a_claim_passes=shares(verdicts, outcome="pass"))  # fmt: skip
    assert all(v.n_a == v.n_b == n and not v.excluded for v in verdicts)  # every simulated run was usable
    false_positive = shares(verdicts, result=BETTER) + shares(verdicts, result=WORSE)
    assert false_positive <= 0.06, false_positive
    assert shares(verdicts, result=NO_DIFFERENCE) > 0.9  # the test is not simply refusing to decide
    # No difference at all: the data rule out the claimed 30 % improvement far more often than not (the interval
    # is at the per-claim level 1 - 0.05/4, so a little wider than a 95 % one: 0.90 of 400 here).
    assert shares(verdicts, outcome="fail") > 0.85, shares(verdicts, outcome="fail")


def test_power_for_a_30_percent_shift_in_p95_is_at_least_80_percent(capsys):
    n = recommended_replicates()
    faster = simulated_verdicts(1 / 1.3, SEEDS["faster"], n, SHIPPED)  # b is 30 % slower than a
    slower_pre = simulated_verdicts(1.3, SEEDS["slower"], n, SHIPPED)
    report(capsys, faster_passes=shares(faster, result=BETTER, outcome="pass"), faster_fails=shares(faster, outcome="fail"),
           slower_worse_fails=shares(slower_pre, result=WORSE, outcome="fail"))  # fmt: skip
    assert shares(faster, result=BETTER, outcome="pass") >= 0.80, shares(faster, result=BETTER)
    assert shares(faster, result=WORSE) == 0  # never the wrong direction
    slower = slower_pre  # a is 30 % slower than b
    assert shares(slower, result=WORSE, outcome="fail") >= 0.80, shares(slower, result=WORSE)
    assert shares(slower, result=BETTER) == 0


def test_recommended_replicates_can_reach_significance_over_the_shipped_claims():
    n = recommended_replicates()
    assert n >= stats.min_replicates(SHIPPED)
    assert stats.min_exact_mwu_p(n, n) * SHIPPED <= compare.DEFAULT_ALPHA


def test_batch_length_rule_reflects_autocorrelation():
    rng = np.random.default_rng(3)
    seconds = standard_plateau_s()
    correlated = simulate_per_second(rng, (5,), seconds)
    white = rng.normal(1, 0.1, (5, seconds))
    assert stats.batch_length_s(white, seconds) == stats.MIN_BATCH_S
    long = stats.batch_length_s(correlated, seconds)
    assert long > 4 * stats.MIN_BATCH_S
    assert stats.ar1_batch_correlation(0.9, 60) <= stats.MAX_BATCH_CORRELATION < stats.ar1_batch_correlation(0.9, 30)


def test_batches_of_a_sparse_group_are_long_enough_to_value():
    """Reads at two a second: 5-s batches would hold 10 reads, too few for a p95 (20), and leave every replicate
    without a value. The batch length also covers 1.5 times the minimum sample at the slowest run's request rate."""
    from scaleperf.analysis import values

    runs = replicate_runs("horizontal1", 60, 3, seed=5, rps=8)  # four groups drawn alike: about 2 reads a second
    reads = metrics.parse_metric("reads.p95")
    slowest = min(values.request_rate(r, reads) for r in runs)
    assert 1.5 < slowest < 2.5
    batch_s = values.comparison_batch_length(runs, reads)
    assert batch_s >= 20 * values.SAMPLE_HEADROOM / slowest
    assert batch_s <= 100 // stats.MIN_BATCHES  # still capped: the 100-s judged window holds three batches
    got = values.plateau_values(runs, reads, batch_s, {})
    assert got.values.size == 3 and np.isfinite(got.values).all(), got.excluded
    assert values.plateau_values(runs, reads, stats.MIN_BATCH_S, {}).values.size < 3  # 5-s batches lose replicates


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


def test_a_throughput_claim_on_runs_without_load_steps_is_refused_with_the_reason():
    data = {"vertical": replicate_runs("vertical", 60, 5, seed=1, rps=40), "single": replicate_runs("single", 100, 5, seed=2)}
    more = compare.Expectation(id="t", a="vertical", b="single", metric="throughput", expect="better")
    [v] = compare.compare(data, [more])
    assert v.result == REFUSED and v.outcome == "inconclusive"
    assert "compares capacities from the load steps" in v.reason and "the run has no load steps" in v.reason, v.reason


STEPS = [40, 80, 120, 160, 200, 240, 280]  # users; each asks once a second (closed_system)
PLATEAU_USERS = 30  # below every capacity simulated: each configuration serves the same plateau load


def capacity_runs(config: str, capacity: float, n: int, *, seed: int, **kw) -> list[RunResult]:
    rng = np.random.default_rng(seed)
    return [
        closed_system(STEPS, capacity * float(rng.lognormal(0, 0.05)), plateau=PLATEAU_USERS, seed=seed * 100 + r,
                      config=config, replicate=r + 1, **kw)
        for r in range(n)
    ]  # fmt: skip


MORE_THROUGHPUT = compare.Expectation(id="cap", a="horizontal1", b="single", metric="throughput", expect="better")


def test_the_throughput_claim_passes_when_capacities_differ_2x_at_equal_plateau_load():
    data = {"horizontal1": capacity_runs("horizontal1", 200, 7, seed=1), "single": capacity_runs("single", 100, 7, seed=2)}
    plateau = [metrics.value(r, metrics.parse_metric("throughput"), [p.window for p in r.phases_of("plateau")])[0]
               for rs in data.values() for r in rs]  # fmt: skip
    assert max(plateau) / min(plateau) < 1.15  # the plateau cannot tell them apart
    [v] = compare.compare(data, [MORE_THROUGHPUT], family_size=SHIPPED_FAMILY)
    assert v.figures["basis"] == "capacity" and v.batch_s is None
    assert v.outcome == "pass" and v.result == BETTER, v.reason
    assert v.ratio == pytest.approx(2.0, rel=0.25) and "capacity from the load steps" in v.reason


def test_rounds_that_left_out_their_load_steps_do_not_change_a_decided_throughput_claim():
    """Auto rounds stop running a configuration's load steps once its capacity claims are decided: the later,
    plateau-only replicates are left out of the capacities, and the verdict stays the one decided on the steps."""
    stepped = {"horizontal1": capacity_runs("horizontal1", 200, 3, seed=1), "single": capacity_runs("single", 100, 3, seed=2)}
    [before] = compare.compare(stepped, [MORE_THROUGHPUT], family_size=SHIPPED_FAMILY, max_rounds=10)
    later = {c: replicate_runs(c, 60, 4, seed=9) for c in stepped}
    for rs in later.values():
        for i, r in enumerate(rs):
            r.meta["replicate"] = 4 + i
    both = {c: stepped[c] + later[c] for c in stepped}
    [after] = compare.compare(both, [MORE_THROUGHPUT], family_size=SHIPPED_FAMILY, max_rounds=10)
    assert before.outcome == after.outcome == "pass", after.reason
    assert list(after.values_a) == list(before.values_a) and after.ratio == before.ratio
    assert any("r4: no load steps in this run" in x for x in after.figures["excluded"]), after.figures


def test_the_throughput_claim_fails_when_capacities_do_not_differ():
    data = {"horizontal1": capacity_runs("horizontal1", 150, 7, seed=3), "single": capacity_runs("single", 150, 7, seed=4)}
    [v] = compare.compare(data, [MORE_THROUGHPUT], family_size=SHIPPED_FAMILY)
    assert v.outcome == "fail", v.reason
    assert "rules out the claimed 30% effect" in v.reason and v.ratio == pytest.approx(1.0, abs=0.15)


def test_a_capacity_that_is_only_a_lower_bound_on_the_side_claimed_lower_is_refused():
    short = [40, 80]  # both still track at 80 users: each capacity is only a lower bound
    data = {
        "horizontal1": [closed_system(short, 200, plateau=30, config="horizontal1", replicate=r, seed=r) for r in range(1, 6)],
        "single": [closed_system(short, 200, plateau=30, config="single", replicate=r, seed=10 + r) for r in range(1, 6)],
    }
    [v] = compare.compare(data, [MORE_THROUGHPUT])
    assert v.result == REFUSED and "only a lower bound" in v.reason, v.reason


def test_cpu_limits_none_make_comparisons_inconclusive_unless_accepted():
    unlimited = {"deployment": {"limits": {"mechanism": "none", "detail": "", "warning": "no limits"}}}
    data = {
        "vertical": replicate_runs("vertical", 60, 5, seed=1, meta=unlimited),
        "single": replicate_runs("single", 100, 5, seed=2, meta=unlimited),
    }
    [v] = compare.compare(data, [EXPECT_FASTER])
    assert v.result == REFUSED and v.outcome == "inconclusive" and "CPU limits were 'none'" in v.reason
    [v] = compare.compare(data, [EXPECT_FASTER], accept_unlimited=True)
    assert v.outcome == "pass" and "accepted for a quick look" in v.reason


def test_one_replicate_per_side_is_not_enough_data():
    data = {"vertical": replicate_runs("vertical", 60, 1, seed=1), "single": replicate_runs("single", 100, 1, seed=2)}
    [v] = compare.compare(data, [EXPECT_FASTER])
    assert v.result == NOT_ENOUGH_DATA and v.outcome == "inconclusive"
    assert "at least 2 per side" in v.reason and v.replicates_needed >= 2, v.reason


def test_equal_configurations_show_no_detectable_difference():
    data = {"vertical": replicate_runs("vertical", 100, 5, seed=5), "single": replicate_runs("single", 100, 5, seed=6)}
    [v] = compare.compare(data, [EXPECT_FASTER], family_size=4)
    assert v.result == NO_DIFFERENCE, v.reason
    assert v.outcome == "fail"  # evidence against the claim: the interval rules out a 30 % improvement
    assert v.ratio_ci[0] > 1 / 1.3 and "rules out the claimed 30% effect" in v.reason, v.reason


def fixed_runs(config: str, values_ms: list[float], **kw):
    """One run per value: every request of the replicate takes exactly that long, so its p95 is the value."""
    plateau = Phase(kind="plateau", label="plateau", start_s=0, end_s=120, users=20, deploy_users=20, warmup_s=20)
    return [
        make_run([(plateau, 20, constant(v), 0.0)], config=config, replicate=r + 1, seed=r, **kw) for r, v in enumerate(values_ms)
    ]


EXPECT_ALL = compare.Expectation(id="all", a="vertical", b="single", metric="all.p95", expect="better")
SHIPPED_FAMILY = 4  # the size of the family the perf test judges each expectation in


def test_a_clear_improvement_is_decided_where_rank_tests_cannot_be():
    # 4 v 4 over four claims: Mann-Whitney's smallest adjusted p is 4 x 2/70 = 0.11, never significant; the interval
    # of the ratio on the log values (Welch) decides a difference this clear, and the p-value stays a description.
    data = {"vertical": fixed_runs("vertical", [60, 62, 64, 66]), "single": fixed_runs("single", [100, 102, 104, 106])}
    [v] = compare.compare(data, [EXPECT_ALL], family_size=SHIPPED_FAMILY)
    assert v.p_value == pytest.approx(2 / 70) and v.p_holm == pytest.approx(4 * 2 / 70)
    assert v.result == BETTER and v.outcome == "pass", v.reason
    assert v.ratio_ci[1] < 1 and v.ratio_ci[0] < 1 / 1.3, v.reason  # faster, and still allowing the claimed 30 %
    noisy = {"vertical": fixed_runs("vertical", [60, 95]), "single": fixed_runs("single", [100, 70])}
    [v] = compare.compare(noisy, [EXPECT_ALL], family_size=SHIPPED_FAMILY)
    assert v.outcome == "inconclusive" and v.replicates_needed > 2, v.reason
    assert f"about {v.replicates_needed} replicates per configuration would decide" in v.reason


def test_not_significant_with_the_claimed_effect_still_possible_is_inconclusive():
    data = {"vertical": fixed_runs("vertical", [60, 75, 95, 102, 70]), "single": fixed_runs("single", [100, 90, 80, 115, 108])}
    [v] = compare.compare(data, [EXPECT_ALL], family_size=SHIPPED_FAMILY)
    assert v.result == NO_DIFFERENCE and v.outcome == "inconclusive", v.reason
    assert v.ratio_ci[0] < 1 / 1.3 < v.ratio_ci[1]
    assert v.replicates_needed > 5 and f"about {v.replicates_needed} replicates per configuration would decide" in v.reason


def test_a_same_claim_fails_when_the_interval_lies_outside_the_effect_band():
    data = {"vertical": fixed_runs("vertical", [150, 160, 165, 170, 155]), "single": fixed_runs("single", [100, 98, 96, 102, 97])}
    same = compare.Expectation(id="s", a="vertical", b="single", metric="all.p95", expect="same")
    [v] = compare.compare(data, [same], family_size=SHIPPED_FAMILY)
    assert v.ratio_ci[0] > 1 + same.min_effect, v.reason
    assert v.outcome == "fail" and "not shown to be within 30%" in v.reason, v.reason


LOW, HIGH = [100.0, 102, 98, 101, 99, 103, 97], [130.0, 133, 127, 131, 129, 134, 126]  # 30 % apart, 7 each


@pytest.mark.parametrize(
    ("a", "b", "expect", "higher", "outcome", "result"),
    [
        (LOW, HIGH, "better", False, "pass", BETTER),  # lower latency, claimed better
        (HIGH, LOW, "better", False, "fail", WORSE),  # the opposite direction, significant
        (LOW, LOW, "better", False, "fail", NO_DIFFERENCE),  # no difference: the interval rules out 30 %
        (HIGH, LOW, "worse", False, "pass", WORSE),
        (HIGH, LOW, "better", True, "pass", BETTER),  # throughput: higher is better
        (LOW, LOW, "same", False, "pass", NO_DIFFERENCE),  # the interval lies within 1 +- 30 %
        ([100.0, 140, 70, 120, 90], [100.0, 80, 130, 95, 105], "same", False, "inconclusive", NO_DIFFERENCE),
        (LOW[:1], HIGH[:1], "better", False, "inconclusive", NOT_ENOUGH_DATA),
    ],
)
def test_one_decision_function_decides_every_claim(a, b, expect, higher, outcome, result):
    d = decision.decide(a, b, decision.Claim(expect=expect, higher_is_better=higher, min_effect=0.3), SHIPPED_FAMILY)
    assert (d.outcome, d.result) == (outcome, result), d.detail
    assert (d.against is not None) == (outcome == "fail")
    assert d.confidence == pytest.approx(1 - 2 * 0.05 / SHIPPED_FAMILY)  # each end a one-sided bound at alpha / K
    if d.interval is not None:
        assert d.interval[0] <= d.ratio <= d.interval[1]


def test_pass_and_fail_use_the_one_effect_size():
    # a true 10 % improvement, measured precisely: significant in the claimed direction, but the claim is 30 %,
    # which the interval rules out: fail, not pass.
    a, b = [90.0, 90.5, 89.5, 90.2, 89.8, 90.1, 89.9], [100.0, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9]
    claim = decision.Claim(expect="better", higher_is_better=False, min_effect=0.3)
    d = decision.decide(a, b, claim, SHIPPED_FAMILY)
    assert d.outcome == "fail" and "rules out the claimed 30% effect" in d.against
    assert decision.decide(a, b, decision.Claim("better", False, 0.1), SHIPPED_FAMILY).outcome == "pass"


def test_kruskal_wallis_sees_every_configuration_at_the_pairs_scale_and_profile():
    pair = {"vertical": fixed_runs("vertical", [99, 100, 101, 102]), "single": fixed_runs("single", [100, 101, 102, 103])}
    [alone] = compare.compare(pair, [EXPECT_ALL])
    third = {**pair, "horizontal1": fixed_runs("horizontal1", [50, 51, 52, 53])}
    [v] = compare.compare(third, [EXPECT_ALL])
    assert v.p_value == pytest.approx(alone.p_value)  # the pairwise test still uses the pair
    assert v.kruskal_p < 0.05 < alone.kruskal_p
    other_profile = {**pair, "horizontal1": fixed_runs("horizontal1", [50, 51, 52, 53], profile="smoke")}
    [v] = compare.compare(other_profile, [EXPECT_ALL])
    assert v.kruskal_p == pytest.approx(alone.kruskal_p)  # a configuration measured otherwise is left out


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
    assert "single r1: incomplete" in v.excluded
    assert any(e.startswith("vertical r1: the load generator could not be trusted on the plateau") for e in v.excluded)


def test_each_claim_is_adjusted_for_the_family_never_less_than_holm():
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
    holm = stats.holm(raw)
    for v, h in zip(verdicts, holm, strict=True):
        assert v.p_holm == pytest.approx(min(1.0, 3 * v.p_value)) and v.p_holm >= h - 1e-12
        [alone] = compare.compare(data, [exps[verdicts.index(v)]], family_size=len(exps))
        assert alone.p_holm == pytest.approx(v.p_holm)  # one at a time, as a perf test does: the same verdict


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
        ('[[expectation]]\nclaim = "a better than b on throughput"\nmargin = 0.05\n', "key 'margin' is no longer read"),
        ('[[expectation]]\nclaim = "a better than b on throughput"\nmin_effect = 5\n', "key 'min_effect'"),
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


def test_one_replicate_a_side_says_how_many_rounds_would_decide():
    claim = decision.Claim("better", False, 0.3)
    far = decision.decide([100.0], [200.0], claim, SHIPPED_FAMILY)  # a clearly better, once each
    near = decision.decide([100.0], [105.0], claim, SHIPPED_FAMILY)
    assert far.outcome == near.outcome == "inconclusive"
    assert "rounds of --replicates auto would decide" in far.detail
    assert far.replicates_needed is not None and near.replicates_needed is not None
    assert 3 <= far.replicates_needed < near.replicates_needed
