"""One command for manual use: the help desk with its own embedded PostgreSQL (``scaleperf serve``).

This is the only module of the help desk that uses scaleperf (for its embedded PostgreSQL).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from helpdesk import db, server
from helpdesk.settings import Settings

log = logging.getLogger(__name__)

USERS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "users.tsv"  # the committed user pool digests
DATABASE_NAME = "helpdesk"


def _announce(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def serve(
    port: int = 8000,
    cost_model: str = "rails",
    workers: int = 1,
    users: int = 1000,
    *,
    host: str = "127.0.0.1",
    bcrypt_cost: int = 12,
    users_file: Path = USERS_FILE,
    announce: Callable[[str], None] = _announce,
) -> None:
    """Seed ``users`` pool users (user_N, password = name) into ``$DATABASE_URL`` or, without it, a fresh
    embedded PostgreSQL, and serve until Ctrl-C. A busy port is refused before anything starts."""
    from scaleperf.pg import EmbeddedPostgres

    server.check_port_free(host, port)
    with contextlib.ExitStack() as stack:
        url = os.environ.get("DATABASE_URL")
        if not url:
            url = stack.enter_context(EmbeddedPostgres(name="helpdesk")).create_database(DATABASE_NAME)
        db.apply_schema(url)
        if users_file.exists():
            added = db.seed(url, db.read_digests(users_file, users))
        else:
            log.warning("no user pool file at %s: no users seeded", users_file)
            added = 0
        announce(
            f"help desk on http://{host}:{port}  (cost model {cost_model}, {workers} worker(s), {added} pool users "
            f"user_0.. with password = username; database "
            f"{'from DATABASE_URL' if os.environ.get('DATABASE_URL') else url}); Ctrl-C stops it"
        )
        server.run(
            Settings(database_url=url, host=host, port=port, workers=workers, cost_model=cost_model, bcrypt_cost=bcrypt_cost)
        )
