"""Validity of --replicates auto for the whole procedure: simulated campaigns of the shipped comparisons.

Run: .venv/bin/python benchmarks/bench_sequential_validity.py [--campaigns 5000] [--measured-sd 0.107]

Every simulated campaign runs interleaved rounds as campaign.py does (alternating order, a look after each
round from the design's first look, configurations leaving once all their claims are decided) and decides
each claim with sequential.decide_arrays, the vectorised core of sequential.decide (a cross-check runs 200
campaigns through decide() itself, one call at a time, and requires the same outcomes).

Replicate values, not requests: each simulated run has a log value per metric = the configuration's true
level + a run effect (the noise model) + the within-run error of the replicate value.  The within-run error
comes from a bank of runs simulated request by request under the project's pinned noise model
(tests/unit/test_analysis_compare.py: per-second p95 level an AR(1) with rho 0.9 and SD 0.10, 20 requests a
second, lognormal with log SD 0.3), cut into batches by the project's own batch-length rule
(``stats.batch_length_s``) and averaged as ``compare`` averages batch p95s.  Metrics' run effects are drawn
independently (polls, reads, capacity).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from scaleperf.analysis import compare, sequential, stats
from scaleperf.campaign import round_order
from scaleperf.profiles import load_profile

CONFIGS = ("single", "vertical", "horizontal1", "horizontal2")
RHO, WITHIN_SD, RPS, REQUEST_SD, Z95 = 0.9, 0.10, 20, 0.3, 1.6448536269514722  # the pinned model
PLATEAU_S, WARMUP_S = 120, 15  # the compare profile's plateau, the same as the standard profile's
OVERHEAD_S = 10.0  # per run: provisioning (0.7-1.3 s, docs/local-miniature.md), data reset, engine start
EFFECT = 0.30


def within_run_bank(n: int, seed: int = 7, window: int = PLATEAU_S - WARMUP_S) -> tuple[np.ndarray, int]:
    """Log within-run errors of ``n`` replicate values (mean of batch p95s over a judged ``window`` of
    seconds after the warm-up, pinned model) and the batch length."""
    rng = np.random.default_rng(seed)

    def levels(m: int) -> np.ndarray:
        innov = rng.normal(0, WITHIN_SD * math.sqrt(1 - RHO**2), (m, WARMUP_S + window))
        start = rng.normal(0, WITHIN_SD, m)
        return np.exp(lfilter([1.0], [1.0, -RHO], innov, axis=-1, zi=(RHO * start)[:, None])[0])[:, WARMUP_S:]

    def requests(level: np.ndarray) -> np.ndarray:
        return level[..., None] * np.exp(REQUEST_SD * (rng.standard_normal((*level.shape, RPS)) - Z95))

    sample = requests(levels(8))
    per_second = np.percentile(sample, 95, axis=-1, method=stats.PERCENTILE_METHOD)
    batch_s = stats.batch_length_s(per_second, window)
    k = window // batch_s
    out = []
    for start in range(0, n, 1000):
        lat = requests(levels(min(1000, n - start)))[:, : k * batch_s]
        batches = lat.reshape(lat.shape[0], k, batch_s * RPS)
        out.append(np.log(np.percentile(batches, 95, axis=-1, method=stats.PERCENTILE_METHOD).mean(axis=-1)))
    w = np.concatenate(out)
    return w - w.mean(), batch_s


@dataclass(frozen=True)
class Noise:
    name: str
    run_cv: float = 0.10  # lognormal run factor between runs
    tails: float | None = None  # t degrees of freedom of the log run effect (same SD); None: normal
    drift: float = 0.0  # log level change per run, across the campaign, every configuration alike
    # a measured replicate log SD (one, or one per metric): normal run effects of that SD, no bank
    total_sd: float | tuple[float, ...] | None = None


NOISES = {
    "pinned": Noise("pinned (runs 10% apart)"),
    "wide": Noise("runs 20% apart", run_cv=0.20),
    "heavy": Noise("heavy-tailed run effects (t, 3 df)", tails=3.0),
    "drift": Noise("drift +1% per run (+40% over 10 rounds)", drift=0.01),
}


def run_effects(noise: Noise, rng: np.random.Generator, shape: tuple[int, ...], bank: np.ndarray) -> np.ndarray:
    if noise.total_sd is not None:
        sd = np.asarray(noise.total_sd, dtype=np.float64)
        if sd.ndim:  # one SD per metric, along the metric axis (the second)
            sd = sd.reshape(1, -1, *([1] * (len(shape) - 2)))
        return rng.normal(0, 1, shape) * sd
    s = math.sqrt(math.log1p(noise.run_cv**2))
    if noise.tails:
        between = s * rng.standard_t(noise.tails, shape) / math.sqrt(noise.tails / (noise.tails - 2))
    else:
        between = rng.normal(0, s, shape)
    return between + bank[rng.integers(0, bank.size, shape)]


@dataclass(frozen=True)
class Claim:
    a: int
    b: int
    metric: int  # index into METRICS
    expected: str
    higher_is_better: bool
    min_effect: float
    label: str


METRICS = ("polls.p95", "throughput", "reads.p95")


def shipped_claims() -> list[Claim]:
    out = []
    for e in compare.load_expectations(None):
        m = compare.parse_metric(e.metric)
        metric = METRICS.index("throughput" if m.statistic == "throughput" else e.metric)
        out.append(Claim(CONFIGS.index(e.a), CONFIGS.index(e.b), metric, e.expect, m.higher_is_better, e.min_effect, e.id))
    return out


def true_levels(claims: list[Claim], scenario: str) -> np.ndarray:
    """Log true levels [config, metric]: "equal" (nothing differs), "null" (each claim at its null: better
    claims no difference, same claims a min_effect difference), "effect" (each claim true: better claims
    exactly min_effect, same claims no difference)."""
    level = np.zeros((len(CONFIGS), len(METRICS)))
    for c in claims:
        d = math.log1p(c.min_effect)
        if c.expected == "same":
            shift = d if scenario == "null" else 0.0
        else:
            shift = d if scenario == "effect" else 0.0
            shift *= 1.0 if c.expected == "better" else -1.0
            shift *= 1.0 if c.higher_is_better else -1.0  # a better on latency: a lower
        level[c.a, c.metric] = level[c.b, c.metric] + shift
    return level


def simulate_auto(
    claims: list[Claim],
    scenario: str,
    noise: Noise,
    n: int,
    seed: int,
    bank: np.ndarray,
    design: sequential.Design = sequential.DEFAULT,
    decide=sequential.decide_arrays,
    family: int | None = None,
    levels: np.ndarray | None = None,
) -> dict:
    """``n`` campaigns of ``--replicates auto``: rounds (alternating order as campaign.round_order), a look
    after each, configurations leaving once their claims are decided.  Outcomes per claim, rounds, runs.
    ``levels``: log true levels [config, metric] instead of the scenario's (a measured campaign's)."""
    rng = np.random.default_rng(seed)
    k, R = len(CONFIGS), design.max_rounds
    base = true_levels(claims, scenario) if levels is None else levels
    noise_draw = run_effects(noise, rng, (k, len(METRICS), n, R), bank)
    logv = np.zeros((k, len(METRICS), n, R))
    outcome = np.full((len(claims), n), "", dtype=object)
    decided_at = np.full((len(claims), n), R)
    active = np.ones((k, n), dtype=bool)
    position = np.zeros(n)
    runs = np.zeros(n)
    stepped = np.zeros(n)  # runs with load steps: every run of the first round, then only where a capacity claim is open
    capacity = [i for i, cl in enumerate(claims) if METRICS[cl.metric] == "throughput"]
    rounds = np.zeros(n, dtype=int)
    for r in range(1, R + 1):
        for c in round_order(list(range(k)), r):
            logv[c, :, :, r - 1] = base[c][:, None] + noise_draw[c, :, :, r - 1] + noise.drift * position
            position += active[c]
            reads_capacity = np.zeros(n, dtype=bool)
            for i in capacity:
                if c in (claims[i].a, claims[i].b):
                    reads_capacity |= outcome[i] == ""
            stepped += active[c] & (reads_capacity | (r == 1))
        runs += active.sum(axis=0)
        rounds = np.where(active.any(axis=0), r, rounds)
        if r >= design.min_rounds:
            for i, cl in enumerate(claims):
                todo = outcome[i] == ""
                if not todo.any():
                    continue
                a = np.exp(logv[cl.a, cl.metric][todo, :r])
                b = np.exp(logv[cl.b, cl.metric][todo, :r])
                got, *_ = decide(
                    a, b, expected=cl.expected, higher_is_better=cl.higher_is_better, min_effect=cl.min_effect,
                    family_size=family or len(claims), look=r, design=design,
                )  # fmt: skip
                decided = np.where(got != sequential.INCONCLUSIVE, got, "")
                outcome[i, todo] = decided
                decided_at[i, np.flatnonzero(todo)[decided != ""]] = r
        for c in range(k):
            mine = [i for i, cl in enumerate(claims) if c in (cl.a, cl.b)]
            active[c] &= (outcome[mine] == "").any(axis=0) if mine else False
        if not active.any():
            break
    outcome[outcome == ""] = sequential.INCONCLUSIVE
    return {"outcome": outcome, "rounds": rounds, "runs": runs, "stepped": stepped, "logv": logv, "decided_at": decided_at}


@dataclass(frozen=True)
class RunCost:
    """Minutes per run of a profile: without its load steps, and what its load steps add at most (the
    search's every step: a search that brackets the point sooner ends sooner, so this is an upper bound)."""

    plateau: float
    steps: float

    def minutes(self, sim: dict) -> np.ndarray:
        return sim["runs"] * self.plateau + sim["stepped"] * self.steps


def run_cost(profile: str = "compare", overhead_s: float = OVERHEAD_S) -> RunCost:
    full = load_profile(profile)
    plateau = (full.without_load_steps().duration_s + overhead_s) / 60
    return RunCost(plateau, (full.duration_s + overhead_s) / 60 - plateau)


def run_minutes(profile: str = "compare", overhead_s: float = OVERHEAD_S) -> float:
    """Minutes of one run of the whole profile (every run of a fixed design)."""
    return (load_profile(profile).duration_s + overhead_s) / 60


# ------------------------------------------------------------------------------------------- report
def scalar_decide(a, b, **kw):
    """sequential.decide row by row, for the cross-check against the vectorised core."""
    out = [sequential.decide(x, y, **kw) for x, y in zip(a, b, strict=True)]
    return (np.array([d.outcome for d in out], dtype=object),)


def stored_runs(run_dir: str) -> list:
    """The complete runs stored under results/<run id> (every configuration and replicate)."""
    from pathlib import Path

    from scaleperf import results

    path = Path(run_dir)
    runs = [results.load(r.path) for r in results.find_runs(path.parent, path.name)]
    return [r for r in runs if r.complete]


def stamp(run, key: str) -> int:
    """A run's ``started_at`` or ``ended_at`` (UTC, whole seconds) as seconds since the epoch."""
    import calendar

    return calendar.timegm(time.strptime(run.meta[key], "%Y-%m-%dT%H:%M:%SZ"))


def measured(
    run_dir: str, metric_name: str = "polls.p95", window_s: int | None = None
) -> tuple[float, list[float], float | None, dict[str, float]]:
    """From a stored run (results/<run id>) of replicates of one configuration: the log SD of the replicate
    values of ``metric_name`` (as compare measures them, on the first ``window_s`` judged seconds of each
    plateau when given), the values, the mean minutes per run (first start to last end), and the log SD of
    every other metric a shipped claim or SLO judges (capacity from each replicate's load steps, when run)."""
    import dataclasses

    from scaleperf.analysis import slo
    from scaleperf.analysis import values as values_mod
    from scaleperf.report.describe import provider_of

    runs = stored_runs(run_dir)
    if window_s:
        runs = [
            dataclasses.replace(r, phases=tuple(
                dataclasses.replace(p, end_s=min(p.end_s, p.start_s + p.warmup_s + window_s)) if p.kind == "plateau" else p
                for p in r.phases
            ))
            for r in runs
        ]  # fmt: skip

    def plateau(name: str) -> list[float]:
        metric = compare.parse_metric(name)
        batch_s = values_mod.comparison_batch_length(runs, metric)
        return [float(values_mod.replicate_value(values_mod.run_batches(r, metric, batch_s))) for r in runs]

    def log_sd(xs) -> float:
        return float(np.std(np.log(xs), ddof=1))

    values = plateau(metric_name)
    others = {name: log_sd(plateau(name)) for name in ("polls.p95", "reads.p95", "writes.p95") if name != metric_name}
    capacity = values_mod.capacity_values(runs, slo.load_slos(None, provider_of(runs[0])))
    if not isinstance(capacity, str):
        others["capacity"] = log_sd(capacity.values)
    stamps = sorted(stamp(r, k) for r in runs for k in ("started_at", "ended_at") if r.meta.get(k))
    minutes = (stamps[-1] - stamps[0]) / 60 / len(runs) if len(stamps) >= 2 and runs else None
    return log_sd(values), values, minutes, others


def boundary_size(design: sequential.Design, n: int = 200_000, seed: int = 3) -> float:
    """How often A/A data cross one claim's pass boundary at any look, never stopping for anything else
    (normal log values; the repeated interval's one-sided miss rate, designed to be at most alpha / 4)."""
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(0, 0.1, (n, design.max_rounds)))
    b = np.exp(rng.normal(0, 0.1, (n, design.max_rounds)))
    crossed = np.zeros(n, dtype=bool)
    for look in design.looks:
        _, _, low, _ = sequential.decide_arrays(
            a[:, :look], b[:, :look], expected="better", higher_is_better=False, min_effect=EFFECT, family_size=4, look=look,
            design=design,
        )  # fmt: skip
        crossed |= low > 0
    return float(crossed.mean())


def summarise(claims: list[Claim], sim: dict, cost: RunCost) -> dict:
    o = sim["outcome"]
    minutes = cost.minutes(sim)
    return {
        "pass": (o == sequential.PASS).mean(axis=1),
        "fail": (o == sequential.FAIL).mean(axis=1),
        "inconclusive": (o == sequential.INCONCLUSIVE).mean(axis=1),
        "any_pass": float((o == sequential.PASS).any(axis=0).mean()),
        "all_pass": float((o == sequential.PASS).all(axis=0).mean()),
        "all_decided": float((o != sequential.INCONCLUSIVE).all(axis=0).mean()),
        "rounds": (float(sim["rounds"].mean()), float(np.percentile(sim["rounds"], 90))),
        "claim_rounds": sim["decided_at"].mean(axis=1),
        "minutes": (float(minutes.mean()), float(np.percentile(minutes, 90))),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--campaigns", type=int, default=5000, help="simulated campaigns per condition")
    ap.add_argument("--measured-sd", type=float, help="a replicate log SD measured on the miniature: one more noise model")
    ap.add_argument("--overhead-s", type=float, default=OVERHEAD_S, help="seconds per run beyond the profile's length")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--spending", default=sequential.DEFAULT.spending, choices=sequential.SPENDING, help="alpha spending to try")
    ap.add_argument("--only", choices=sorted(NOISES), help="one noise model only (a quick look)")
    ap.add_argument("--window-s", type=int, help="what if the compare profile judged this many seconds")
    ap.add_argument("--from-run", help="results/<run id> holding replicates of one configuration: measure --measured-sd there")
    args = ap.parse_args(argv)
    if args.from_run:
        sd, values, minutes, others = measured(args.from_run, window_s=args.window_s)
        print(f"measured in {args.from_run}: {len(values)} replicates, polls.p95 replicate values (ms) "
              f"{', '.join(f'{v:.0f}' for v in values)}; log SD {sd:.3f}; "
              f"{'n/a' if minutes is None else f'{minutes:.2f}'} minutes per run, start to end; "
              f"log SD of {', '.join(f'{k} {v:.3f}' for k, v in others.items())}")  # fmt: skip
        args.measured_sd = sd
    started = time.monotonic()
    claims = shipped_claims()
    bank, batch_s = within_run_bank(20_000, window=args.window_s or PLATEAU_S - WARMUP_S)
    per_run = run_cost("compare", args.overhead_s)
    if args.window_s:  # a compare profile judging a shorter or longer window: the plateau changes, the rest stays
        per_run = RunCost(per_run.plateau + (args.window_s - (PLATEAU_S - WARMUP_S)) / 60, per_run.steps)
        print(f"what if: the compare profile judged {args.window_s} s instead of {PLATEAU_S - WARMUP_S} s")
    design = sequential.Design(spending=args.spending)
    noises = {args.only: NOISES[args.only]} if args.only else dict(NOISES)
    if args.measured_sd:
        noises = {"measured": Noise(f"measured on the miniature (log SD {args.measured_sd:.3f})", total_sd=args.measured_sd)} | (
            {} if args.only else noises
        )
    conditions = [(noise.name, noise, design, claims) for noise in noises.values()]
    if not args.only:
        # The noisier models, given the rounds they need: `--replicates auto:20` or `auto:30`.
        for key, most in (("wide", 20), ("wide", 30), ("drift", 20)):
            conditions.append((NOISES[key].name, NOISES[key], sequential.Design(max_rounds=most, spending=args.spending), claims))
        latency = [c for c in claims if METRICS[c.metric] != "throughput"]
        conditions.append(("pinned, 3 latency claims in the rounds", NOISES["pinned"], design, latency))
    pinned_sd = float(np.std(run_effects(NOISES["pinned"], np.random.default_rng(1), (200_000,), bank)))
    print(f"claims (family of {len(claims)}): " + "; ".join(f"{c.label} [{c.expected}]" for c in claims))
    print(
        f"design: Welch t on log replicate values, looks after rounds {design.min_rounds}..{design.max_rounds}, "
        f"{design.spending} alpha spending, alpha {design.alpha} / {len(claims)} = "
        f"{design.alpha / len(claims):.4f} per claim and side"
    )
    print(f"pinned model: batch length {batch_s} s, within-run log SD {bank.std():.3f}, replicate log SD {pinned_sd:.3f}")
    print(
        f"minutes per run: compare profile without its load steps {per_run.plateau * 60 - args.overhead_s:.0f} s + "
        f"{args.overhead_s:.0f} s = {per_run.plateau:.2f}; its search adds at most {per_run.steps:.2f} (every run of the "
        "first round, then the runs of configurations with an undecided capacity claim)"
    )
    # The vectorised core and decide() itself agree, campaign by campaign.
    vec = simulate_auto(claims, "effect", NOISES["pinned"], 200, 99, bank)
    one = simulate_auto(claims, "effect", NOISES["pinned"], 200, 99, bank, decide=scalar_decide)
    assert (vec["outcome"] == one["outcome"]).all() and (vec["rounds"] == one["rounds"]).all()
    print("cross-check: 200 campaigns through sequential.decide() one call at a time give the same outcomes and rounds")
    for most in (10, 20, 30):
        print(
            f"boundary alone, max {most} rounds: {boundary_size(sequential.Design(max_rounds=most, spending=args.spending)):.4f}"
        )
    print(f"\n{args.campaigns} simulated campaigns per condition and scenario")
    head = (
        f"{'noise model':38} {'max':>3} | {'FWER':>6} {'worst':>6} | {'power min':>9} {'all':>5} {'false fail':>10} | "
        f"{'rounds mean/p90 (effect)':>24} {'minutes mean/p90 (effect)':>26} | {'minutes (equal)':>16} | {'undecided':>9}"
    )
    print(head)
    print("-" * len(head))
    for i, (name, noise, d, family) in enumerate(conditions):
        seed = args.seed + 100 * i
        res = {
            s: summarise(family, simulate_auto(family, s, noise, args.campaigns, seed + j, bank, d, family=len(claims)), per_run)
            for j, s in enumerate(("null", "equal", "effect"))
        }
        null, equal, eff = res["null"], res["equal"], res["effect"]
        same = [j for j, c in enumerate(family) if c.expected == "same"]
        false_fail = max([float(eff["fail"].max())] + [float(equal["fail"][j]) for j in same])
        undecided = max(r["inconclusive"].max() for r in res.values())
        print(
            f"{name:38} {d.max_rounds:>3} | {null['any_pass']:6.4f} {null['pass'].max():6.4f} | "
            f"{eff['pass'].min():9.3f} {eff['all_pass']:5.3f} {false_fail:10.4f} | "
            f"{eff['rounds'][0]:11.2f} / {eff['rounds'][1]:4.0f}      "
            f"{eff['minutes'][0]:11.1f} / {eff['minutes'][1]:5.1f}      | "
            f"{equal['minutes'][0]:6.1f} / {equal['minutes'][1]:5.1f} | {undecided:9.3f}"
        )
        for j, c in enumerate(family):
            print(
                f"    {c.label:32} null: pass {null['pass'][j]:.4f}  "
                f"equal: pass {equal['pass'][j]:.4f} fail {equal['fail'][j]:.3f}"
                f"  effect: pass {eff['pass'][j]:.3f} fail {eff['fail'][j]:.4f} undecided {eff['inconclusive'][j]:.3f}"
                f" rounds {eff['claim_rounds'][j]:.1f}"
            )
    print(
        "\nFWER: share of campaigns in which any claim passed wrongly (better claims at no difference, the same claim at a "
        f"{EFFECT:.0%} difference; required <= {design.alpha}); worst: the highest single claim's (required <= "
        f"{design.alpha / len(claims):.4f}). power min: the lowest claim's pass rate when every claim is true (better claims "
        f"at exactly {EFFECT:.0%}; required >= 0.80); all: every claim passed. false fail: the highest rate of failing a true "
        "claim. minutes: runs x minutes per run, configurations leaving the rounds once decided. equal: nothing differs. "
        "undecided: the highest share of a claim still inconclusive at the last round. A rate near 0.0125 from "
        f"{args.campaigns} campaigns has a standard error of {np.sqrt(0.0125 * 0.9875 / args.campaigns):.4f}."
    )
    print(f"elapsed {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
