"""``scaleperf aws plan`` and ``scaleperf aws sweep`` (thin glue; registered by :mod:`scaleperf.cli`)."""

from __future__ import annotations

import argparse
import sys


def _plan(args: argparse.Namespace) -> int:
    from scaleperf import loadgen
    from scaleperf.aws import plan as plans
    from scaleperf.configs import load_catalogue, load_configs, parse_names, select

    catalogue = load_catalogue()
    configs = select(load_configs(catalogue=catalogue), parse_names(args.config))
    spec = loadgen.parse(args.loadgen)
    engine = args.engine or ("mysql" if args.app else "postgres")
    plans.check_engine(engine, "rails" if args.app else "reference")
    plan = plans.make_plan(
        configs,
        catalogue,
        engine=engine,
        profile=args.profile,
        replicates=args.replicates,
        run_minutes=args.minutes,
        parallel=args.parallel,
        loadgen_workers=spec.count if spec.kind == "ec2" else 0,
        loadgen_type=spec.instance_type if spec.kind == "ec2" else None,
    )
    print("\n".join(plan.lines()))
    plans.check_budget(plan, args.max_cost)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from scaleperf.aws import sweep
    from scaleperf.aws.boto import BotoCloud, user_errors

    cloud = BotoCloud()
    cloud.check_credentials()

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with user_errors("sweeping"):
        if args.dry_run:
            found = sweep.find(cloud, args.run_id)
            print("\n".join(str(r) for r in found) or "nothing tagged found")
            return 0
        sweep.sweep(cloud, args.run_id, say=say)
    return 0


def register(subparsers) -> None:
    """Add ``aws plan`` and ``aws sweep`` to the ``scaleperf`` command."""
    aws = subparsers.add_parser("aws", help="plan AWS runs and remove what they left")
    sub = aws.add_subparsers(dest="aws_command", required=True)

    p = sub.add_parser("plan", help="what an AWS run creates and costs (needs no credentials)")
    p.add_argument("--config", action="append", help="configurations, repeatable or comma-separated; default: all")
    p.add_argument("--profile", default="smoke", choices=("smoke", "standard", "full"))
    p.add_argument("--replicates", type=int, default=1)
    p.add_argument("--minutes", type=float, default=None, help="minutes one load run takes (default: the profile's estimate)")
    p.add_argument("--loadgen", default=None, help="ec2:N[:TYPE] to include EC2 load generators")
    p.add_argument("--app", default=None, help="a Rails app folder or zip (default: the reference backend)")
    p.add_argument("--engine", choices=("mysql", "postgres"), default=None, help="database engine (default: by app)")
    p.add_argument("--parallel", action="store_true", help="configurations provision at once (pytest -n)")
    p.add_argument("--max-cost", type=float, default=None, help="fail if the estimated total (USD) is above this")
    p.set_defaults(func=_plan)

    p = sub.add_parser("sweep", help="delete everything tagged with a run id (all scaleperf runs without one)")
    p.add_argument("--run-id", default=None)
    p.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    p.set_defaults(func=_sweep)
