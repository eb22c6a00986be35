"""The locustfile against the reference help desk backend on real PostgreSQL: every persona runs, every endpoint a
persona claims to use is hit, and nothing fails.

The backend (``python -m helpdesk``, contract 1) is seeded with a small user pool hashed at bcrypt cost 4; the
load runs in a subprocess through ``locust.env.Environment(events=locust.events)``, as the suite drives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from locust_targets import free_port

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "locustfiles" / "helpdesk.py"
POOL_SIZE = 40  # seeded users user_0..user_39; more than the run signs in
BCRYPT_COST = 4  # the cheapest cost bcrypt allows: logins stay in the millisecond range
RUN_SECONDS = 18  # long enough for an expert to claim, hand back, claim again and answer
USERS = 12  # with the weights below: 2 idle, 2 new, 4 active, 4 experts
WEIGHTS = "IdleUser=1,NewUser=1,ActiveUser=2,ExpertUser=2"
POLL_INTERVAL_S = 2  # more poll cycles in a short run than the frontend's 5 s
SERVER_START_S = 30.0  # the backend applies its schema before it answers /health
CLI_TIMEOUT_S = 60.0  # bound on each helper subprocess

RUNNER = """
import importlib.util, json, sys
import gevent, locust
from locust.env import Environment
path, host, users, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
spec = importlib.util.spec_from_file_location("helpdesk_locustfile", path)
lf = importlib.util.module_from_spec(spec); sys.modules[spec.name] = lf; spec.loader.exec_module(lf)
personas = [lf.IdleUser, lf.NewUser, lf.ActiveUser, lf.ExpertUser]
env = Environment(user_classes=personas, host=host, events=locust.events)
hits, groups = {}, {}
def seen(request_type, name, context, **kw):
    hits.setdefault(context.get("persona"), set()).add((request_type, name))
    groups[f"{request_type} {name}"] = context.get("group")
env.events.request.add_listener(seen)
runner = env.create_local_runner()
runner.start(users, spawn_rate=users)
gevent.sleep(seconds)
running = dict(runner.user_classes_count)
runner.quit()
entries = [
    {"method": e.method, "name": e.name, "requests": e.num_requests, "failures": e.num_failures,
     "p50": e.get_response_time_percentile(0.5), "p95": e.get_response_time_percentile(0.95)}
    for e in sorted(env.stats.entries.values(), key=lambda e: (e.name, e.method))
]
print(json.dumps({
    "running": running, "entries": entries, "groups": groups,
    "hits": {p: sorted(map(list, h)) for p, h in hits.items()},
    "claims": {p.__name__: sorted(map(list, p.endpoints)) for p in personas},
    "errors": [f"{e.method} {e.name}: {e.error} (x{e.occurrences})" for e in env.stats.errors.values()],
}))
"""


def _helpdesk(*args: str) -> list[str]:
    return [sys.executable, "-m", "helpdesk", *args]


def _write_pool(path: Path, size: int) -> None:
    import bcrypt

    lines = [f"user_{n}\t{bcrypt.hashpw(f'user_{n}'.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()}" for n in range(size)]
    path.write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def _backend(database_url: str) -> Iterator[str]:
    port = free_port()
    cmd = _helpdesk("serve", "--database-url", database_url, "--port", str(port), "--bcrypt-cost", str(BCRYPT_COST))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the backend exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the backend did not answer /health"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _table(entries: list[dict]) -> str:
    rows = [f"{'method':6} {'endpoint':40} {'requests':>8} {'failures':>8} {'p50 ms':>7} {'p95 ms':>7}"]
    rows += [
        f"{e['method']:6} {e['name']:40} {e['requests']:>8} {e['failures']:>8} {e['p50']:>7.0f} {e['p95']:>7.0f}" for e in entries
    ]
    return "\n".join(rows)


@pytest.mark.slow
def test_every_persona_uses_every_endpoint_it_claims_without_a_failure(tmp_path):
    from scaleperf.pg import EmbeddedPostgres

    pool = tmp_path / "users.tsv"
    _write_pool(pool, POOL_SIZE)
    with EmbeddedPostgres(name="locustfile-test") as server:
        url = server.create_database("helpdesk")
        seeded = subprocess.run(
            _helpdesk("seed", "--database-url", url, "--users", str(pool)),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
        assert seeded.returncode == 0, seeded.stderr
        with _backend(url) as base_url:
            env = {
                **os.environ,
                "HELPDESK_MAX_USERS": str(POOL_SIZE),
                "HELPDESK_POLL_INTERVAL": str(POLL_INTERVAL_S),
                "HELPDESK_WEIGHTS": WEIGHTS,
                "HELPDESK_SEED": "1",
            }
            run = subprocess.run(
                [sys.executable, "-c", RUNNER, str(LOCUSTFILE), base_url, str(USERS), str(RUN_SECONDS)],
                env=env,
                capture_output=True,
                text=True,
                timeout=RUN_SECONDS + CLI_TIMEOUT_S,
            )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    print("\n" + _table(out["entries"]))
    assert out["running"] == {"IdleUser": 2, "NewUser": 2, "ActiveUser": 4, "ExpertUser": 4}
    assert out["errors"] == [], _table(out["entries"])
    assert all(e["failures"] == 0 for e in out["entries"])
    for persona, claimed in out["claims"].items():
        missing = {tuple(c) for c in claimed} - {tuple(h) for h in out["hits"].get(persona, [])}
        assert not missing, f"{persona} never hit {sorted(missing)}"
    assert set(out["groups"].values()) == {"polls", "auth", "writes", "reads"}
