"""The golden database: one seeded PostgreSQL data directory per machine, copied for every configuration.

Seeding 10 000 users takes seconds; copying a data directory takes a fraction of one.  The golden
copy is built once (``python -m helpdesk seed`` from the committed digest file) and cached under
scaleperf's per-user folder, keyed by the digest file's hash, the backend's schema and the PostgreSQL
version, so a changed file or schema builds a new one.  A lock file keeps parallel sessions (xdist
workers, tox environments) from building the same copy twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

from scaleperf import paths
from scaleperf.configs import FIXTURES
from scaleperf.errors import ScaleperfError
from scaleperf.pg import EmbeddedPostgres

log = logging.getLogger(__name__)

DEFAULT_USERS = FIXTURES / "users.tsv"  # the committed digest file of the load-test user pool
SEED_TIMEOUT_S = 300.0  # seeding 10 000 users takes seconds; a loaded machine far more
KEY_LENGTH = 16  # hex digits of the cache key kept in the folder name
GOLDEN_DIR = "golden"  # the cache folder under scaleperf's per-user folder
UNUSED_DAYS = 7  # a cached copy nobody used for this long (an older digest file or schema) is deleted


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:KEY_LENGTH]


def schema_text() -> str:
    return resources.files("helpdesk").joinpath("schema.sql").read_text()


def cache_key(users: Path) -> str:
    """Digest file hash + schema + PostgreSQL binaries' version."""
    from scaleperf.pg import _wheel_version

    try:
        content = users.read_bytes()
    except OSError as exc:
        raise ScaleperfError(f"cannot read the user digest file {users}: {exc.strerror}; generate it first") from exc
    return _digest(content, schema_text().encode(), _wheel_version().encode())


def python_env() -> dict[str, str]:
    """The environment for ``python -m helpdesk``: this interpreter, with the repository's src on the path."""
    src = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def seed(url: str, users: Path, *, wipe: bool = False) -> None:
    """Run ``python -m helpdesk [wipe] seed`` against ``url`` (a real subprocess, as an operator would)."""
    steps = [["wipe", "--database-url", url]] if wipe else []
    steps.append(["seed", "--database-url", url, "--users", str(users)])
    for args in steps:
        proc = subprocess.run(
            [sys.executable, "-m", "helpdesk", *args], capture_output=True, text=True, timeout=SEED_TIMEOUT_S, env=python_env()
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise ScaleperfError(f"python -m helpdesk {args[0]} failed: {tail[0]}")


def prune(root: Path, keep: str) -> int:
    """Delete cached copies (other than ``keep``) unused for UNUSED_DAYS; returns how many."""
    cutoff = time.time() - UNUSED_DAYS * 86400
    removed = 0
    for path in root.iterdir():
        if path.is_dir() and path.name != keep and "." not in path.name and path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(OSError):
                (root / f"{path.name}.lock").unlink()
            removed += 1
    return removed


def golden_data(users: Path | None = None) -> Path:
    """The seeded data directory for ``users`` (built now if missing); use it as EmbeddedPostgres(template=...)."""
    users = Path(users or DEFAULT_USERS).resolve()
    key = cache_key(users)
    root = paths.subdir(GOLDEN_DIR)
    target = root / key
    if (target / "PG_VERSION").exists():
        os.utime(target)  # marks it used, so pruning keeps it
        return target
    prune(root, keep=key)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building it; wait and reuse its copy
        if (target / "PG_VERSION").exists():
            return target
        log.info("building the golden database from %s (once per machine)", users)
        server = EmbeddedPostgres(name=f"golden-{key}", keep=True)
        with server:
            seed(server.url, users)
        staging = root / f"{key}.tmp{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            shutil.move(str(server.data), staging)
            staging.rename(target)
        finally:
            shutil.rmtree(server.base, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)
    return target
