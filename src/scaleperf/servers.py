"""What the embedded database servers (PostgreSQL, MariaDB/MySQL) share: stopping a server process in
escalating steps, and reaping the servers of a session that died without stopping them.

Each server lives in its own folder under the per-user home, with an owner file naming the process that
started it; :func:`reap_orphans` stops the server of any folder whose owner is gone and deletes the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from scaleperf.errors import ScaleperfError


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(proc: subprocess.Popen | None, steps: tuple[tuple[signal.Signals, float], ...]) -> None:
    """Send each (signal, seconds to wait) in turn until ``proc`` has exited."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in steps:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def reap_orphans(root: Path, owner_file: str, server_pid: Callable[[Path], int | None], sig: signal.Signals) -> int:
    """Stop (``sig``) the server of every folder under ``root`` whose starting process is gone, and delete the
    folder. ``server_pid`` reads the server's pid from a folder. Returns how many servers were stopped."""
    if not root.exists():
        return 0
    reaped = 0
    for owner in root.glob(f"*/{owner_file}"):
        try:
            owner_pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if alive(owner_pid):
            continue
        pid = server_pid(owner.parent)
        if pid and alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
            reaped += 1
        shutil.rmtree(owner.parent, ignore_errors=True)
    return reaped


class ManagedServer:
    """A server process of this session in its own folder ``base``: stopped in the steps ``STOP_STEPS`` (signal,
    seconds to wait), its folder removed unless ``keep``; a context manager around ``start()``."""

    STOP_STEPS: tuple[tuple[signal.Signals, float], ...] = ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0))
    process: subprocess.Popen | None
    keep: bool
    base: Path

    def start(self):  # pragma: no cover - each server defines it
        raise NotImplementedError

    def claim_folder(self, owner_file: str) -> None:
        """Create ``base`` and name this process its owner, so that :func:`reap_orphans` can tell a server whose
        session died from one still in use."""
        try:
            self.base.mkdir(mode=0o755, parents=True)
        except OSError as exc:
            raise ScaleperfError(f"cannot create {self.base}: {exc.strerror}; set SCALEPERF_HOME to a writable folder") from exc
        (self.base / owner_file).write_text(str(os.getpid()))

    def stop(self) -> None:
        """Stop the server and remove its files unless ``keep``."""
        proc, self.process = self.process, None
        stop(proc, self.STOP_STEPS)
        if not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None
