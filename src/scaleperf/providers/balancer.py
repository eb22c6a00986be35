"""One endpoint in front of several app instances, balancing per request as an AWS ALB does.

* ``haproxy``: Debian's HAProxy (when the ``haproxy`` binary exists) in HTTP mode, round robin on
  every request (keep-alive client connections included), health-checking ``/health``; each
  instance's request count comes from HAProxy's stats socket.
* ``reuseport``: no balancer process; every instance binds the same port with ``SO_REUSEPORT``
  (the backend's ``--reuse-port``) and the kernel spreads *connections* (not requests) among them.
  Per-instance request counts are then unknown.
* ``direct``: one instance, no balancer (the single-instance configurations, as on AWS).
"""

from __future__ import annotations

import _socket
import contextlib
import logging
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"  # what the balancer's health check requests, unless the app's health path is another
HEALTH_INTERVAL_MS = 1000  # HAProxy checks each instance this often
START_TIMEOUT_S = 20.0  # how long start() waits for every instance to be UP behind HAProxy
STOP_TIMEOUT_S = 5.0  # SIGTERM, then SIGKILL
STATS_TIMEOUT_S = 2.0  # a stats-socket query that takes longer is abandoned
MAX_CONNECTIONS = 8_000  # HAProxy's maxconn: far above what a miniature's users open (capped by the fd limit)
FDS_PER_CONNECTION = 2  # a proxied connection holds a client and a server socket
FD_HEADROOM = 100  # descriptors HAProxy keeps for listeners, checks and the stats socket
IDLE_TIMEOUT_S = 300  # client/server inactivity timeout (long polls and slow ramps must not be cut)


@dataclass(frozen=True)
class Backend:
    name: str  # "app-1"
    port: int


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)


def choose(kind: str, instances: int) -> str:
    """The balancer to use: ``auto`` picks haproxy when installed, else reuseport; one instance: direct."""
    if instances <= 1:
        return "direct"
    if kind == "auto":
        if haproxy_binary():
            return "haproxy"
        log.warning("haproxy is not installed: falling back to SO_REUSEPORT, which balances connections, not requests")
        return "reuseport"
    if kind == "haproxy" and not haproxy_binary():
        raise ScaleperfError("balancer 'haproxy' asked for but the haproxy binary is not installed; apt-get install haproxy")
    if kind not in ("haproxy", "reuseport"):
        raise ScaleperfError(f"unknown balancer {kind!r}; use auto, haproxy or reuseport")
    return kind


def max_connections() -> int:
    """HAProxy's maxconn: MAX_CONNECTIONS, or less when this process's open-file limit cannot hold that many."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else MAX_CONNECTIONS * FDS_PER_CONNECTION + FD_HEADROOM
    return max(100, min(MAX_CONNECTIONS, (limit - FD_HEADROOM) // FDS_PER_CONNECTION))


def haproxy_config(port: int, backends: list[Backend], stats_socket: Path, health_path: str = HEALTH_PATH) -> str:
    servers = "\n".join(f"    server {b.name} 127.0.0.1:{b.port} check" for b in backends)
    return f"""global
    maxconn {max_connections()}
    nbthread 1
    stats socket {stats_socket} mode 600 level user

defaults
    mode http
    timeout connect 5s
    timeout client {IDLE_TIMEOUT_S}s
    timeout server {IDLE_TIMEOUT_S}s
    timeout http-keep-alive {IDLE_TIMEOUT_S}s
    timeout queue 60s

frontend web
    bind 127.0.0.1:{port}
    default_backend app

backend app
    balance roundrobin
    option httpchk GET {health_path}
    http-check expect status 200
    default-server inter {HEALTH_INTERVAL_MS} fall 3 rise 1
{servers}
"""


def parse_stats(csv_text: str) -> dict[str, dict[str, str]]:
    """HAProxy ``show stat`` CSV -> {server name: {column: value}} for the ``app`` backend's servers."""
    lines = [ln for ln in csv_text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("#"):
        return {}
    header = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == "app" and row.get("svname") not in ("BACKEND", "FRONTEND"):
            out[row["svname"]] = row
    return out


class Balancer:
    """The endpoint of a configuration's app tier (start/stop; request counts per instance)."""

    def __init__(self, kind: str, port: int, backends: list[Backend], workdir: Path, health_path: str = HEALTH_PATH) -> None:
        self.kind = kind
        self.health_path = health_path
        self.port = port
        self.backends = backends
        self.workdir = workdir
        self.stats_socket = workdir / "haproxy.sock"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, wrap: Callable[[list[str]], list[str]] = list) -> None:
        """Start HAProxy (``wrap`` rewrites its command, e.g. to start it inside an accounting cgroup)."""
        if self.kind != "haproxy":
            return
        cfg = self.workdir / "haproxy.cfg"
        cfg.write_text(haproxy_config(self.port, self.backends, self.stats_socket, self.health_path))
        log_path = self.workdir / "haproxy.log"
        with open(log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                wrap([haproxy_binary() or "haproxy", "-db", "-f", str(cfg)]),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopped by us, never by a terminal's Ctrl-C before teardown runs
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
                raise ScaleperfError(f"haproxy exited at start: {tail[0]} (config {cfg})")
            status = {name: row.get("status", "") for name, row in self._stats().items()}
            if len(status) == len(self.backends) and all(s.startswith("UP") for s in status.values()):
                log.info("haproxy on 127.0.0.1:%d: %d instances UP", self.port, len(status))
                return
            time.sleep(0.1)
        raise ScaleperfError(f"not every app instance became healthy behind haproxy within {START_TIMEOUT_S:.0f}s: {status}")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(STOP_TIMEOUT_S)
                return
            except subprocess.TimeoutExpired:
                continue

    def _stats(self) -> dict[str, dict[str, str]]:
        """Query the stats socket with the C-level socket module (safe in a native thread under gevent)."""
        if not self.stats_socket.exists():
            return {}
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            s.settimeout(STATS_TIMEOUT_S)
            s.connect(str(self.stats_socket))
            s.sendall(b"show stat\n")
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError:
            return {}
        finally:
            s.close()
        return parse_stats(b"".join(chunks).decode(errors="replace"))

    def request_counts(self) -> dict[str, int]:
        """Cumulative requests each instance served (and ``lb``: all of them); empty when unknown."""
        if self.kind != "haproxy":
            return {}
        counts = {}
        for name, row in self._stats().items():
            raw = row.get("req_tot") or row.get("stot") or "0"
            with contextlib.suppress(ValueError):
                counts[name] = int(raw)
        if counts:
            counts["lb"] = sum(counts.values())
        return counts

    def describe(self) -> dict:
        what = {
            "haproxy": f"HAProxy, HTTP round robin per request, {self.health_path} checked every second",
            "reuseport": "kernel SO_REUSEPORT: connections (not requests) spread over instances; per-instance shares unknown",
            "direct": "no load balancer (one instance)",
        }[self.kind]
        return {"kind": self.kind, "port": self.port, "how": what, "pid": self.pid}
