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
