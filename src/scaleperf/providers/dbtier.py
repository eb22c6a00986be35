"""The miniature's database tier for the app under test: PostgreSQL or a MySQL-compatible server.

* The reference backend (and a command template on PostgreSQL): the golden copy seeded with the user pool
  (:mod:`scaleperf.providers.golden`), reset with ``python -m helpdesk wipe`` + ``seed``, as before.
* A Rails app (either engine) or a command template on MySQL: a golden data directory per app and engine,
  prepared once with the app's own ``bin/rails db:prepare`` and cached under scaleperf's per-user folder;
  it holds a copy of every table (``scaleperf_golden``), and a reset puts each table back from it in
  place, so the app's connections stay valid.

Every configuration's server starts from a copy of the golden data directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from scaleperf import mysql, paths
from scaleperf.errors import ScaleperfError
from scaleperf.pg import EmbeddedPostgres
from scaleperf.providers import golden, rails
from scaleperf.providers.app import AppSpec

log = logging.getLogger(__name__)

SHARED_BUFFERS_FRACTION = 0.25  # RDS's default shared_buffers: about 25 % of the instance's memory
EFFECTIVE_CACHE_FRACTION = 0.75  # RDS's default effective_cache_size: about 75 % of memory
RDS_BYTES_PER_CONNECTION = 9_531_392  # RDS PostgreSQL: max_connections = LEAST(DBInstanceClassMemory/9531392, 5000)
RDS_MAX_CONNECTIONS = 5000  # the upper bound of RDS's formula
LOCAL_MAX_CONNECTIONS = 500  # cap for the miniature: app pools need far fewer, and each slot costs shared memory
SNAPSHOT = "scaleperf_golden"  # where the golden copy keeps its tables (a MySQL database / a PostgreSQL schema)
META_FILE = "scaleperf.json"  # the golden copy's credentials and how it was made
KEY_LENGTH = 16


def pg_settings(memory_bytes: int) -> dict[str, str]:
    """PostgreSQL settings derived from the instance class's memory, as RDS's parameter group does."""
    shared_mb = int(memory_bytes * SHARED_BUFFERS_FRACTION) // 2**20
    cache_mb = int(memory_bytes * EFFECTIVE_CACHE_FRACTION) // 2**20
    rds = min(memory_bytes // RDS_BYTES_PER_CONNECTION, RDS_MAX_CONNECTIONS)
    return {
        "shared_buffers": f"{shared_mb}MB",
        "effective_cache_size": f"{cache_mb}MB",
        "max_connections": str(max(20, min(rds, LOCAL_MAX_CONNECTIONS))),
    }


@dataclass(frozen=True)
class Golden:
    """A prepared data directory, and how to reach the app's database inside it."""

    engine: str
    data: Path
    db: rails.DbFacts | None  # None: the reference backend's layout (the default database, seeded by helpdesk)
    how: str

    def describe(self) -> dict:
        return {"engine": self.engine, "golden": str(self.data), "prepared_by": self.how}


def _app_digest(spec: AppSpec, version: str) -> str:
    h = hashlib.sha256()
    h.update(f"{spec.kind}|{spec.db_engine}|{spec.adapter}|{version}".encode())
    if spec.path is not None:
        names = ["Gemfile.lock", "config/database.yml", "db/schema.rb", "db/structure.sql", "db/seeds.rb"]
        files = [spec.path / n for n in names] + sorted((spec.path / "db" / "migrate").glob("*.rb"))
        for f in files:
            if f.is_file():
                h.update(f.name.encode())
                h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:KEY_LENGTH]


def golden_for(spec: AppSpec, users: Path | None, ruby: rails.Ruby | None) -> Golden:
    """The golden copy for ``spec`` (built now if missing)."""
    if spec.db_engine == "postgresql" and spec.kind != "rails":
        return Golden("postgresql", golden.golden_data(users), None, "python -m helpdesk seed (schema and user pool)")
    version = mysql.find_binaries().version if spec.db_engine == "mysql" else f"pg-{_pg_version()}"
    key = f"{spec.kind}-{spec.db_engine}-{_app_digest(spec, version)}"
    root = paths.subdir(golden.GOLDEN_DIR)
    target = root / key
    if (target / META_FILE).exists():
        os.utime(target)
        return _read(target)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building it
        if (target / META_FILE).exists():
            return _read(target)
        _build(spec, ruby, target)
    return _read(target)


def _pg_version() -> str:
    from scaleperf.pg import _wheel_version

    return _wheel_version()


def _read(target: Path) -> Golden:
    meta = json.loads((target / META_FILE).read_text())
    return Golden(meta["engine"], target / "data", rails.DbFacts(**meta["db"]), meta["how"])


def _build(spec: AppSpec, ruby: rails.Ruby | None, target: Path) -> None:
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    server = _server(spec.db_engine, name=f"golden-{target.name[-8:]}", keep=True)
    try:
        server.start()
        db = _create_user(server, spec)
        how = "an empty database"
        if spec.kind == "rails":
            assert spec.path is not None and ruby is not None
            log.info("building the golden database of %s (once per app version)", spec.path)
            prepare_log = target.with_name(target.name + "-prepare.log")  # kept: what db:prepare said, success or not
            prepare_log.unlink(missing_ok=True)
            rails.prepare_database(spec.path, ruby, db, prepare_log)
            how = "bin/rails db:prepare (create, schema or migrations, seeds)"
        else:
            _create_database(server, db.name)
        _snapshot(server, db)
        server.stop()
        shutil.move(str(server.data), staging / "data")
        meta = {"engine": spec.db_engine, "db": {**db.__dict__, "port": 0}, "how": how}
        (staging / META_FILE).write_text(json.dumps(meta))
        staging.rename(target)
    finally:
        server.keep = False
        server.stop()
        shutil.rmtree(staging, ignore_errors=True)


def _server(engine: str, *, name: str, keep: bool = False, settings: dict | None = None, template: Path | None = None):
    if engine == "mysql":
        return mysql.EmbeddedMySQL(name=name, keep=keep, settings=settings, template=template)
    return EmbeddedPostgres(name=name, keep=keep, settings=settings, template=template)


def _create_user(server, spec: AppSpec) -> rails.DbFacts:
    if isinstance(server, mysql.EmbeddedMySQL):
        password = secrets.token_hex(12)
        server.sql(
            f"CREATE USER '{rails.DB_USER}'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{rails.DB_USER}'@'127.0.0.1' WITH GRANT OPTION;\nFLUSH PRIVILEGES;"
        )
        adapter = spec.adapter if spec.adapter in ("mysql2", "trilogy") else "mysql2"
        return rails.DbFacts(adapter, "127.0.0.1", server.port, rails.DB_NAME, rails.DB_USER, password)
    return rails.DbFacts("postgresql", "127.0.0.1", server.port, rails.DB_NAME, "postgres", "")


def _create_database(server, name: str) -> None:
    server.create_database(name)


def _snapshot(server, db: rails.DbFacts) -> None:
    if isinstance(server, mysql.EmbeddedMySQL):
        server.snapshot(db.name, SNAPSHOT)
        return
    import psycopg

    url = f"postgresql://postgres@127.0.0.1:{server.port}/{db.name}"
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        conn.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT} CASCADE")
        conn.execute(f"CREATE SCHEMA {SNAPSHOT}")
        for t in tables:
            conn.execute(f'CREATE TABLE {SNAPSHOT}."{t}" AS TABLE public."{t}"')


def _restore_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (SNAPSHOT,)).fetchall()]
        if not tables:
            return
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # no foreign-key triggers while copying back
            conn.execute("TRUNCATE " + ", ".join(f'public."{t}"' for t in tables) + " RESTART IDENTITY")
            for t in tables:
                conn.execute(f'INSERT INTO public."{t}" OVERRIDING SYSTEM VALUE SELECT * FROM {SNAPSHOT}."{t}"')
        serials = conn.execute(
            "SELECT c.relname, a.attname, pg_get_serial_sequence(format('public.%I', c.relname), a.attname) "
            "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped "
            "AND pg_get_serial_sequence(format('public.%I', c.relname), a.attname) IS NOT NULL"
        ).fetchall()
        for table, column, seq in serials:
            conn.execute(f'SELECT setval(\'{seq}\', COALESCE((SELECT max("{column}") FROM public."{table}"), 0) + 1, false)')


class DbTier:
    """One configuration's database server, started from the golden copy."""

    def __init__(self, spec: AppSpec, gold: Golden, *, name: str, memory_bytes: int, users: Path | None) -> None:
        self.spec = spec
        self.golden = gold
        self.users = users
        self.settings = (mysql.db_settings if gold.engine == "mysql" else pg_settings)(memory_bytes)
        self.server = _server(gold.engine, name=name, settings=self.settings, template=gold.data)

    @property
    def engine(self) -> str:
        return self.golden.engine

    def start(self) -> DbTier:
        self.server.start()
        return self

    @property
    def pid(self) -> int | None:
        return self.server.pid

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def facts(self) -> rails.DbFacts:
        """How the app reaches its database (the reference layout: PostgreSQL's default database)."""
        if self.golden.db is None:
            return rails.DbFacts("postgresql", "127.0.0.1", self.port, "postgres", "postgres", "")
        return rails.DbFacts(**{**self.golden.db.__dict__, "port": self.port})

    @property
    def url(self) -> str:
        """The URL given to command templates as {database_url}."""
        if self.golden.db is None:
            return self.server.url
        return self.facts.url

    def reset(self) -> None:
        """Put the data back to the golden state; the app's connections stay valid."""
        if self.golden.db is None:
            golden.seed(self.server.url, Path(self.users or golden.DEFAULT_USERS), wipe=True)
        elif isinstance(self.server, mysql.EmbeddedMySQL):
            self.server.restore(self.golden.db.name, SNAPSHOT)
        else:
            _restore_pg(f"postgresql://postgres@127.0.0.1:{self.port}/{self.golden.db.name}")

    def stop(self) -> None:
        self.server.stop()

    def describe(self) -> dict:
        version = self.server.binaries.version if isinstance(self.server, mysql.EmbeddedMySQL) else "PostgreSQL"
        return {"engine": self.engine, "server": version, "settings": self.settings, "port": self.port, **self.golden.describe()}


def reap_orphans() -> None:
    """MySQL servers of sessions killed outright (PostgreSQL's are reaped by scaleperf.pg)."""
    try:
        mysql.reap_orphans()
    except ScaleperfError:
        pass
