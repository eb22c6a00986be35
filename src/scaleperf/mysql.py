"""Embedded MySQL-compatible server: the MariaDB or MySQL binaries found on this machine, run unprivileged.

The local miniature's database tier for apps whose ``config/database.yml`` names ``mysql2`` or
``trilogy`` (RDS MySQL on AWS).  A server is started in its own folder under scaleperf's per-user
folder, listening on 127.0.0.1 only, from a fresh ``mariadb-install-db`` or a copy of a golden data
directory.  As root it runs as the same unprivileged user as PostgreSQL (``nobody`` unless
``$SCALEPERF_PG_USER`` names another).  SQL goes through the ``mariadb``/``mysql`` command-line client,
so no Python driver is needed.

Debian: ``apt-get install mariadb-server`` (the package's own service need not run).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from scaleperf import paths, servers
from scaleperf.errors import ScaleperfError
from scaleperf.pg import OWNER_FILE, RunAs, free_port, run_as

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0  # install-db + start take a few seconds; a loaded CI box far more
STOP_TIMEOUT_S = 15.0  # SIGTERM (clean shutdown), then SIGKILL
SQL_TIMEOUT_S = 300.0  # one client invocation (a reset copies every table)
DATA_ROOT = "mysql-data"  # folder under scaleperf's per-user folder
BUFFER_POOL_FRACTION = 0.75  # RDS MySQL's default innodb_buffer_pool_size: {DBInstanceClassMemory*3/4}
RDS_BYTES_PER_CONNECTION = 12_582_880  # RDS MySQL's default max_connections: {DBInstanceClassMemory/12582880}
LOCAL_MAX_CONNECTIONS = 500  # cap for the miniature: each slot costs memory, app pools need far fewer
MIN_CONNECTIONS = 20  # a floor for tiny classes
SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin")
BASE_SETTINGS = {
    # Throwaway test data: durability costs time and proves nothing here.
    "innodb_flush_log_at_trx_commit": "2",
    "sync_binlog": "0",
    "skip_log_bin": "",
    "skip_name_resolve": "",
    "character_set_server": "utf8mb4",
    "collation_server": "utf8mb4_unicode_ci",
    "log_warnings": "1",
}


@dataclass(frozen=True)
class Binaries:
    """The server, the data-directory initialiser and the client, and which product they are."""

    server: Path
    install_db: Path
    client: Path
    version: str

    @property
    def is_mariadb(self) -> bool:
        return "mariadb" in self.version.lower()


def _which(names: tuple[str, ...]) -> Path | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
        for folder in SEARCH_DIRS:
            candidate = Path(folder) / name
            if candidate.exists() and os.access(candidate, os.X_OK):
                return candidate
    return None


def find_binaries() -> Binaries:
    """MariaDB's (or MySQL's) server, install-db and client, or a ScaleperfError saying how to get them."""
    server = _which(("mariadbd", "mysqld"))
    install_db = _which(("mariadb-install-db", "mysql_install_db"))
    client = _which(("mariadb", "mysql"))
    if server is None or install_db is None or client is None:
        raise ScaleperfError(
            "no MySQL-compatible server found (need mariadbd or mysqld, mariadb-install-db and the mariadb client); "
            "install it (Debian: apt-get install mariadb-server) or choose PostgreSQL with --db-engine postgresql"
        )
    try:
        version = subprocess.run([str(server), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScaleperfError(f"{server} --version failed ({exc}); check the MariaDB installation") from exc
    return Binaries(server=server, install_db=install_db, client=client, version=version)


def available() -> str | None:
    """None when a MySQL-compatible server can be started here, else why not."""
    try:
        find_binaries()
    except ScaleperfError as exc:
        return str(exc)
    return None


def db_settings(memory_bytes: int) -> dict[str, str]:
    """Server settings from the instance class's memory, as RDS MySQL's default parameter group derives them."""
    pool_mb = int(memory_bytes * BUFFER_POOL_FRACTION) // 2**20
    rds = memory_bytes // RDS_BYTES_PER_CONNECTION
    return {
        "innodb_buffer_pool_size": f"{max(pool_mb, 8)}M",
        "max_connections": str(max(MIN_CONNECTIONS, min(rds, LOCAL_MAX_CONNECTIONS))),
    }


def reap_orphans(root: Path | None = None) -> int:
    """Stop servers whose starting process died without stopping them, and delete their folders."""
    return servers.reap_orphans(
        root or paths.home() / DATA_ROOT, OWNER_FILE, lambda folder: _read_pid(folder / "mysqld.pid"), signal.SIGKILL
    )


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class EmbeddedMySQL(servers.ManagedServer):
    """One MariaDB/MySQL server process under scaleperf's per-user folder.

    ``template``: a data directory to copy instead of initialising a fresh one (the golden copy).
    ``settings``: extra server options (``--key=value``).  ``keep``: leave the files after :meth:`stop`.
    """

    STOP_STEPS = ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5.0))  # a clean shutdown, then kill

    def __init__(
        self,
        *,
        name: str = "mysql",
        settings: dict[str, str] | None = None,
        template: Path | None = None,
        keep: bool = False,
    ) -> None:
        self.binaries = find_binaries()
        self.who: RunAs = run_as()
        self.settings = {**BASE_SETTINGS, **(settings or {})}
        self.template = template
        self.keep = keep
        self.port = 0
        self.base = paths.subdir(DATA_ROOT) / f"{name}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        self.data = self.base / "data"
        self.socket = self.base / "mysqld.sock"
        self.log_path = self.base / "mysqld.log"
        self.process: subprocess.Popen | None = None

    engine = "mysql"

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> EmbeddedMySQL:
        reap_orphans()
        self.port = free_port()
        self.claim_folder(OWNER_FILE)
        try:
            self.who.check_reachable(self.base)
            if self.template is not None:
                shutil.copytree(self.template, self.data, symlinks=True)
                self.who.chown_tree(self.base)
            else:
                self.who.chown_tree(self.base)
                self._install_db()
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _install_db(self) -> None:
        cmd = [
            str(self.binaries.install_db),
            "--no-defaults",
            f"--datadir={self.data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            f"--user={self.who.name or _me()}",
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S, env=self._env(), **self.who.popen_kwargs()
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:] or ["(no output)"]
            raise ScaleperfError(f"mariadb-install-db failed in {self.data}: {' | '.join(tail)}")

    def command(self) -> list[str]:
        cmd = [
            str(self.binaries.server),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.socket}",
            f"--pid-file={self.base / 'mysqld.pid'}",
            f"--log-error={self.log_path}",
            "--bind-address=127.0.0.1",
            f"--port={self.port}",
            f"--tmpdir={self.base}",
        ]
        if self.who.name:
            cmd.append(f"--user={self.who.name}")
        for key, value in self.settings.items():
            cmd.append(f"--{key.replace('_', '-')}" + (f"={value}" if value != "" else ""))
        return cmd

    def _launch(self) -> None:
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self._env(),
            start_new_session=True,  # Ctrl-C reaches us, and we stop the server
            **self.who.popen_kwargs(),
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ScaleperfError(f"the MySQL server exited at start: {self.log_tail()} (log: {self.log_path})")
            if self._ready():
                log.info("mysql ready on 127.0.0.1:%d (pid %d, %s)", self.port, self.process.pid, self.binaries.version)
                return
            time.sleep(0.1)
        raise ScaleperfError(f"the MySQL server did not become ready in {START_TIMEOUT_S:.0f}s (log: {self.log_path})")

    def _ready(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            self.sql("SELECT 1", timeout=5)
        except ScaleperfError:
            return False
        return True

    def _env(self) -> dict[str, str]:
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.base), "LC_ALL": "C", "TZ": "UTC"}

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) if text else "(empty log)"

    # -- facts and SQL --------------------------------------------------------------------------
    def url(self, database: str = "") -> str:
        """A Rails-style URL (the scheme is the mysql2 adapter's)."""
        return f"mysql2://root@127.0.0.1:{self.port}/{database}"

    def sql(self, statements: str, *, database: str = "", timeout: float = SQL_TIMEOUT_S) -> str:
        """Run ``statements`` with the command-line client as root over the socket; tab-separated output."""
        cmd = [str(self.binaries.client), "--no-defaults", "-uroot", f"--socket={self.socket}", "--batch", "--skip-column-names"]
        if database:
            cmd.append(database)
        try:
            proc = subprocess.run(cmd, input=statements, capture_output=True, text=True, timeout=timeout, env=self._env())
        except subprocess.TimeoutExpired as exc:
            raise ScaleperfError(f"a SQL statement on the MySQL server took over {timeout:.0f}s") from exc
        if proc.returncode != 0:
            raise ScaleperfError(f"SQL on the MySQL server failed: {proc.stderr.strip()[-500:]}")
        return proc.stdout

    def create_database(self, name: str) -> str:
        self.sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
        return self.url(name)

    def tables(self, database: str) -> list[str]:
        out = self.sql(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{database}' AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        return [line for line in out.splitlines() if line]

    def snapshot(self, database: str, into: str) -> None:
        """Copy every table of ``database`` into database ``into`` (the state :meth:`restore` goes back to)."""
        parts = [f"DROP DATABASE IF EXISTS `{into}`;", f"CREATE DATABASE `{into}`;"]
        for t in self.tables(database):
            parts.append(f"CREATE TABLE `{into}`.`{t}` LIKE `{database}`.`{t}`;")
            parts.append(f"INSERT INTO `{into}`.`{t}` SELECT * FROM `{database}`.`{t}`;")
        self.sql("\n".join(parts))

    def restore(self, database: str, source: str) -> None:
        """Put every table of ``database`` back to its copy in ``source``; the app's connections stay valid."""
        parts = ["SET FOREIGN_KEY_CHECKS = 0;"]
        for t in self.tables(source):
            parts.append(f"TRUNCATE TABLE `{database}`.`{t}`;")
            parts.append(f"INSERT INTO `{database}`.`{t}` SELECT * FROM `{source}`.`{t}`;")
        parts.append("SET FOREIGN_KEY_CHECKS = 1;")
        self.sql("\n".join(parts))


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
