"""Load worker processes: starting them on this machine, waiting for every worker to join the master, noticing
the ones that died."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gevent
from locust.runners import MasterRunner

from scaleperf import ports
from scaleperf.errors import ScaleperfError
from scaleperf.load import recorder as rec_mod
from scaleperf.load.signals import SignalForwarder

log = logging.getLogger(__name__)

WORKER_CONNECT_TIMEOUT_S = 30.0  # local worker processes must connect within this
EXPECT_WORKERS_TIMEOUT_S = 600.0  # workers on other machines must connect within this
WORKER_EXIT_TIMEOUT_S = 10.0  # local worker processes must exit this long after the master quits
REMOTE_WAIT_NOTE_S = 15.0  # while waiting for remote workers, say how many joined this often


class LocalWorkers:
    """Worker processes on this machine (``python -m scaleperf.load.worker ... --worker``)."""

    def __init__(self, count: int, locustfile: Path, port: int, log_dir: Path) -> None:
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("LOCUST_SKIP_MONKEY_PATCH", None)  # a fresh process: Locust patches it itself
        for i in range(count):
            log_path = log_dir / f"worker-{i}.log"
            self.logs.append(log_path)
            with open(log_path, "wb") as out:
                cmd = [sys.executable, "-m", "scaleperf.load.worker", "-f", str(locustfile), "--worker"]
                cmd += ["--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"]
                self.procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def dead(self) -> list[tuple[int, int, str]]:
        """(pid, exit code, last log line) of every worker that exited."""
        out = []
        for p, log_path in zip(self.procs, self.logs, strict=True):
            if p.poll() is not None:
                out.append((p.pid, p.returncode, tail(log_path)))
        return out

    def stop(self) -> None:
        deadline = time.monotonic() + WORKER_EXIT_TIMEOUT_S
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(deadline - time.monotonic(), 0.1))
            if p.poll() is None:
                p.kill()
                p.wait()


def tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def free_port(host: str) -> int:
    """A port for the master to listen on, reserved so that parallel sessions never share it."""
    return ports.reserve(host)


def _raise_if_dead(local: LocalWorkers | None) -> None:
    if local is not None and local.dead():
        pid, rc, last = local.dead()[0]
        raise ScaleperfError(f"load worker process {pid} exited with code {rc} before the run started: {last}")


def wait_for_workers(runner: MasterRunner, want: int, local: LocalWorkers | None, remote: int, signals: SignalForwarder) -> None:
    timeout = EXPECT_WORKERS_TIMEOUT_S if remote else WORKER_CONNECT_TIMEOUT_S
    deadline = time.monotonic() + timeout
    said = 0.0
    while runner.worker_count < want:
        _raise_if_dead(local)
        if time.monotonic() > deadline:
            raise ScaleperfError(
                f"only {runner.worker_count} of {want} load workers connected within {timeout:.0f} s; "
                "start the missing ones with `locust -f LOCUSTFILE --worker --master-host THIS_HOST` or lower the count"
            )
        if remote and time.monotonic() - said > REMOTE_WAIT_NOTE_S:
            said = time.monotonic()
            log.warning("waiting for load workers: %d of %d connected", runner.worker_count, want)
        gevent.sleep(0.1)
        signals.check()


def joined_count(runner: MasterRunner, local: LocalWorkers | None, signals: SignalForwarder) -> Callable[[], int]:
    """The ``count_fn`` a deployment's ``wait_for_workers`` polls: the master's worker count.

    Each poll also raises a pending Ctrl-C/SIGTERM and reports a local worker process that died.
    """

    def joined() -> int:
        signals.check()
        _raise_if_dead(local)
        return int(runner.worker_count)

    return joined


def worker_names(recorder: rec_mod.Recorder) -> dict[str, str]:
    """How a reason names each worker: its Locust id and, when its reports said, its process id."""
    return {wid: f"{wid} (pid {facts['pid']})" for wid, facts in recorder.workers.items() if facts.get("pid")}
