"""Minutes to every shipped verdict: --replicates auto (compare profile) beside a fixed number of replicates.

Run: .venv/bin/python benchmarks/bench_time_to_answer.py [--campaigns 2000] [--fixed 7] [--measured-sd 0.107]

Both designs see the same simulated noise (bench_sequential_validity's models: replicate values with the
pinned within-run error and a run effect between runs).  The fixed design is ``--replicates N`` of the
standard profile, interleaved, every shipped claim judged by the same test at its one look
(sequential.decide_arrays with look=None: each claim's whole alpha / 4 on one interval), as compare.compare
judges it.  Auto runs interleaved rounds of the compare profile with sequential.decide at every look (see
bench_sequential_validity.simulate_auto).  Minutes are the runs' minutes (the profile's length plus a fixed
overhead per run for provisioning, data reset and start).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_sequential_validity import (
    NOISES,
    OVERHEAD_S,
    Noise,
    run_effects,
    run_minutes,
    shipped_claims,
    simulate_auto,
    true_levels,
    within_run_bank,
)

from scaleperf.analysis import sequential

CONFIGS = 4


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--campaigns", type=int, default=2000)
    ap.add_argument("--fixed", type=int, default=7, help="replicates of the fixed design (docs/statistics.md recommends 7)")
    ap.add_argument("--measured-sd", type=float, help="a replicate log SD measured on the miniature: one more noise model")
    ap.add_argument("--overhead-s", type=float, default=OVERHEAD_S)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    started = time.monotonic()
    claims = shipped_claims()
    bank, _ = within_run_bank(20_000)
    auto_min, fixed_min = run_minutes("compare", args.overhead_s), run_minutes("standard", args.overhead_s)
    fixed_total = args.fixed * CONFIGS * fixed_min
    noises = [NOISES["pinned"], NOISES["wide"]]
    if args.measured_sd:
        noises.append(Noise(f"measured (log SD {args.measured_sd:.3f})", total_sd=args.measured_sd))
    print(f"{args.campaigns} simulated campaigns per row; {len(claims)} shipped claims")
    print(
        f"auto: compare profile, {auto_min:.2f} min per run, "
        f"rounds {sequential.DEFAULT.min_rounds}-{sequential.DEFAULT.max_rounds}"
    )
    print(f"fixed: standard profile, {fixed_min:.2f} min per run, {args.fixed} replicates x {CONFIGS} configurations")
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
            minutes = auto["runs"] * auto_min
            fixed = fixed_design(claims, scenario, noise, args.campaigns, args.fixed, seed + 1000, bank)
            right = expected_outcomes(claims, scenario)
            print(
                f"{noise.name[:26]:26} {scenario:8} | {minutes.mean():10.1f} / {np.percentile(minutes, 90):5.1f}     "
                f"{decided(auto['outcome']):8.3f} {correct(auto['outcome'], right):6.3f} | "
                f"{fixed_total:14.1f} {decided(fixed):8.3f} {correct(fixed, right):6.3f} | {minutes.mean() / fixed_total:10.2f}"
            )
    print(
        "\ndecided: share of campaigns with every claim pass or fail (none inconclusive); right: share with every claim "
        "as the truth says (effect: every claim passes; equal: the better claims fail, the same claim passes). "
        "Fixed minutes do not vary: every replicate runs."
    )
    print(f"elapsed {time.monotonic() - started:.0f} s")
    return 0


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
