"""Test helper: the help desk as a real server subprocess on 127.0.0.1 over a real embedded PostgreSQL."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import bcrypt

from helpdesk.launch import child_env, free_port, running
from helpdesk.settings import Settings
from scaleperf.pg import EmbeddedPostgres

TEST_BCRYPT_COST = 4  # the lowest bcrypt cost: tests hash quickly


def helpdesk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python -m helpdesk ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "helpdesk", *args], capture_output=True, text=True, timeout=timeout, env=child_env()
    )


@contextlib.contextmanager
def server(database_url: str, *, port: int | None = None, **options) -> Iterator[str]:
    """A running ``helpdesk serve`` (bcrypt cost 4 unless ``options`` say otherwise); yields its base URL.

    ``options`` are :class:`helpdesk.settings.Settings` fields (``cost_model="native"``, ``reuse_port=True``, ...).
    """
    settings = Settings(database_url=database_url, port=port or free_port(), **{"bcrypt_cost": TEST_BCRYPT_COST, **options})
    with running(settings) as srv:
        yield srv.base_url


@contextlib.contextmanager
def database(name: str) -> Iterator[str]:
    """A fresh embedded PostgreSQL; yields its URL."""
    with EmbeddedPostgres(name=name) as pg:
        yield pg.url


def write_digests(path: Path, count: int, start: int = 0) -> Path:
    """A user pool file like fixtures/users.tsv, hashed at the test cost."""
    lines = []
    for n in range(start, start + count):
        name = f"user_{n}"
        lines.append(f"{name}\t{bcrypt.hashpw(name.encode(), bcrypt.gensalt(rounds=TEST_BCRYPT_COST)).decode()}\n")
    path.write_text("".join(lines))
    return path
