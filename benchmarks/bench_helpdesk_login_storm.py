"""Do polls stay responsive while users log in?  Poll p95 alone vs with 1 login/s, side by side in one run.

One help desk server (rails cost model by default, bcrypt cost 12 as in production) pinned to core 0,
Locust pinned to core 1, PostgreSQL unpinned, on the poll benchmark's data set plus 200 pool users from
fixtures/users.tsv.  Polls (steady: ``since`` = now) run at about half of the server's poll capacity;
phases alternate (polls alone, polls + one login per second, alone, + logins, ...) so drift on the shared
machine hits both alike; each login is ~0.3 s of bcrypt CPU on nice'd threads off the event loop.
Target: the median poll p95 with logins within 2x of the median poll p95 alone.

    .venv/bin/python benchmarks/bench_helpdesk_login_storm.py [--seconds 10] [--rounds 2] [--cost-model rails] [--poll-rate R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench_helpdesk_poll import DATA, SERVER_CPU, generate, print_table, write_accounts

from helpdesk import db, sample
from helpdesk.launch import free_port, running
from helpdesk.settings import Settings
from scaleperf.pg import EmbeddedPostgres

USERS_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "users.tsv"  # cost-12 digests
LOGIN_POOL = 200  # pool users who log in
POLLERS = 20  # Locust users sharing the poll rate
HALF_CAPACITY = {"rails": 115.0, "native": 1200.0}  # polls/s: half the measured one-core capacity (233 and ~2,500)
TARGET_RATIO = 2.0  # poll p95 with logins / alone


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    ap.add_argument("--rounds", type=int, default=2, help="pairs of phases (alone, with logins)")
    ap.add_argument("--cost-model", choices=("rails", "native"), default="rails")
    ap.add_argument("--poll-rate", type=float, default=None, help="polls/s (default: half of capacity for the model)")
    a = ap.parse_args()
    rate = a.poll_rate or HALF_CAPACITY[a.cost_model]
    with EmbeddedPostgres(name="bench-storm") as pg, tempfile.TemporaryDirectory() as tmp:
        sample.populate(pg.url, **DATA)
        db.seed(pg.url, db.read_digests(USERS_FILE, LOGIN_POOL))
        accounts = write_accounts(pg.url, Path(tmp))
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        cfg = {
            "accounts": str(accounts),
            "users": POLLERS,
            "seconds": a.seconds,
            "since": now,
            "poll_rate_per_user": rate / POLLERS,
            "login_pool": LOGIN_POOL,
        }
        settings = Settings(database_url=pg.url, port=free_port(), cost_model=a.cost_model, bcrypt_cost=12)
        with running(settings, cpus=SERVER_CPU) as srv:
            alone, storm = [], []
            for i in range(a.rounds):
                alone.append(generate(f"{i + 1}: polls alone", srv.base_url, srv.pid, cfg))
                storm.append(generate(f"{i + 1}: polls + 1 login/s", srv.base_url, srv.pid, {**cfg, "login_rate": 1.0}))
    print(f"cost model {a.cost_model}, bcrypt 12, server on core {SERVER_CPU}; target {rate:.0f} polls/s ({POLLERS} users)")
    print_table([row for pair in zip(alone, storm, strict=True) for row in pair])
    p95_alone = statistics.median(f.p95_ms for f in alone)
    p95_storm = statistics.median(f.p95_ms for f in storm)
    ratio = p95_storm / p95_alone
    print(f"logins done in the login phases: {[f.logins for f in storm]}")
    print(f"median poll p95: alone {p95_alone:.1f} ms, with logins {p95_storm:.1f} ms")
    print(f"poll p95 with logins / alone: {ratio:.2f}x ({'within' if ratio <= TARGET_RATIO else 'OVER'} {TARGET_RATIO:.0f}x)")


if __name__ == "__main__":
    main()
