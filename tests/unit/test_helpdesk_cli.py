"""``python -m helpdesk`` seed / wipe / serve options, against a real PostgreSQL and real server processes."""

from __future__ import annotations

import time

import psycopg
import pytest
import requests
from helpdesk_server import database, helpdesk, server, write_digests

from helpdesk.launch import free_port


@pytest.fixture(scope="module")
def db_url():
    with database("hd-cli") as url:
        yield url


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_seed_honours_limit_skips_partial_lines_and_is_idempotent(db_url, tmp_path):
    users = write_digests(tmp_path / "users.tsv", 5)
    with users.open("a") as f:
        f.write("user_5\t$2b$04$truncated")  # a line the hashing script has not finished writing
    r = helpdesk("seed", "--database-url", db_url, "--users", str(users), "--limit", "3")
    assert r.returncode == 0, r.stderr
    assert _count(db_url, "users") == 3 and _count(db_url, "expert_profiles") == 3
    r = helpdesk("seed", "--database-url", db_url, "--users", str(users))
    assert r.returncode == 0 and "seeded 2 new users" in r.stdout
    assert _count(db_url, "users") == 5 and _count(db_url, "expert_profiles") == 5


def test_seeded_users_log_in_with_their_name_as_password(db_url, tmp_path):
    helpdesk("seed", "--database-url", db_url, "--users", str(write_digests(tmp_path / "u.tsv", 2)))
    with server(db_url, cost_model="native") as base:
        r = requests.post(base + "/auth/login", json={"username": "user_1", "password": "user_1"})
        assert r.status_code == 200 and r.json()["user"]["username"] == "user_1"
        assert requests.post(base + "/auth/login", json={"username": "user_1", "password": "user_0"}).status_code == 401
        about = requests.get(base + "/about").json()
        assert about["costModel"] == "native"


def test_wipe_empties_every_table_and_keeps_the_schema(db_url, tmp_path):
    helpdesk("seed", "--database-url", db_url, "--users", str(write_digests(tmp_path / "u.tsv", 2)))
    r = helpdesk("wipe", "--database-url", db_url)
    assert r.returncode == 0, r.stderr
    for table in ("users", "expert_profiles", "conversations", "messages", "expert_assignments", "sessions"):
        assert _count(db_url, table) == 0


def test_a_missing_user_file_or_bad_database_url_is_a_clear_error(db_url, tmp_path):
    r = helpdesk("seed", "--database-url", db_url, "--users", str(tmp_path / "absent.tsv"))
    assert r.returncode == 2 and "cannot read the user file" in r.stderr and "Traceback" not in r.stderr
    r = helpdesk("wipe", "--database-url", "postgresql://nobody@127.0.0.1:1/none")
    assert r.returncode == 2 and "cannot connect to PostgreSQL" in r.stderr and "Traceback" not in r.stderr


def test_reuse_port_lets_two_instances_share_a_port_and_a_busy_port_fails_clearly(db_url):
    port = free_port()
    with server(db_url, reuse_port=True, cost_model="native", port=port) as base, server(db_url, reuse_port=True, port=port):
        pids: set[int] = set()
        for _ in range(400):  # the second instance's health check may have been answered by the first
            pids.add(requests.get(base + "/about").json()["pid"])
            if len(pids) == 2:
                break
            time.sleep(0.025)
        assert len(pids) == 2
        r = helpdesk("serve", "--database-url", db_url, "--port", str(port), timeout=30)
        assert r.returncode == 2 and "in use" in r.stderr


def test_two_workers_share_the_port_and_report_themselves(db_url):
    with server(db_url, workers=2, cost_model="native") as base:
        abouts = []
        for _ in range(400):  # connections are spread over the workers; both must start answering
            abouts.append(requests.get(base + "/about").json())
            if len({a["pid"] for a in abouts}) == 2:
                break
            time.sleep(0.025)
        assert len({a["pid"] for a in abouts}) == 2
        assert all(a["workers"] == 2 and a["server"] == "granian" for a in abouts)


def test_embedded_serve_starts_its_own_database_seeds_and_stops_cleanly(tmp_path):
    import signal
    import subprocess
    import sys

    from helpdesk.launch import child_env, wait_healthy

    users = write_digests(tmp_path / "users.tsv", 3)
    port = free_port()
    code = (
        "from pathlib import Path; from helpdesk import embedded; "
        f"embedded.serve(port={port}, cost_model='native', users=2, users_file=Path({str(users)!r}), bcrypt_cost=4)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        assert f"http://127.0.0.1:{port}" in proc.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        assert requests.post(base + "/auth/login", json={"username": "user_1", "password": "user_1"}).status_code == 200
        assert requests.post(base + "/auth/login", json={"username": "user_2", "password": "user_2"}).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_scaleperf_serve_on_a_busy_port_is_one_line_and_exit_2_before_anything_starts():
    import socket
    import subprocess
    import sys

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "scaleperf.cli", "serve", "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""  # no URL announced, no database started
    assert proc.stderr.count("\n") == 1 and f"{port} is in use" in proc.stderr
