"""TCP ports for the servers a deployment starts, reserved so that no two callers on this machine get the same one.

Asking the kernel for a free port (bind to port 0, close) and starting a server on it later leaves a window in
which the port is free: another process doing the same, an xdist worker provisioning its own configuration for
one, may be handed the same port, and one of the two servers then fails with "address already in use".
:func:`reserve` closes the window: every port it hands out is written, under a lock, to a registry in scaleperf's
per-user folder, and no caller (thread, process, xdist worker) is handed it again for ``RESERVED_S``, by which
time the server listens on it and the kernel itself keeps it from others.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from scaleperf import paths
from scaleperf.errors import ScaleperfError

RESERVED_S = 600.0  # a port handed out is not handed out again for this long (a server binds it well within this)
ATTEMPTS = 1000  # kernel-chosen ports tried before giving up
REGISTRY = "ports.json"  # in scaleperf's per-user folder: port -> when it was handed out


def reserve(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at ``host`` and that no other caller of this machine was handed lately."""
    with _registry() as claims:
        now = time.time()
        for port in [p for p, at in claims.items() if now - at > RESERVED_S]:
            del claims[port]
        for _ in range(ATTEMPTS):
            port = _unbound_port(host)
            if port not in claims:
                claims[port] = now
                return port
    raise ScaleperfError(
        f"no free TCP port found on {host} after {ATTEMPTS} tries; too many servers are running, or remove "
        f"{paths.home() / REGISTRY} if no scaleperf run is"
    )


def _unbound_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host if host != "0.0.0.0" else "127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _registry() -> Iterator[dict[int, float]]:
    """The claims, read and written back under an exclusive lock (held across processes and threads)."""
    path: Path = paths.home() / REGISTRY
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            try:
                claims = {int(k): float(v) for k, v in json.loads(f.read() or "{}").items()}
            except (ValueError, AttributeError):
                claims = {}  # a torn or foreign file: start afresh, the kernel still checks each port
            yield claims
            f.seek(0)
            f.truncate()
            f.write(json.dumps(claims))
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
