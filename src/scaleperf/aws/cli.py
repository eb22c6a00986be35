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
    if args.check:
        _check(args, configs, engine, spec)
    return 0


def _check(args: argparse.Namespace, configs, engine: str, spec) -> None:
    """Run every read-only preflight call against the account (credentials needed); create nothing."""
    from pathlib import Path

    from scaleperf.aws import preflight
    from scaleperf.aws.boto import user_errors
    from scaleperf.configs import load_catalogue

    cloud = make_cloud()
    cloud.check_credentials()
    lg = load_catalogue().ec2.get(spec.instance_type) if spec.kind == "ec2" else None
    request = preflight.Request(
        configs=tuple(configs),
        kind="rails" if args.app else "reference",
        engine=engine,
        app=Path(args.app) if args.app else None,
        parallel=args.parallel,
        loadgen_workers=spec.count if spec.kind == "ec2" else 0,
        loadgen_vcpus=lg.vcpus if lg else 0,
        loadgen_type=spec.instance_type if spec.kind == "ec2" else None,
        subnets=tuple(s for s in (args.subnets or "").split(",") if s),
    )
    with user_errors("checking the account"):
        result = preflight.run(cloud, request)
    print("preflight: every check passed (nothing was created)")
    print("\n".join(f"  ok: {line}" for line in result.lines))
    print("\n".join(f"  warning: {w}" for w in result.warnings))


def make_cloud():
    """The account, through boto3's standard credential chain (tests replace this)."""
    from scaleperf.aws.boto import BotoCloud

    return BotoCloud()


def _roles(args: argparse.Namespace) -> int:
    from scaleperf.aws import environment as envs
    from scaleperf.aws.boto import user_errors

    cloud = make_cloud()
    cloud.check_credentials()
    with user_errors("the Elastic Beanstalk roles"):
        missing = [
            n
            for n, ok in (
                (envs.INSTANCE_PROFILE, cloud.instance_profile_exists(envs.INSTANCE_PROFILE)),
                (envs.SERVICE_ROLE, cloud.role_exists(envs.SERVICE_ROLE)),
            )
            if not ok
        ]
        if not missing:
            print(f"{envs.INSTANCE_PROFILE} and {envs.SERVICE_ROLE} exist")
            return 0
        if not args.create:
            print(f"missing: {', '.join(missing)}; run `scaleperf aws roles --create` to create them as the EB CLI does")
            return 2
        made = cloud.create_roles(envs.INSTANCE_PROFILE, envs.SERVICE_ROLE)
    print(f"created {', '.join(made)}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from scaleperf.aws import sweep
    from scaleperf.aws.boto import user_errors

    cloud = make_cloud()
    cloud.check_credentials()

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with user_errors("sweeping"):
        if args.dry_run:
            found = sweep.find(cloud, args.run_id)
            print("\n".join(str(r) for r in found) or "nothing tagged found")
            print("\n".join(cloud.bucket_report()))
            return 0
        sweep.sweep(cloud, args.run_id, say=say)
        print("\n".join(cloud.bucket_report()))
    return 0


def register(subparsers) -> None:
    """Add ``aws plan`` and ``aws sweep`` to the ``scaleperf`` command."""
    aws = subparsers.add_parser("aws", help="plan AWS runs and remove what they left")
    sub = aws.add_subparsers(dest="aws_command", required=True)

    p = sub.add_parser("plan", help="what an AWS run creates and costs (needs no credentials; --check asks the account)")
    p.add_argument("--config", action="append", help="configurations, repeatable or comma-separated; default: all")
    p.add_argument("--profile", default="smoke", choices=("smoke", "standard", "full"))
    p.add_argument("--replicates", type=int, default=1)
    p.add_argument("--minutes", type=float, default=None, help="minutes one load run takes (default: the profile's estimate)")
    p.add_argument("--loadgen", default=None, help="ec2:N[:TYPE] to include EC2 load generators")
    p.add_argument("--app", default=None, help="a Rails app folder or zip (default: the reference backend)")
    p.add_argument("--engine", choices=("mysql", "postgres"), default=None, help="database engine (default: by app)")
    p.add_argument("--parallel", action="store_true", help="configurations provision at once (pytest -n)")
    p.add_argument("--max-cost", type=float, default=None, help="fail if the estimated total (USD) is above this")
    p.add_argument("--subnets", default=None, help="subnet ids (comma-separated) instead of the default VPC's")
    p.add_argument("--check", action="store_true", help="also run every read-only preflight call (credentials; creates nothing)")
    p.set_defaults(func=_plan)

    p = sub.add_parser("roles", help="check the Elastic Beanstalk roles; --create makes them as the EB CLI does")
    p.add_argument("--create", action="store_true", help="create the instance profile and the service role if missing")
    p.set_defaults(func=_roles)

    p = sub.add_parser("sweep", help="delete everything tagged with a run id (all scaleperf runs without one)")
    p.add_argument("--run-id", default=None)
    p.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    p.set_defaults(func=_sweep)
