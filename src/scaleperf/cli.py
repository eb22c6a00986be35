"""The ``scaleperf`` command (thin glue): serve the reference backend, rebuild reports, plan AWS runs.

The load tests themselves run under pytest: ``pytest -m perf --config=single``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from scaleperf.errors import ScaleperfError

EXIT_USER_ERROR = 2  # a mistake the message explains
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM, after cleaning up


def _serve(args: argparse.Namespace) -> int:
    from helpdesk import embedded
    from helpdesk.errors import HelpdeskError

    try:
        embedded.serve(port=args.port, cost_model=args.cost_model, workers=args.workers, users=args.users)
    except HelpdeskError as exc:  # the backend's own user errors (a busy port, a bad setting): one line, exit 2
        raise ScaleperfError(str(exc)) from None
    return 0


def _report(args: argparse.Namespace) -> int:
    from scaleperf.report import document

    md, html = document.build(Path(args.dir), args.run_id, accept_unlimited=True if args.accept_unlimited else None)
    print(f"results document: {md}\n                  {html}")
    from scaleperf.report import store, verdicts_text

    run_dir = md.parent
    stored = store.read(run_dir)
    if stored is not None:
        print("\n".join(verdicts_text.lines(stored)))
    return 0


def _configs(args: argparse.Namespace) -> int:
    from scaleperf.aws.plan import plan_config
    from scaleperf.configs import load_catalogue, load_configs

    catalogue = load_catalogue()
    print(f"{'name':<14}{'app':<22}{'vCPU':>5}  {'database':<14}{'vCPU':>5}  {'USD/h':>7}")
    for c in load_configs(catalogue=catalogue).values():
        hourly = plan_config(c, catalogue, engine=args.engine, hours=1.0).hourly_usd
        app = f"{c.app_instances}x {c.app_type.name}"
        print(f"{c.name:<14}{app:<22}{c.app_vcpus:>5}  {c.db_class.name:<14}{c.db_class.vcpus:>5}  {hourly:>7.3f}")
    print(f"prices: on-demand, {catalogue.region}, {args.engine} database, as of {catalogue.prices_as_of}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scaleperf", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the reference help desk backend with its embedded database")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--cost-model", choices=("native", "rails"), default="native")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--users", type=int, default=1000, help="seed this many pool users (user_N, password = name)")
    p.set_defaults(func=_serve)

    p = sub.add_parser("report", help="rebuild the results document of a run from disk alone")
    p.add_argument("dir", help="a results directory (results/) or one run's directory (results/<run-id>)")
    p.add_argument("--run-id", default=None, help="which run under DIR (default: DIR is the run, or the newest)")
    p.add_argument(
        "--accept-unlimited", action="store_true", help="judge saturation and comparisons even where CPU limits were 'none'"
    )
    p.set_defaults(func=_report)

    p = sub.add_parser("configs", help="list the scaling configurations and what they cost per hour")
    p.add_argument("--engine", choices=("mysql", "postgres"), default="mysql", help="database engine priced")
    p.set_defaults(func=_configs)

    try:
        from scaleperf.aws import cli as aws_cli
    except ImportError:  # pragma: no cover - the AWS commands ship with the package
        aws_cli = None
    if aws_cli is not None:
        aws_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ScaleperfError as exc:
        print(f"scaleperf: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("scaleperf: interrupted; cleaned up", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
