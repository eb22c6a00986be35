"""SLO thresholds from TOML, judged on the plateau of synthetic runs with known latencies."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from scaleperf.analysis import slo, stats
from scaleperf.errors import ScaleperfError
from scaleperf.load import selfcheck
from scaleperf.results import SAMPLE_DTYPES, Phase, RunResult, Samples

GROUPS = ("polls", "auth", "writes", "reads")


def make_run(
    segments: list[tuple[Phase, float, Callable[[np.random.Generator, int], np.ndarray], float]],
    *,
    config: str = "single",
    replicate: int = 1,
    scale: float = 1.0,
    profile: str = "standard",
    complete: bool = True,
    saturated: bool = False,
    seed: int = 0,
    group_of: Callable[[np.random.Generator, int], np.ndarray] | None = None,
    gen_cpu: Callable[[np.ndarray], np.ndarray] | None = None,
    checks: dict | None = None,
    meta: dict | None = None,
) -> RunResult:
    """A run whose requests arrive uniformly at ``rps`` in each phase, latencies drawn by the given sampler.

    segments: (phase, rps, latency sampler (rng, n) -> ms, error probability).  Groups are drawn uniformly
    unless ``group_of`` says otherwise.  The per-second series is computed from the samples; the generator's
    CPU is 20 % each second unless ``gen_cpu`` (seconds -> %) says otherwise.  ``checks`` replaces the
    run-wide self-checks that ``saturated`` would set.
    """
    rng = np.random.default_rng(seed)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in SAMPLE_DTYPES}
    for phase, rps, latency, error_p in segments:
        n = round(rps * (phase.end_s - phase.start_s))
        t = np.sort(rng.uniform(phase.start_s, phase.end_s, n))
        cols["t"].append(t)
        cols["latency_ms"].append(np.asarray(latency(rng, n), dtype=np.float32))
        cols["name"].append(np.zeros(n, dtype=np.uint16))
        cols["group"].append((group_of or (lambda r, k: r.integers(0, len(GROUPS), k)))(rng, n).astype(np.uint8))
        cols["size"].append(np.full(n, 100, dtype=np.uint32))
        cols["error"].append((rng.random(n) < error_p).astype(np.uint8))
    samples = Samples(
        **{k: np.concatenate(v).astype(SAMPLE_DTYPES[k]) for k, v in cols.items()},
        names=("/x",),
        groups=GROUPS,
        error_kinds=("ok", "HTTP 500"),
    )
    end = int(max(p.end_s for p, *_ in segments))
    secs = np.arange(end, dtype=np.float64)
    idx = np.floor(samples.t).astype(int)
    rps = np.bincount(idx, minlength=end)[:end].astype(float)
    fails = np.bincount(idx, weights=samples.failed.astype(float), minlength=end)[:end]
    p95 = np.array([np.percentile(samples.latency_ms[idx == s], 95) if (idx == s).any() else np.nan for s in range(end)])
    users = np.zeros(end)
    for p, *_ in segments:
        users[int(p.start_s) : int(p.end_s)] = p.users
    series = {
        "t": secs,
        "users": users,
        "deploy_users": users / scale,
        "rps": rps,
        "fail_rps": fails,
        "p50_ms": p95 * 0.5,
        "p95_ms": p95,
        "p99_ms": p95 * 1.2,
        "gen_cpu_pct": np.full(end, 20.0) if gen_cpu is None else np.asarray(gen_cpu(secs), dtype=np.float64),
    }
    meta = {"config": config, "replicate": replicate, "scale": scale, "profile": profile, "complete": complete, **(meta or {})}
    if checks is None:
        checks = {"saturated": saturated, "reasons": ["generator CPU 97 %"] if saturated else []}
    return RunResult(meta=meta, phases=tuple(p for p, *_ in segments), samples=samples, series=series, checks=checks)


def constant(ms: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, n: np.full(n, ms)


def uniform(lo: float, hi: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, n: rng.uniform(lo, hi, n)


def plateau_run(latency, error_p: float = 0.0, **kw) -> RunResult:
    """30 s ramp at 1000 ms (would break any SLO), then a 120 s plateau with 20 s warm-up at 2000 ms, then the plateau proper."""
    ramp = Phase(kind="ramp", label="ramp", start_s=0, end_s=30, users=10, deploy_users=10)
    plateau = Phase(kind="plateau", label="plateau", start_s=30, end_s=150, users=50, deploy_users=50, warmup_s=20)
    warm = Phase(kind="ramp", label="warm", start_s=30, end_s=50, users=50, deploy_users=50)
    steady = Phase(kind="plateau", label="steady", start_s=50, end_s=150, users=50, deploy_users=50)
    run = make_run([(ramp, 20, constant(1000), 0.5), (warm, 20, constant(2000), 0.5), (steady, 20, latency, error_p)], **kw)
    # The samples were generated per segment; the run declares the plateau as one phase with its warm-up.
    return RunResult(meta=run.meta, phases=(ramp, plateau), samples=run.samples, series=run.series, checks=run.checks)


def write(tmp_path, text: str):
    path = tmp_path / "slos.toml"
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------------------- parsing
def test_thresholds_are_read_in_canonical_units(tmp_path):
    path = write(
        tmp_path,
        '[local.thresholds]\n"polls.p95" = "< 250 ms"\n"all.p99" = "<= 1.5 s"\n"all.error_rate" = "< 1 %"\n'
        '"all.throughput" = ">= 20 /s"\n[local.saturation_min_users]\nsingle = 120\n',
    )
    slos = {s.key: s for s in slo.load_slos(path, "local")}
    assert slos["polls.p95"].threshold == 250 and slos["polls.p95"].op == "<"
    assert slos["all.p99"].threshold == 1500 and slos["all.p99"].op == "<="
    assert slos["all.error_rate"].threshold == pytest.approx(0.01)
    assert slos["all.throughput"].threshold == 20 and slos["all.throughput"].op == ">="
    assert slos["polls.p95"].id == "polls.p95<250ms"
    assert slo.saturation_minimum(path, "local", "single") == 120
    assert slo.saturation_minimum(path, "local", "vertical") is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[local.thresholds]\n"polls.p95" = "250 ms"\n', "'polls.p95'"),
        ('[local.thresholds]\n"polls.p97" = "< 250 ms"\n', "unknown metric 'p97'"),
        ('[local.thresholds]\n"pols.p95" = "< 250 ms"\n', "unknown group 'pols'"),
        ('[local.thresholds]\n"polls.p95" = "< 250"\n', "needs a unit"),
        ('[local.thresholds]\n"all.error_rate" = "< 150 %"\n', "between 0 and 100"),
        ('[local.thresholds]\n"all.throughput" = "> 5 ms"\n', "unit /s"),
        ('[local.thresholds]\n"polls.p95" = 250\n', "must be a string"),
        ("[locl.thresholds]\n", "unknown table [locl]"),
        ("[local]\nthreshold = 1\n", "unknown key 'threshold'"),
        ("[local.thresholds\n", "not valid TOML"),
    ],
)
def test_parse_errors_name_the_file_and_key(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ScaleperfError) as err:
        slo.load_slos(path, "local")
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_an_slo_may_name_the_phases_it_is_judged_on(tmp_path):
    path = write(
        tmp_path,
        '[local.thresholds]\n"auth.p95" = { threshold = "< 2 s", phases = ["plateau", "ramp"] }\n'
        '"polls.p95" = { threshold = "< 250 ms" }\n"all.p99" = "< 2 s"\n',
    )
    slos = {s.key: s for s in slo.load_slos(path, "local")}
    assert slos["auth.p95"].phases == ("ramp", "plateau") and slos["auth.p95"].threshold == 2000
    assert slos["polls.p95"].phases == ("plateau",) and slos["all.p99"].phases == ("plateau",)
    assert slos["auth.p95"].id == "auth.p95<2s"


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ('{ threshold = "< 2 s", phases = ["steps"] }', "unknown phase 'steps'"),
        ('{ threshold = "< 2 s", phases = [] }', "phases must be a list"),
        ('{ threshold = "< 2 s", phases = "ramp" }', "phases must be a list"),
        ('{ phases = ["ramp"] }', "no threshold"),
        ('{ threshold = "< 2 s", window = "ramp" }', "unknown key 'window'"),
        ('{ threshold = 2, phases = ["ramp"] }', "must be a string"),
    ],
)
def test_bad_phases_name_the_file_and_key(tmp_path, entry, needle):
    path = write(tmp_path, f'[local.thresholds]\n"auth.p95" = {entry}\n')
    with pytest.raises(ScaleperfError) as err:
        slo.load_slos(path, "local")
    assert str(path) in str(err.value) and "'auth.p95'" in str(err.value)
    assert needle in str(err.value)


def test_minimums_are_per_provider_and_configuration(tmp_path):
    path = write(
        tmp_path,
        '[local.thresholds]\n"all.p99" = "< 2 s"\n[local.saturation_min_users]\nsingle = 90\nhorizontal2 = 240\n'
        '[aws.thresholds]\n"all.p99" = "< 2 s"\n[aws.saturation_min_users]\nsingle = 600\n',
    )
    assert slo.saturation_minimum(path, "local", "single") == 90
    assert slo.saturation_minimum(path, "local", "horizontal2") == 240
    assert slo.saturation_minimum(path, "aws", "single") == 600
    assert slo.saturation_minimum(path, "aws", "horizontal2") is None


def test_missing_provider_table_and_bad_minimum_are_reported(tmp_path):
    path = write(tmp_path, '[local.thresholds]\n"polls.p95" = "< 250 ms"\n[local.saturation_min_users]\nsingle = "lots"\n')
    with pytest.raises(ScaleperfError, match=r"no \[aws\] table"):
        slo.load_slos(path, "aws")
    with pytest.raises(ScaleperfError, match="'single' must be a whole number"):
        slo.saturation_minimum(path, "local", "single")


def test_committed_slo_file_loads_for_every_provider():
    for provider in slo.PROVIDERS:
        assert slo.load_slos(None, provider), provider
    for provider in ("local", "aws"):  # logins happen as users arrive: the auth SLO counts the ramp
        [auth] = [s for s in slo.load_slos(None, provider) if s.group == "auth"]
        assert auth.phases == ("ramp", "plateau"), provider


# -------------------------------------------------------------------------------------- evaluating
def test_p95_is_judged_on_the_plateau_after_warm_up():
    run = plateau_run(uniform(0, 200))  # p95 of U(0, 200) = 190 ms; ramp and warm-up are 1-2 s
    [v] = slo.evaluate(run, [slo.parse_threshold("f", "local", "all.p95", "< 195 ms")])
    assert v.outcome == "pass", v.reason
    assert v.figures["windows"] == [[[50, 150]]]
    assert v.measured == pytest.approx(190, abs=4)
    assert v.n_samples == 2000
    [v] = slo.evaluate(run, [slo.parse_threshold("f", "local", "all.p95", "< 185 ms")])
    assert v.outcome == "fail"
    assert f"measured {v.measured:.1f} ms" in v.reason and "< 185.0 ms" in v.reason and "50-150 s" in v.reason
    assert v.figures["measured"] == v.measured and v.figures["threshold"] == 185
    assert json.loads(json.dumps(v.figures, allow_nan=False))["windows"] == [[[50, 150]]]
    lo, hi = v.interval
    assert lo < v.measured < hi and lo > 185  # failed because the whole interval lies above the threshold


def test_group_slo_sees_only_its_group():
    # polls are fast, everything else slow: the group SLO passes while the all-requests one fails.
    def latency(rng, n):
        return np.full(n, 10.0)

    run = plateau_run(latency)
    lat = run.samples.latency_ms.copy()
    lat[(run.samples.group != 0) & (run.samples.t >= 50)] = 900
    run = RunResult(
        meta=run.meta, phases=run.phases, samples=Samples(**{**run.samples.columns(), "latency_ms": lat},
        names=run.samples.names, groups=run.samples.groups, error_kinds=run.samples.error_kinds),
        series=run.series, checks=run.checks,
    )  # fmt: skip
    polls, every = slo.evaluate(run, [slo.parse_threshold("f", "local", k, "< 100 ms") for k in ("polls.p95", "all.p95")])
    assert polls.outcome == "pass" and polls.measured == pytest.approx(10)
    assert every.outcome == "fail" and every.measured == pytest.approx(900)


def test_error_rate_mean_and_throughput():
    run = plateau_run(uniform(0, 100), error_p=0.05, seed=3)
    checks = [
        slo.parse_threshold("f", "local", "all.error_rate", "< 1 %"),
        slo.parse_threshold("f", "local", "all.mean", "< 60 ms"),
        slo.parse_threshold("f", "local", "all.throughput", ">= 19 /s"),
    ]
    err, mean, thr = slo.evaluate(run, checks)
    assert err.outcome == "fail" and err.measured == pytest.approx(0.05, abs=0.015)
    assert mean.outcome == "pass" and mean.measured == pytest.approx(50, abs=3)
    # Throughput counts requests *completed* in the window: those started just before it and finishing inside count.
    done = run.samples.t + run.samples.latency_ms / 1000
    completed = int(((done >= 50) & (done < 150)).sum())
    assert thr.outcome == "pass" and thr.measured == pytest.approx(completed / 100) and thr.n_samples == completed


@pytest.mark.parametrize(
    ("kw", "why"),
    [({"complete": False}, "did not complete"), ({"saturated": True}, "load generator could not be trusted")],
)
def test_untrustworthy_runs_are_inconclusive(kw, why):
    [v] = slo.evaluate(plateau_run(constant(10), **kw), [slo.parse_threshold("f", "local", "all.p95", "< 100 ms")])
    assert v.outcome == "inconclusive"
    assert why in v.reason


def test_too_few_samples_or_no_plateau_is_inconclusive():
    run = plateau_run(constant(10))
    [v] = slo.evaluate(run, [slo.parse_threshold("f", "local", "all.p99", "< 100 ms")])  # 2000 requests: enough
    assert v.outcome == "pass"
    thin = RunResult(meta=run.meta, phases=run.phases, samples=run.samples.select(run.samples.t < 60), series=run.series,
                     checks=run.checks)  # fmt: skip
    [v] = slo.evaluate(thin, [slo.parse_threshold("f", "local", "all.p99", "< 100 ms")])
    assert v.outcome == "inconclusive" and "a p99 needs at least 368 requests" in v.reason, v.reason
    ramp_only = RunResult(meta=run.meta, phases=run.phases[:1], samples=run.samples, series=run.series, checks=run.checks)
    [v] = slo.evaluate(ramp_only, [slo.parse_threshold("f", "local", "all.p95", "< 100 ms")])
    assert v.outcome == "inconclusive" and "no plateau" in v.reason


# ------------------------------------------------------------------------------- phases of an SLO
AUTH = GROUPS.index("auth")


def auth_only_on_arrival(run: RunResult) -> RunResult:
    """``plateau_run`` with no auth request after the warm-up: users log in while they arrive, then poll."""
    group = run.samples.group.copy()
    group[(run.samples.t >= 50) & (group == AUTH)] = GROUPS.index("polls")
    samples = Samples(**{**run.samples.columns(), "group": group}, names=run.samples.names, groups=run.samples.groups,
                      error_kinds=run.samples.error_kinds)  # fmt: skip
    return RunResult(meta=run.meta, phases=run.phases, samples=samples, series=run.series, checks=run.checks)


def test_auth_is_judged_on_the_ramp_and_plateau_without_the_plateau_warm_up():
    run = auth_only_on_arrival(plateau_run(constant(10)))  # ramp 1000 ms, plateau warm-up 2000 ms, plateau 10 ms
    t, group = run.samples.t, run.samples.group
    in_ramp = int(((t < 30) & (group == AUTH)).sum())
    assert in_ramp >= stats.quantile_sample_needed(95) and ((t >= 30) & (t < 50) & (group == AUTH)).any()
    plateau_only = slo.parse_threshold("f", "local", "auth.p95", "< 2 s")
    arriving = slo.parse_threshold("f", "local", "auth.p95", {"threshold": "< 2 s", "phases": ["ramp", "plateau"]})
    strict = slo.parse_threshold("f", "local", "auth.p95", {"threshold": "< 500 ms", "phases": ["ramp", "plateau"]})
    before, after, tight = slo.evaluate(run, [plateau_only, arriving, strict])
    assert before.outcome == "inconclusive" and before.n_samples == 0 and "0 auth requests on the plateau" in before.reason
    assert after.outcome == "pass", after.reason
    assert after.n_samples == in_ramp and after.measured == pytest.approx(1000)  # warm-up (2000 ms) left out
    assert after.figures["windows"] == [[[0, 30], [50, 150]]]
    assert after.figures["phases"] == ["ramp", "plateau"] and "ramp 0-30 s, plateau 50-150 s" in after.reason
    assert tight.outcome == "fail" and tight.measured == pytest.approx(1000)


def test_auth_with_too_few_logins_stays_inconclusive_with_the_count():
    run = auth_only_on_arrival(plateau_run(constant(10)))
    keep = ~((run.samples.group == AUTH) & (run.samples.t < 30)) | (np.arange(len(run.samples)) % 4 == 0)
    thin = RunResult(meta=run.meta, phases=run.phases, samples=run.samples.select(keep), series=run.series, checks=run.checks)
    n = int(((thin.samples.group == AUTH) & (thin.samples.t < 30)).sum())
    assert 0 < n < stats.quantile_sample_needed(95)
    arriving = slo.parse_threshold("f", "local", "auth.p95", {"threshold": "< 2 s", "phases": ["ramp", "plateau"]})
    [v] = slo.evaluate(thin, [arriving])
    assert v.outcome == "inconclusive" and v.n_samples == n
    assert f"over {n} auth requests on the ramp and plateau (ramp 0-30 s, plateau 50-150 s)" in v.reason, v.reason
    assert "a p95 needs at least 72 requests before it can be shown below a threshold" in v.reason


def test_a_generator_overload_outside_the_judged_span_leaves_the_slo_judged():
    # The generator is overloaded for the whole ramp: the run as a whole is flagged (CPU p95 99 %), yet the
    # plateau's numbers are sound; an SLO that counts the ramp is not.
    def gen_cpu(secs):
        return np.where(secs < 30, 99.0, 20.0)

    cpu = gen_cpu(np.arange(150.0))
    run_checks = selfcheck.checks(cpu_per_s=cpu, lag_ms=np.ones(10), paced_waits=10, cpu_warnings=0, lost_workers=[])
    assert run_checks["saturated"]
    run = plateau_run(constant(10), gen_cpu=gen_cpu, checks=run_checks)
    plateau_only = slo.parse_threshold("f", "local", "all.p95", "< 100 ms")
    arriving = slo.parse_threshold("f", "local", "all.p95", {"threshold": "< 2 s", "phases": ["ramp", "plateau"]})
    on_plateau, with_ramp = slo.evaluate(run, [plateau_only, arriving])
    assert on_plateau.outcome == "pass", on_plateau.reason
    assert with_ramp.outcome == "inconclusive"
    assert "r1 left out: the load generator could not be trusted" in with_ramp.reason and "CPU p95 99%" in with_ramp.reason


def test_a_generator_overload_on_the_plateau_is_inconclusive():
    def gen_cpu(secs):
        return np.where((secs >= 60) & (secs < 140), 97.0, 20.0)

    run = plateau_run(constant(10), gen_cpu=gen_cpu, checks={"saturated": False, "reasons": []})
    [v] = slo.evaluate(run, [slo.parse_threshold("f", "local", "all.p95", "< 100 ms")])
    assert v.outcome == "inconclusive" and "load generator CPU p95 97% > 90% over 50-150 s" in v.reason


# ------------------------------------------------------------------------------ pooled over replicates
P95_250 = slo.parse_threshold("f", "local", "all.p95", "< 250 ms")


def test_one_verdict_over_every_replicate_with_each_replicate_beside_it():
    runs = [plateau_run(uniform(0, 200), replicate=r, seed=r) for r in (1, 2, 3)]
    [v] = slo.judge("single", runs, [P95_250])
    assert v.outcome == "pass" and v.n_samples == sum(slo.measure(r, P95_250, [(50, 150)])[1] for r in runs) == 6000
    assert [p["replicate"] for p in v.replicates] == ["r1", "r2", "r3"]
    assert all(p["measured"] == pytest.approx(190, abs=5) for p in v.replicates)
    shown = ", ".join(f"{p['replicate']} {slo.format_value(p['measured'], 'ms')}" for p in v.replicates)
    assert f"of 3 replicates ({shown})" in v.reason, v.reason  # each replicate's value beside the pooled one


def test_more_replicates_do_not_make_an_slo_more_likely_to_fail():
    # p95 of U(0, 200) is 190 ms against a 195 ms threshold: one replicate's p95 sometimes exceeds it, the
    # pooled verdict does not fail a configuration whose true p95 holds.
    fails_alone, fails_pooled = 0, 0
    threshold = slo.parse_threshold("f", "local", "all.p95", "< 195 ms")
    for seed in range(8):
        runs = [plateau_run(uniform(0, 200), replicate=r, seed=100 * seed + r) for r in range(1, 6)]
        fails_alone += any(slo.evaluate(r, [threshold])[0].outcome == "fail" for r in runs)
        fails_pooled += slo.judge("single", runs, [threshold])[0].outcome == "fail"
    assert fails_pooled == 0 and fails_pooled <= fails_alone


def test_an_untrusted_replicate_is_left_out_and_named_while_the_others_decide():
    good = [plateau_run(constant(10), replicate=r, seed=r) for r in (1, 2)]
    bad = plateau_run(constant(10), replicate=3, seed=3, complete=False)
    [v] = slo.judge("single", [*good, bad], [P95_250])
    assert v.outcome == "pass" and v.figures["pooled"] == 2
    assert "r3 left out: the run did not complete" in v.reason


def test_a_few_very_slow_requests_already_fail_a_p95_but_a_few_fast_ones_cannot_pass_it():
    slow = plateau_run(constant(900))
    keep = np.arange(len(slow.samples)) % 100 == 0  # 20 requests on the plateau
    thin = RunResult(meta=slow.meta, phases=slow.phases, samples=slow.samples.select(keep), series=slow.series,
                     checks=slow.checks)  # fmt: skip
    [v] = slo.judge("single", [thin], [P95_250])
    assert v.n_samples < stats.quantile_sample_needed(95) and v.outcome == "fail", v.reason
    fast = plateau_run(constant(10))
    thin = RunResult(meta=fast.meta, phases=fast.phases, samples=fast.samples.select(keep), series=fast.series,
                     checks=fast.checks)  # fmt: skip
    [v] = slo.judge("single", [thin], [P95_250])
    assert v.outcome == "inconclusive" and "needs at least 72 requests" in v.reason


# ------------------------------------------------------------------ held load steps support a pass, never a fail
def searched_run(step_ms: dict[int, float], plateau_ms: float = 20.0, plateau_s: float = 20.0, **kw) -> RunResult:
    """A 60-user plateau at 0.1 req/s per user, then one step per entry of ``step_ms`` (deployment users ->
    latency), each 30 s with a 10 s warm-up, in the given order (a search steps down again after a break)."""
    segs = [(Phase("plateau", "plateau", 0, plateau_s, 60, 60, warmup_s=5), 6.0, constant(plateau_ms), 0.0)]
    t = plateau_s
    for i, (users, ms) in enumerate(step_ms.items(), 1):
        segs.append((Phase("step", f"step {i}", t, t + 30, users, users, warmup_s=10), 0.1 * users, uniform(ms * 0.9, ms), 0.0))
        t += 30
    return make_run(segs, **kw)


P99_100 = slo.parse_threshold("f", "local", "all.p99", "< 100 ms")
P95_250 = slo.parse_threshold("f", "local", "all.p95", "< 250 ms")


def judge_supported(run: RunResult, slos: list[slo.Slo]) -> list:
    from scaleperf.analysis.slo_support import Support

    return slo.judge("single", [run], slos, Support(slos))


def test_an_slo_too_thin_on_the_plateau_passes_on_the_steps_that_held_above_it():
    run = searched_run({100: 30.0, 160: 40.0, 256: 3000.0, 202: 50.0})
    assert slo.judge("single", [run], [P99_100])[0].outcome == "inconclusive"  # 90 requests: too few for a p99
    v, _ = judge_supported(run, [P99_100, P95_250])
    assert v.outcome == "pass", v.reason
    assert "step 1" in v.reason and "step 2" in v.reason and "step 4" in v.reason and "step 3" not in v.reason
    assert v.figures["with_steps"]["decided"] and v.n_samples > 90


def test_steps_above_the_first_broken_one_lend_nothing():
    run = searched_run({100: 30.0, 160: 3000.0, 130: 3000.0, 256: 40.0})  # 256 "held" above broken ones
    v, _ = judge_supported(run, [P99_100, P95_250])
    assert v.figures["with_steps"]["steps"] == {"r1": ["step 1"]}


def test_a_step_the_load_generator_could_not_keep_up_on_lends_nothing_nor_do_those_above_it():
    busy_step_2 = lambda secs: np.where((secs >= 50) & (secs < 80), 99.0, 20.0)  # noqa: E731
    run = searched_run({100: 30.0, 160: 40.0, 202: 50.0}, gen_cpu=busy_step_2)
    v, _ = judge_supported(run, [P99_100, P95_250])
    assert v.figures["with_steps"]["steps"] == {"r1": ["step 1"]}


def test_held_steps_never_make_an_slo_fail_and_never_overrule_the_plateau():
    slow_steps = searched_run({100: 95.0, 160: 99.0})  # they hold the p95 limit but are slow for a tight p99
    tight = slo.parse_threshold("f", "local", "all.p99", "< 60 ms")
    v, _ = judge_supported(slow_steps, [tight, P95_250])
    assert v.outcome == "inconclusive"
    failing = searched_run({100: 30.0}, plateau_ms=400.0, plateau_s=60.0)  # the plateau alone shows a fail
    [v] = judge_supported(failing, [P95_250])
    assert v.outcome == "fail" and "with_steps" not in v.figures
    floor = slo.parse_threshold("f", "local", "all.throughput", ">= 1 /s")
    from scaleperf.analysis.slo_support import applies

    assert not applies(floor) and applies(P99_100)
