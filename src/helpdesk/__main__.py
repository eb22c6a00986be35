"""``python -m helpdesk serve|wipe|seed``: run the reference help desk backend and manage its data."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from helpdesk import db
from helpdesk.errors import HelpdeskError
from helpdesk.settings import COST_MODELS, Settings

DEFAULT_USERS = Path("fixtures/users.tsv")  # the committed digest file of the load-test user pool
EXIT_USER_ERROR = 2  # an operator mistake; the message says what to do


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpdesk", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the server in the foreground (SIGTERM/SIGINT stop it)")
    p.add_argument("--database-url", required=True, help="postgresql://... (the schema is applied at start)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="server worker processes")
    p.add_argument("--cost-model", choices=COST_MODELS, default="rails", help="rails: each request costs what it costs in Rails")
    p.add_argument("--pool-size", type=int, default=10, help="database connections per worker")
    p.add_argument("--bcrypt-cost", type=int, default=12, help="bcrypt cost of new digests (Rails production: 12)")
    p.add_argument(
        "--bcrypt12-ms", type=float, default=0.0, help="bcrypt-12 ms here, the rails model's yardstick (default: timed)"
    )
    p.add_argument("--reuse-port", action="store_true", help="share the port with other instances (SO_REUSEPORT)")
    p.add_argument(
        "--clock-offset-header",
        action="store_true",
        help="TESTS ONLY: honour X-Helpdesk-Clock-Offset (seconds added to the server's clock for that request)",
    )

    p = sub.add_parser("wipe", help="empty every table (the schema stays)")
    p.add_argument("--database-url", required=True)

    p = sub.add_parser("seed", help="bulk-insert the user pool (user_N, password = name) from a digest file")
    p.add_argument("--database-url", required=True)
    p.add_argument("--users", type=Path, default=DEFAULT_USERS, help="lines 'username<TAB>bcrypt digest'")
    p.add_argument("--limit", type=int, default=None, help="seed only the first N users of the file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            from helpdesk import server

            server.run(
                Settings(
                    database_url=args.database_url,
                    host=args.host,
                    port=args.port,
                    workers=args.workers,
                    cost_model=args.cost_model,
                    pool_size=args.pool_size,
                    bcrypt_cost=args.bcrypt_cost,
                    bcrypt12_ms=args.bcrypt12_ms,
                    reuse_port=args.reuse_port,
                    clock_offset_header=args.clock_offset_header,
                )
            )
        elif args.command == "wipe":
            db.wipe(args.database_url)
            print("wiped: every table is empty")
        else:
            pairs = db.read_digests(args.users, args.limit)
            added = db.seed(args.database_url, pairs)
            print(f"seeded {added} new users ({len(pairs)} read from {args.users})")
    except HelpdeskError as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
