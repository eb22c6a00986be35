"""Does the rails cost model make each request cost what it costs in Rails?  CPU per request, measured.

One help desk server pinned to core 0, its PostgreSQL unpinned, requests sent one at a time from this
process; the server process's CPU (psutil, worker included) divided by the request count, for the rails
and native models side by side, against the Rails figures (helpdesk-api.md §9).  Pass: within 15%.

    .venv/bin/python benchmarks/bench_helpdesk_cost_model.py [--requests 200] [--logins 6]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import requests
from _helpdesk_bench import server_cpu_s

from helpdesk import db, tokens
from helpdesk.launch import free_port, running
from helpdesk.settings import DEV_SECRET, Settings
from scaleperf.pg import EmbeddedPostgres

USERS_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "users.tsv"  # cost-12 digests, as in production
TOLERANCE = 0.15  # the acceptance band
SERVER_CPU = "0"  # the core the server is pinned to
WARMUP = 20  # requests before measuring (prepared statements, caches)
# Rails figures, ms of CPU per request (helpdesk-api.md §9).
TARGETS_MS = {"poll, empty": 4.0, "poll, 3 conversations": 7.0, "post message": 7.0, "login (bcrypt 12)": 306.0}


def cpu_per_request_ms(pid: int, send: Callable[[int], requests.Response], count: int) -> float:
    for i in range(min(WARMUP, count)):
        send(i)
    before = server_cpu_s(pid)
    for i in range(count):
        r = send(i)
        assert r.status_code < 300, r.text
    time.sleep(0.05)
    return (server_cpu_s(pid) - before) * 1000 / count


def measure(url: str, cost_model: str, n: int, logins: int) -> dict[str, float]:
    with db.connect(url) as conn:
        ids = dict(conn.execute("SELECT username, id FROM users WHERE username IN ('user_0', 'user_1')").fetchall())
    empty, busy = ids["user_0"], ids["user_1"]
    auth = {u: {"Authorization": f"Bearer {tokens.issue(u, DEV_SECRET, time.time())}"} for u in (empty, busy)}
    settings = Settings(database_url=url, port=free_port(), cost_model=cost_model, bcrypt_cost=12)
    with running(settings, cpus=SERVER_CPU) as srv, requests.Session() as http:
        base = srv.base_url
        convs = []
        for i in range(3):
            convs.append(http.post(base + "/conversations", json={"title": f"q{i}"}, headers=auth[busy]).json()["id"])
        poll = base + "/api/conversations/updates"
        out = {
            "poll, empty": cpu_per_request_ms(
                srv.pid, lambda i: http.get(poll, params={"userId": empty}, headers=auth[empty]), n
            ),
            "poll, 3 conversations": cpu_per_request_ms(
                srv.pid, lambda i: http.get(poll, params={"userId": busy}, headers=auth[busy]), n
            ),
            "post message": cpu_per_request_ms(
                srv.pid,
                lambda i: http.post(
                    base + "/messages", json={"conversationId": convs[i % 3], "content": f"m{i}"}, headers=auth[busy]
                ),
                n,
            ),
        }
        login = lambda i: http.post(base + "/auth/login", json={"username": f"user_{i % 20}", "password": f"user_{i % 20}"})  # noqa: E731
        before = server_cpu_s(srv.pid)
        for i in range(logins):
            assert login(i).status_code == 200
        out["login (bcrypt 12)"] = (server_cpu_s(srv.pid) - before) * 1000 / logins
        with db.connect(url) as conn:
            conn.execute("DELETE FROM conversations WHERE initiator_id = %s", (busy,))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200, help="requests per measured route")
    ap.add_argument("--logins", type=int, default=6)
    a = ap.parse_args()
    with EmbeddedPostgres(name="bench-cost") as pg:
        db.seed(pg.url, db.read_digests(USERS_FILE, 20))
        rails = measure(pg.url, "rails", a.requests, a.logins)
        native = measure(pg.url, "native", a.requests, a.logins)
    print(f"server pinned to core {SERVER_CPU}; CPU per request (ms), server process incl. worker")
    print(f"{'request':<24}{'Rails':>8}{'rails model':>13}{'ratio':>8}{'native':>9}  within {TOLERANCE:.0%}")
    ok = True
    for name, target in TARGETS_MS.items():
        ratio = rails[name] / target
        inside = abs(ratio - 1) <= TOLERANCE
        ok &= inside
        print(f"{name:<24}{target:>8.1f}{rails[name]:>13.2f}{ratio:>8.2f}{native[name]:>9.2f}  {'yes' if inside else 'NO'}")
    print("all within tolerance" if ok else "SOME OUTSIDE TOLERANCE")


if __name__ == "__main__":
    main()
