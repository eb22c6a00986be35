"""The database: the async connection pool requests use, and the schema, wipe and seed operations.

Schema, wipe and seed run synchronously (the launcher and the CLI); requests use a psycopg async pool
in autocommit mode, with explicit transactions where a request writes more than one row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool

from helpdesk.errors import HelpdeskError

log = logging.getLogger(__name__)

SCHEMA_LOCK_KEY = 7_340_291_001  # pg_advisory_lock key: instances starting together apply the schema one at a time
CONNECT_TIMEOUT_S = 10  # how long a start waits for PostgreSQL before saying so
POOL_OPEN_TIMEOUT_S = 30.0  # how long a worker waits for its pool's first connections
TABLES = ("sessions", "expert_assignments", "messages", "conversations", "expert_profiles", "users")
DIGEST_PREFIXES = ("$2a$", "$2b$", "$2y$")  # bcrypt digest formats a user file may hold
DIGEST_LENGTH = 60  # every bcrypt digest is 60 characters; a shorter last line is a file still being written


def schema_sql() -> str:
    return resources.files("helpdesk").joinpath("schema.sql").read_text()


def connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HelpdeskError(f"cannot connect to PostgreSQL at {url!r} ({first}); check --database-url") from exc


def apply_schema(url: str) -> None:
    """Create the tables, indexes and helper function if missing (safe while other instances start)."""
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            conn.execute(schema_sql())
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
    log.info("schema applied")


def wipe(url: str) -> None:
    """Empty every table and restart the ids; the schema stays."""
    apply_schema(url)
    with connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    log.info("all tables emptied")


def read_digests(path: Path, limit: int | None = None) -> list[tuple[str, str]]:
    """``(username, digest)`` pairs from a ``username<TAB>bcrypt digest`` file; incomplete lines are skipped."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise HelpdeskError(f"cannot read the user file {path}: {exc.strerror}; pass --users PATH") from exc
    pairs: list[tuple[str, str]] = []
    for line in text.splitlines():
        name, _, digest = line.strip().partition("\t")
        if name and digest.startswith(DIGEST_PREFIXES) and len(digest) == DIGEST_LENGTH:
            pairs.append((name, digest))
            if limit is not None and len(pairs) >= limit:
                break
    return pairs


def seed(url: str, pairs: Iterable[tuple[str, str]]) -> int:
    """Bulk-insert users (skipping names that exist) with an expert profile each; returns how many were new."""
    apply_schema(url)
    with connect(url) as conn, conn.transaction():
        conn.execute("CREATE TEMP TABLE seed_users (username text, password_digest text) ON COMMIT DROP")
        with conn.cursor().copy("COPY seed_users (username, password_digest) FROM STDIN") as copy:
            for pair in pairs:
                copy.write_row(pair)
        cur = conn.execute(
            "INSERT INTO users (username, password_digest) SELECT username, password_digest FROM seed_users "
            "ON CONFLICT (username) DO NOTHING"
        )
        added = cur.rowcount
        conn.execute(
            "INSERT INTO expert_profiles (user_id) SELECT u.id FROM users u "
            "WHERE NOT EXISTS (SELECT 1 FROM expert_profiles p WHERE p.user_id = u.id)"
        )
    log.info("seeded %d users", added)
    return added


def make_pool(url: str, size: int) -> AsyncConnectionPool:
    """An unopened pool of ``size`` autocommit connections whose session time zone is UTC."""

    async def configure(conn: psycopg.AsyncConnection) -> None:
        await conn.execute("SET TIME ZONE 'UTC'")

    return AsyncConnectionPool(
        url,
        min_size=size,
        max_size=size,
        open=False,
        kwargs={"autocommit": True},
        configure=configure,
        timeout=POOL_OPEN_TIMEOUT_S,
        name="helpdesk",
    )
