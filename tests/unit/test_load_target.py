"""A tiny HTTP target for the load engine's tests and benchmarks, run as its own process; and its tests.

``python tests/unit/test_load_target.py PORT [--median-ms M --sigma S]`` serves on 127.0.0.1:PORT, prints
``ready`` once it listens and stops on SIGTERM. Routes (keep-alive HTTP/1.1, raw asyncio, uvloop when present):

* ``GET /health``: 200 ``{"status":"ok"}``; ``GET /ping``: 200 ``pong`` (trivial, for the overhead benchmark);
* ``GET /sleep``: sleeps a delay drawn from a lognormal with median M ms and shape S, then 200 (in a thread,
  with ``time.sleep``, whose precision is far below a millisecond);
* ``GET /fixed?ms=N``: sleeps N ms; ``GET /flaky``: every 4th request answers 500;
* ``GET /count``: JSON ``{"served": n}``, the requests served on the other routes except /health.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

SLEEP_THREADS = 512  # concurrent /sleep requests served without queueing
FLAKY_EVERY = 4  # /flaky answers 500 to every FLAKY_EVERY-th request
READY_TIMEOUT_S = 15.0  # a started target must print "ready" within this


def lognormal_quantile(q: float, median_ms: float, sigma: float) -> float:
    """The q-quantile (0..1) of the lognormal the /sleep route draws from."""
    from scipy.stats import norm

    return median_ms * math.exp(sigma * float(norm.ppf(q)))


_TASKS: set[asyncio.Future] = set()  # answers in progress (held so they are not garbage-collected)
QUEUE_WORKERS = 2  # /queue serves this many requests at a time; the rest wait in line
_QUEUE: list[asyncio.Semaphore] = []


def _queue() -> asyncio.Semaphore:
    if not _QUEUE:
        _QUEUE.append(asyncio.Semaphore(QUEUE_WORKERS))
    return _QUEUE[0]


class _Server(asyncio.Protocol):
    served = 0
    flaky = 0

    def __init__(self, rng: np.random.Generator, median_ms: float, sigma: float, pool: ThreadPoolExecutor) -> None:
        self.rng, self.median_ms, self.sigma, self.pool = rng, median_ms, sigma, pool
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(rest) < length:
                return
            self.buf = rest[length:]
            target = head.split(b" ", 2)[1].decode()
            task = asyncio.ensure_future(self.answer(target))
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)

    async def answer(self, target: str) -> None:
        path, _, query = target.partition("?")
        status, body = 200, b"pong"
        if path != "/health" and path != "/count":
            _Server.served += 1
        if path == "/health":
            body = b'{"status":"ok"}'
        elif path == "/count":
            body = json.dumps({"served": _Server.served}).encode()
        elif path == "/sleep":
            delay = self.median_ms * math.exp(self.sigma * self.rng.standard_normal()) / 1000.0
            await asyncio.get_running_loop().run_in_executor(self.pool, time.sleep, delay)
        elif path == "/fixed":
            ms = float(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("ms", "0"))
            await asyncio.get_running_loop().run_in_executor(self.pool, time.sleep, ms / 1000.0)
        elif path == "/queue":  # a known capacity: QUEUE_WORKERS at a time, each held ms milliseconds (FIFO)
            ms = float(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("ms", "0"))
            async with _queue():
                await asyncio.sleep(ms / 1000.0)
        elif path == "/flaky":
            _Server.flaky += 1
            if _Server.flaky % FLAKY_EVERY == 0:
                status, body = 500, b"boom"
        elif path != "/ping":
            status, body = 404, b"not found"
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}[status]
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)


def serve(port: int, median_ms: float, sigma: float, seed: int) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loop = asyncio.new_event_loop()
    pool = ThreadPoolExecutor(max_workers=SLEEP_THREADS)
    rng = np.random.default_rng(seed)
    server = loop.run_until_complete(loop.create_server(lambda: _Server(rng, median_ms, sigma, pool), "127.0.0.1", port))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    pool.shutdown(wait=False, cancel_futures=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def target(median_ms: float = 20.0, sigma: float = 0.5, seed: int = 1) -> Iterator[str]:
    """Start the target as a subprocess; yields its base URL; stops it afterwards."""
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), str(port), "--median-ms", str(median_ms), "--sigma", str(sigma)]
    proc = subprocess.Popen([*cmd, "--seed", str(seed)], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
        if not ready or proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the load target did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def served(base_url: str) -> int:
    """Requests the target has served (except /health and /count)."""
    import urllib.request

    with urllib.request.urlopen(base_url + "/count", timeout=5) as resp:
        return int(json.loads(resp.read())["served"])


# ------------------------------------------------------------------------------------- its own tests
def test_target_counts_and_sleeps():
    import urllib.error
    import urllib.request

    with target(median_ms=5.0, sigma=0.0) as url:
        started = time.perf_counter()
        for path in ("/ping", "/sleep", "/fixed?ms=30"):
            with urllib.request.urlopen(url + path, timeout=5) as resp:
                assert resp.status == 200
        assert time.perf_counter() - started >= 0.035  # 5 ms + 30 ms of sleeps happened
        with contextlib.suppress(urllib.error.HTTPError):
            for _ in range(FLAKY_EVERY):
                urllib.request.urlopen(url + "/flaky", timeout=5).close()
            raise AssertionError("/flaky never failed")
        assert served(url) == 3 + FLAKY_EVERY


def test_lognormal_quantile_matches_the_median():
    assert lognormal_quantile(0.5, 20.0, 0.7) == 20.0
    assert abs(lognormal_quantile(0.95, 20.0, 0.5) - 20.0 * math.exp(0.5 * 1.6448536269514722)) < 1e-9


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--median-ms", type=float, default=20.0)
    ap.add_argument("--sigma", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    serve(a.port, a.median_ms, a.sigma, a.seed)
