"""Tiny HTTP servers for the locustfile's tests and benchmark, each run as its own process.

``python tests/unit/locust_targets.py MODE PORT`` serves on 127.0.0.1:PORT, prints ``ready`` once it listens,
and stops on SIGTERM. Modes:

* ``ok``: answers login, register, the three polls and conversation 1's reads with bodies that keep the help desk contract
  (fixed bodies; fast enough to measure the load generator, not the server);
* ``wrong-body``: correct login and statuses, but every poll body breaks the contract;
* ``wrong-status``: correct login, but the polls answer 500, 404 and 202;
* ``expiring``: like ``ok``, but the first login's token is refused with 401 (it "expired"), later ones work;
* ``bad-login``: login and register answer their success statuses without a token.

It is a raw asyncio protocol (uvloop when installed) with keep-alive, so one core answers far more requests
than one Locust core can send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator

USER = {"id": 7, "username": "user_7", "created_at": "2026-01-01T00:00:00Z", "last_active_at": None}
CONVERSATION = {
    "id": "1",
    "title": "Printer on fire",
    "status": "waiting",
    "questionerId": "7",
    "questionerUsername": "user_7",
    "assignedExpertId": None,
    "assignedExpertUsername": None,
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:01Z",
    "lastMessageAt": None,
    "unreadCount": 0,
}
MESSAGE = {
    "id": "1",
    "conversationId": "1",
    "senderId": "7",
    "senderUsername": "user_7",
    "senderRole": "initiator",
    "content": "It is on fire.",
    "timestamp": "2026-01-01T00:00:01Z",
    "isRead": False,
}
AUTH = {"token": "header.payload.signature", "user": USER}
QUEUE = {"waitingConversations": [], "assignedConversations": []}

Route = tuple[int, object]  # (status, JSON body)
ROUTES: dict[str, dict[tuple[str, str], Route]] = {
    "ok": {
        ("POST", "/auth/login"): (200, AUTH),
        ("POST", "/auth/register"): (201, AUTH),
        ("GET", "/api/conversations/updates"): (200, [CONVERSATION]),
        ("GET", "/api/messages/updates"): (200, [MESSAGE]),
        ("GET", "/api/expert-queue/updates"): (200, [QUEUE]),
        ("GET", "/conversations"): (200, [CONVERSATION]),
        ("GET", "/conversations/1"): (200, CONVERSATION),
        ("GET", "/conversations/1/messages"): (200, [MESSAGE]),
    },
    "wrong-body": {
        ("POST", "/auth/login"): (200, AUTH),
        ("GET", "/api/conversations/updates"): (200, {"conversations": [CONVERSATION]}),
        ("GET", "/api/messages/updates"): (200, [{"id": "1", "content": "no timestamp"}]),
        ("GET", "/api/expert-queue/updates"): (200, [{"waiting": []}]),
    },
    "wrong-status": {
        ("POST", "/auth/login"): (200, AUTH),
        ("GET", "/api/conversations/updates"): (500, {"error": "boom"}),
        ("GET", "/api/messages/updates"): (404, {"error": "Not found"}),
        ("GET", "/api/expert-queue/updates"): (202, [QUEUE]),
    },
    "expiring": {  # the first login's token is "stale" and every poll answers it 401; later logins get "good"
        ("POST", "/auth/login"): (200, AUTH),
        ("GET", "/api/conversations/updates"): (200, [CONVERSATION]),
        ("GET", "/api/messages/updates"): (200, [MESSAGE]),
        ("GET", "/api/expert-queue/updates"): (200, [QUEUE]),
    },
    "bad-login": {
        ("POST", "/auth/login"): (200, {"user": USER}),
        ("POST", "/auth/register"): (201, {"user": USER}),
    },
}
START_TIMEOUT_S = 10.0  # the server prints "ready" within a second of starting
STOP_TIMEOUT_S = 5.0  # SIGTERM, then SIGKILL
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 404: "Not Found", 500: "Internal Server Error"}


def _encode(status: int, body: object) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


class HelpdeskTarget(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies: enough for Locust's clients."""

    logins = 0  # across connections: the expiring mode's first token is the stale one

    def __init__(self, answers: dict[tuple[str, str], bytes], expiring: bool = False) -> None:
        self.answers = answers
        self.expiring = expiring
        self.refused = _encode(401, {"error": "Token expired"})
        self.missing = _encode(404, {"error": "Not found"})
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                key, _, value = line.partition(":")
                if key.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = head.split(" ", 2)
            path = target.split("?", 1)[0]
            assert self.transport is not None
            self.transport.write(self._answer(method, path, head))

    def _answer(self, method: str, path: str, head: str) -> bytes:
        answer = self.answers.get((method, path), self.missing)
        if not self.expiring:
            return answer
        if path == "/auth/login":
            HelpdeskTarget.logins += 1
            token = "stale" if HelpdeskTarget.logins == 1 else "good"
            return _encode(200, {**AUTH, "token": token})
        return answer if "authorization: bearer good" in head.lower() else self.refused


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(mode: str, *, cpu: int | None = None) -> Iterator[str]:
    """Start a target in ``mode`` (pinned to core ``cpu`` if given) and yield its base URL; stop it after."""
    if mode not in ROUTES:
        raise ValueError(f"unknown mode {mode!r}; use one of {sorted(ROUTES)}")
    port = free_port()
    cmd = [sys.executable, os.path.abspath(__file__), mode, str(port)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        line = proc.stdout.readline() if readable else ""
        if line.strip() != "ready":
            raise RuntimeError(f"target {mode} did not start (exit code {proc.poll()})")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str]) -> None:
    mode, port = argv[1], int(argv[2])
    answers = {key: _encode(*route) for key, route in ROUTES[mode].items()}
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        factory: Callable[[], HelpdeskTarget] = lambda: HelpdeskTarget(answers, mode == "expiring")  # noqa: E731
        server = await loop.create_server(factory, "127.0.0.1", port, backlog=1024)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        print("ready", flush=True)
        async with server:
            await stop.wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main(sys.argv)
