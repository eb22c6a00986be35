"""A real Rails app (tests/apps/rails_helpdesk: Rails, puma, mysql2 from Debian's packages) in the miniature,
run as Elastic Beanstalk runs it; and the PostgreSQL flavour of a Rails app's golden copy and reset."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest

from scaleperf import mysql
from scaleperf.configs import load_configs
from scaleperf.pg import EmbeddedPostgres, port_in_use
from scaleperf.providers import dbtier
from scaleperf.providers.local import LocalProvider

FIXTURE = Path(__file__).resolve().parents[1] / "apps" / "rails_helpdesk"


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.skipif(
    shutil.which("bundle") is None, reason="Ruby/bundler not installed (apt-get install ruby-rails puma ruby-mysql2)"
)
@pytest.mark.skipif(mysql.available() is not None, reason=f"MariaDB/MySQL binaries absent: {mysql.available()}")
def test_a_rails_app_runs_as_elastic_beanstalk_runs_it_and_leaves_nothing() -> None:
    provider = LocalProvider(app=FIXTURE)
    with provider.provision(load_configs()["single"]) as dep:
        facts = dep.describe()
        status, body = call(dep.base_url, "POST", "/auth/register", {"username": "user_7", "password": "user_7"})
        assert status == 201, body
        token = body["token"]
        assert call(dep.base_url, "POST", "/conversations", {"title": "help"}, token)[0] == 201
        puma = dep.apps[0][1]
        env = environ(puma.pid)
        tree = [puma.pid] + [c.pid for c in psutil.Process(puma.pid).children(recursive=True)]
        assert set(tree) <= set(dep.app_groups[0].members())  # puma and its workers are inside the instance's limits
        dep.reset_data()
        assert call(dep.base_url, "POST", "/conversations", {"title": "again"}, token)[0] == 401  # the user is gone
        pids = tree + [p.pid for p in dep.fronts] + [dep.db.pid]
        ports = [dep.apps[0][2], dep.db.port]
        workdir = dep.workdir
    assert facts["app"]["kind"] == "rails" and facts["db"]["engine"] == "mysql"
    assert "db:prepare" in facts["db"]["prepared_by"]
    assert facts["app"]["front"].startswith("nginx" if shutil.which("nginx") else "none")
    assert env["RAILS_ENV"] == "production" and env["WEB_CONCURRENCY"] == "1" and env["RAILS_MAX_THREADS"] == "5"
    assert env["RAILS_LOG_LEVEL"] == "warn" and len(env["SECRET_KEY_BASE"]) >= 64
    assert env["DATABASE_URL"].startswith("mysql2://ebroot:") and env["RDS_DB_NAME"] == "ebdb" and env["RDS_PASSWORD"]
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not [p for p in ports if port_in_use(p)] and not workdir.exists()


def test_a_postgresql_golden_copy_resets_rows_and_sequences_in_place() -> None:
    with EmbeddedPostgres(name="unit-rails-pg") as pg:
        url = pg.create_database(dbtier.rails.DB_NAME)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE users (id bigserial PRIMARY KEY, name text)")
            conn.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, user_id bigint REFERENCES users (id))")
            conn.execute("INSERT INTO users (name) VALUES ('a'), ('b')")
            conn.execute("INSERT INTO notes (user_id) VALUES (1)")

        class Server:
            port = pg.port

        dbtier._snapshot(Server(), dbtier.rails.DbFacts("postgresql", "127.0.0.1", pg.port, dbtier.rails.DB_NAME, "postgres", ""))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO users (name) VALUES ('c')")
            conn.execute("DELETE FROM notes")
            dbtier._restore_pg(url)
            assert conn.execute("SELECT string_agg(name, ',' ORDER BY id) FROM users").fetchone()[0] == "a,b"
            assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 1
            assert conn.execute("INSERT INTO users (name) VALUES ('d') RETURNING id").fetchone()[0] == 3


@pytest.mark.skipif(
    shutil.which("bundle") is None, reason="Ruby/bundler not installed (apt-get install ruby-rails puma ruby-mysql2)"
)
@pytest.mark.skipif(mysql.available() is not None, reason=f"MariaDB/MySQL binaries absent: {mysql.available()}")
@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (apt-get install haproxy)")
def test_four_rails_instances_behind_haproxy_share_one_secret_key_base() -> None:
    provider = LocalProvider(app=FIXTURE, health_path="/up")
    with provider.provision(load_configs()["horizontal1"]) as dep:
        facts = dep.describe()
        status, body = call(dep.base_url, "POST", "/auth/register", {"username": "user_8", "password": "user_8"})
        assert status == 201, body
        # Round robin per request: eight requests reach every instance twice, each verifies the same token.
        statuses = [call(dep.base_url, "POST", "/conversations", {"title": f"q{i}"}, body["token"])[0] for i in range(8)]
        shares = dep.balancer.request_counts()
    assert statuses == [201] * 8
    assert facts["balancer"]["kind"] == "haproxy" and "/up checked" in facts["balancer"]["how"]
    assert all(shares[f"app-{i}"] >= 2 for i in range(1, 5)), shares
