"""Minutes to every shipped verdict: --replicates auto (compare profile) beside a fixed number of replicates.

Run: .venv/bin/python benchmarks/bench_time_to_answer.py [--campaigns 2000] [--fixed 7] [--measured-sd 0.107]

Both designs see the same simulated noise (bench_sequential_validity's models: replicate values with the
pinned within-run error and a run effect between runs).  The fixed design is ``--replicates N`` of the
standard profile, interleaved, every shipped claim judged by the same test at its one look
(sequential.decide_arrays with look=None: each claim's whole alpha / 4 on one interval), as compare.compare
judges it.  Auto runs interleaved rounds of the compare profile with sequential.decide at every look (see
bench_sequential_validity.simulate_auto).  Minutes are the runs' minutes (the profile's length plus a fixed
overhead per run for provisioning, data reset and start; an auto run's search counted at its most steps, and only
where the campaign runs it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_sequential_validity import (
    CONFIGS,
    METRICS,
    NOISES,
    OVERHEAD_S,
    Noise,
    RunCost,
    run_cost,
    run_effects,
    run_minutes,
    shipped_claims,
    simulate_auto,
    stamp,
    stored_runs,
    true_levels,
    within_run_bank,
)

from scaleperf.analysis import sequential


def fixed_design(claims, scenario: str, noise: Noise, n: int, replicates: int, seed: int, bank: np.ndarray) -> np.ndarray:
    """Outcomes [claim, campaign] of the shipped fixed design on ``n`` simulated campaigns."""
    rng = np.random.default_rng(seed)
    base = true_levels(claims, scenario)
    k, metrics = base.shape
    logv = base[:, :, None, None] + run_effects(noise, rng, (k, metrics, n, replicates), bank)
    position = np.arange(replicates) * k  # fixed order A B C D, A B C D: config c's r-th run at r*k + c
    logv += noise.drift * (position[None, None, None, :] + np.arange(k)[:, None, None, None])
    values = np.exp(logv)
    out = np.empty((len(claims), n), dtype=object)
    for i, c in enumerate(claims):
        outcome, *_ = sequential.decide_arrays(
            values[c.a, c.metric], values[c.b, c.metric], expected=c.expected, higher_is_better=c.higher_is_better,
            min_effect=c.min_effect, family_size=len(claims), look=None,
        )  # fmt: skip
        out[i] = outcome
    return out


def campaign_measurements(run_dir: str) -> dict:
    """From a stored ``--replicates auto`` campaign (results/<run id>): each configuration's mean log replicate
    value per metric (as compare measures them), each metric's replicate log SD pooled over the configurations,
    the minutes of its runs with and without load steps, and the rounds and minutes it took."""
    from scaleperf.analysis import compare, slo, values

    every = stored_runs(run_dir)
    by_config: dict[str, list] = {}
    for run in every:
        by_config.setdefault(run.config, []).append(run)
    slos = slo.load_slos(None, "local")
    levels = np.full((len(CONFIGS), len(METRICS)), np.nan)
    sds = []
    for j, name in enumerate(METRICS):
        metric = compare.parse_metric(name)
        batch_s = None if metric.statistic == "throughput" else values.comparison_batch_length(every, metric)
        logs = []
        for i, config in enumerate(CONFIGS):
            runs = by_config.get(config, [])
            got = values.capacity_values(runs, slos) if batch_s is None else values.plateau_values(runs, metric, batch_s, {})
            v = np.log(got.values) if not isinstance(got, str) and got.values.size else np.zeros(0)
            if v.size:
                levels[i, j] = v.mean()
                logs.append(v)
        df = sum(v.size - 1 for v in logs if v.size > 1)
        sds.append(float(np.sqrt(sum(((v - v.mean()) ** 2).sum() for v in logs if v.size > 1) / df)) if df else float("nan"))

    def minutes(runs):
        return float(np.mean([(stamp(r, "ended_at") - stamp(r, "started_at")) / 60 for r in runs])) if runs else float("nan")

    stepped = [r for r in every if r.phases_of("step")]
    plain = [r for r in every if not r.phases_of("step")]
    return {
        "levels": levels,
        "sds": tuple(sds),
        "cost": RunCost(minutes(plain), minutes(stepped) - minutes(plain)) if plain and stepped else None,
        "rounds": {c: len(runs) for c, runs in by_config.items()},
        "minutes": (max(stamp(r, "ended_at") for r in every) - min(stamp(r, "started_at") for r in every)) / 60,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--campaigns", type=int, default=2000)
    ap.add_argument("--fixed", type=int, default=7, help="replicates of the fixed design (docs/statistics.md recommends 7)")
    ap.add_argument("--measured-sd", type=float, help="a replicate log SD measured on the miniature: one more noise model")
    ap.add_argument("--overhead-s", type=float, default=OVERHEAD_S)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--from-campaign",
        help="results/<run id> of a --replicates auto campaign: also simulate the procedure at its measured levels and spreads",
    )
    args = ap.parse_args(argv)
    started = time.monotonic()
    claims = shipped_claims()
    bank, _ = within_run_bank(20_000)
    auto_cost, fixed_min = run_cost("compare", args.overhead_s), run_minutes("standard", args.overhead_s)
    fixed_total = args.fixed * len(CONFIGS) * fixed_min
    noises = [NOISES["pinned"], NOISES["wide"]]
    if args.measured_sd:
        noises.append(Noise(f"measured (log SD {args.measured_sd:.3f})", total_sd=args.measured_sd))
    print(f"{args.campaigns} simulated campaigns per row; {len(claims)} shipped claims")
    print(
        f"auto: compare profile, {auto_cost.plateau:.2f} min per run without its search, up to {auto_cost.steps:.2f} more "
        "with it (the first round, and configurations with an undecided capacity claim), "
        f"rounds {sequential.DEFAULT.min_rounds}-{sequential.DEFAULT.max_rounds}"
    )
    print(f"fixed: standard profile, {fixed_min:.2f} min per run, {args.fixed} replicates x {len(CONFIGS)} configurations")
    head = (
        f"{'noise':26} {'scenario':8} | {'auto: minutes mean/p90':>22} {'decided':>8} {'right':>6} | "
        f"{'fixed: minutes':>14} {'decided':>8} {'right':>6} | {'auto/fixed':>10}"
    )
    print(head)
    print("-" * len(head))
    for i, noise in enumerate(noises):
        for j, scenario in enumerate(("effect", "equal")):
            seed = args.seed + 10 * i + j
            auto = simulate_auto(claims, scenario, noise, args.campaigns, seed, bank)
            minutes = auto_cost.minutes(auto)
            fixed = fixed_design(claims, scenario, noise, args.campaigns, args.fixed, seed + 1000, bank)
            right = expected_outcomes(claims, scenario)
            print(
                f"{noise.name[:26]:26} {scenario:8} | {minutes.mean():10.1f} / {np.percentile(minutes, 90):5.1f}     "
                f"{decided(auto['outcome']):8.3f} {correct(auto['outcome'], right):6.3f} | "
                f"{fixed_total:14.1f} {decided(fixed):8.3f} {correct(fixed, right):6.3f} | {minutes.mean() / fixed_total:10.2f}"
            )
    if args.from_campaign:
        measured_campaign(args.from_campaign, claims, args.campaigns, args.seed, bank)
    print(
        "\ndecided: share of campaigns with every claim pass or fail (none inconclusive); right: share with every claim "
        "as the truth says (effect: every claim passes; equal: the better claims fail, the same claim passes). "
        "Fixed minutes do not vary: every replicate runs."
    )
    print(f"elapsed {time.monotonic() - started:.0f} s")
    return 0


def measured_campaign(run_dir: str, claims, n: int, seed: int, bank: np.ndarray) -> None:
    """The campaign as run, then the procedure simulated ``n`` times at its measured levels and spreads."""
    got = campaign_measurements(run_dir)
    print(f"\nmeasured in {run_dir}: {got['minutes']:.1f} minutes start to end; replicates per configuration "
          + ", ".join(f"{c} {k}" for c, k in got["rounds"].items()))  # fmt: skip
    for c, row in zip(CONFIGS, got["levels"], strict=True):
        print(f"  {c:12} " + "  ".join(f"{m} {np.exp(v):.1f}" for m, v in zip(METRICS, row, strict=True)))
    spreads = ", ".join(f"{m} {sd:.3f}" for m, sd in zip(METRICS, got["sds"], strict=True))
    print(f"  replicate log SD, pooled over configurations: {spreads}")
    cost = got["cost"]
    if cost is None or not np.isfinite(got["levels"]).all() or not np.isfinite(got["sds"]).all():
        print("  (the campaign lacks a metric's values or runs without load steps: no simulation at its measurements)")
        return
    print(f"  minutes per run: {cost.plateau:.2f} without load steps, {cost.plateau + cost.steps:.2f} with them")
    noise = Noise("measured", total_sd=got["sds"])
    sim = simulate_auto(claims, "measured", noise, n, seed + 500, bank, levels=got["levels"])
    minutes = cost.minutes(sim)
    rounds = sim["rounds"]
    print(f"  {n} simulated campaigns at these levels and spreads: minutes mean / p90 {minutes.mean():.1f} / "
          f"{np.percentile(minutes, 90):.1f}, rounds mean / p90 {rounds.mean():.2f} / {np.percentile(rounds, 90):.0f}, "
          f"every claim decided {decided(sim['outcome']):.3f}")  # fmt: skip
    for i, c in enumerate(claims):
        o = sim["outcome"][i]
        print(f"    {c.label:32} pass {np.mean(o == sequential.PASS):.3f} fail {np.mean(o == sequential.FAIL):.3f} "
              f"decided at round {sim['decided_at'][i].mean():.1f} mean")  # fmt: skip


def expected_outcomes(claims, scenario: str) -> np.ndarray:
    if scenario == "effect":
        return np.array([sequential.PASS] * len(claims), dtype=object)
    return np.array([sequential.PASS if c.expected == "same" else sequential.FAIL for c in claims], dtype=object)


def decided(outcome: np.ndarray) -> float:
    return float((outcome != sequential.INCONCLUSIVE).all(axis=0).mean())


def correct(outcome: np.ndarray, right: np.ndarray) -> float:
    return float((outcome == right[:, None]).all(axis=0).mean())


if __name__ == "__main__":
    raise SystemExit(main())
