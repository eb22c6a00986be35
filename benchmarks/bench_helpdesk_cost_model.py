"""Does the rails cost model make each request cost what it costs in Rails?  CPU per request, measured.

One help desk server pinned to core 0, its PostgreSQL unpinned, requests sent one at a time from this
process; the server process's CPU (psutil, worker included) divided by the request count, for the rails
and native models side by side.  The Rails side is the real apps' figures (helpdesk-api.md §9) taken
relative to a bcrypt-12 hash, and that hash is timed here, in this run: machines differ in speed, and the
ratio model/Rails is what must hold.  Pass: within 15% on every route.

    .venv/bin/python benchmarks/bench_helpdesk_cost_model.py [--requests 200] [--logins 6]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import requests
from _helpdesk_bench import server_cpu_s

from helpdesk import cost, db, tokens
from helpdesk.launch import free_port, running
from helpdesk.settings import DEV_SECRET, Settings
from scaleperf.pg import EmbeddedPostgres

USERS_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "users.tsv"  # cost-12 digests, as in production
TOLERANCE = 0.15  # the acceptance band
SERVER_CPU = "0"  # the core the server is pinned to
WARMUP = 20  # requests before measuring (prepared statements, caches)
# Rails figures, ms of app CPU per request on a machine where bcrypt-12 costs REFERENCE_BCRYPT12_MS (helpdesk-api.md §9).
RAILS_MS = {"poll, empty": 1.6, "poll, 3 conversations": 4.1, "login (bcrypt 12)": 190.0}
RAILS_LOGIN_PER_POLL = (115, 120)  # login / empty poll in the real apps: the machine-independent figure
BCRYPT_TIMINGS = 3  # bcrypt-12 hashes timed here (the fastest counts)


def cpu_per_request_ms(pid: int, send: Callable[[int], requests.Response], count: int) -> float:
    for i in range(min(WARMUP, count)):
        send(i)
    before = server_cpu_s(pid)
    for i in range(count):
        r = send(i)
        assert r.status_code < 300, r.text
    time.sleep(0.05)
    return (server_cpu_s(pid) - before) * 1000 / count


def db_cpu_s(pg: EmbeddedPostgres) -> float:
    return server_cpu_s(pg.pid) if pg.pid else 0.0


def measure(url: str, cost_model: str, n: int, logins: int, pg: EmbeddedPostgres) -> dict[str, float]:
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
        db_before = db_cpu_s(pg)
        out = {
            "poll, empty": cpu_per_request_ms(
                srv.pid, lambda i: http.get(poll, params={"userId": empty}, headers=auth[empty]), n
            ),
            "poll, 3 conversations": cpu_per_request_ms(
                srv.pid, lambda i: http.get(poll, params={"userId": busy}, headers=auth[busy]), n
            ),
            "db per poll": (db_cpu_s(pg) - db_before) * 1000 / (2 * (n + min(WARMUP, n))),
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
        out["server bcrypt12"] = http.get(base + "/about").json().get("bcrypt12Ms") or 0.0
        with db.connect(url) as conn:
            conn.execute("DELETE FROM conversations WHERE initiator_id = %s", (busy,))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200, help="requests per measured route")
    ap.add_argument("--logins", type=int, default=6)
    a = ap.parse_args()
    bcrypt12 = cost.time_bcrypt12_ms(BCRYPT_TIMINGS)
    factor = bcrypt12 / cost.REFERENCE_BCRYPT12_MS
    with EmbeddedPostgres(name="bench-cost") as pg:
        db.seed(pg.url, db.read_digests(USERS_FILE, 20))
        rails = measure(pg.url, "rails", a.requests, a.logins, pg)
        native = measure(pg.url, "native", a.requests, a.logins, pg)
    print(f"bcrypt-12 here: {bcrypt12:.1f} ms of CPU (reference machine {cost.REFERENCE_BCRYPT12_MS:.0f} ms: x{factor:.2f});")
    print(f"the server timed its own at start: {rails['server bcrypt12']:.1f} ms")
    print(f"server pinned to core {SERVER_CPU}; CPU per request (ms), server process incl. worker")
    print(f"{'request':<24}{'Rails here':>11}{'rails model':>13}{'model/Rails':>13}{'native':>9}  within {TOLERANCE:.0%}")
    ok = True
    for name, figure in RAILS_MS.items():
        target = figure * factor
        ratio = rails[name] / target
        inside = abs(ratio - 1) <= TOLERANCE
        ok &= inside
        print(f"{name:<24}{target:>11.2f}{rails[name]:>13.2f}{ratio:>13.2f}{native[name]:>9.2f}  {'yes' if inside else 'NO'}")
    per_poll = rails["login (bcrypt 12)"] / rails["poll, empty"]
    low, high = RAILS_LOGIN_PER_POLL
    print(f"login / empty poll: model {per_poll:.0f}, Rails {low}-{high}")
    print(
        f"database CPU per poll (PostgreSQL here, MariaDB in Rails): {rails['db per poll']:.2f} ms "
        f"(Rails: 0.2-0.7 ms on the reference machine, {0.2 * factor:.2f}-{0.7 * factor:.2f} ms here)"
    )
    print(
        f"post message (no Rails figure of its own yet): model {rails['post message']:.2f} ms, "
        f"native {native['post message']:.2f} ms"
    )
    print("all within tolerance" if ok else "SOME OUTSIDE TOLERANCE")


if __name__ == "__main__":
    main()
