"""Start ``python -m helpdesk serve`` as a child process and wait until it answers (benchmarks, tools, providers)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from helpdesk.errors import HelpdeskError
from helpdesk.settings import SETTINGS_ENV, Settings

START_TIMEOUT_S = 60.0  # a loaded machine can take a while to start the workers
STOP_TIMEOUT_S = 15.0  # SIGTERM, then SIGKILL after this long
SRC_DIR = str(Path(__file__).resolve().parent.parent)  # so the child imports this copy of helpdesk


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC_DIR + os.pathsep + os.environ.get("PYTHONPATH", "")}


def wait_healthy(base_url: str, proc: subprocess.Popen, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HelpdeskError(f"the help desk server exited at start (code {proc.returncode}); see its output above")
        try:
            with urllib.request.urlopen(base_url + "/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise HelpdeskError(f"the help desk server did not answer {base_url}/health within {timeout:.0f}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running(
    settings: Settings, *, cpus: str | None = None, server: str = "granian", extra_args: Sequence[str] = ()
) -> Iterator[RunningServer]:
    """A server for ``settings`` (``cpus``: a taskset CPU list to pin it to); stopped on exit.

    ``server="uvicorn"`` runs the same app under uvicorn instead (for comparing the two servers).
    """
    pin = ["taskset", "-c", cpus] if cpus else []
    if server == "granian":
        cmd = [
            sys.executable, "-m", "helpdesk", "serve", "--database-url", settings.database_url, "--host", settings.host,
            "--port", str(settings.port), "--workers", str(settings.workers), "--cost-model", settings.cost_model,
            "--pool-size", str(settings.pool_size), "--bcrypt-cost", str(settings.bcrypt_cost), *extra_args,
        ]  # fmt: skip
        cmd += ["--reuse-port"] if settings.reuse_port else []
        cmd += ["--clock-offset-header"] if settings.clock_offset_header else []
    elif server == "uvicorn":
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "helpdesk.app:app_from_environment", "--host", settings.host,
            "--port", str(settings.port), "--workers", str(settings.workers), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    else:
        raise HelpdeskError(f"unknown server {server!r}; use granian or uvicorn")
    env = {**child_env(), SETTINGS_ENV: settings.to_env()}
    proc = subprocess.Popen([*pin, *cmd], env=env, start_new_session=True)
    base_url = f"http://{settings.host}:{settings.port}"
    try:
        wait_healthy(base_url, proc)
        yield RunningServer(base_url=base_url, pid=proc.pid)
    finally:
        stop(proc)
