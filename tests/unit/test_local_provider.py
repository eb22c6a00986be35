"""The local miniature: sizing rules, and real provision/teardown of `single` and `horizontal1`
(real PostgreSQL, real server processes, real cgroups, HAProxy when installed)."""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.request
from pathlib import Path

import bcrypt
import numpy as np
import psutil
import psycopg
import pytest

from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.pg import port_in_use
from scaleperf.providers import golden
from scaleperf.providers.app import render_command
from scaleperf.providers.balancer import haproxy_binary, parse_stats
from scaleperf.providers.base import Deployment, Provider
from scaleperf.providers.limits import leftover_groups
from scaleperf.providers.local import (
    LocalProvider,
    db_settings,
    derive_scale,
    plan_instances,
)
from scaleperf.providers.url import UrlProvider

TEST_USERS = 5  # a tiny user pool, hashed at bcrypt cost 4, keeps the golden copy quick to build


TEST_SALT = b"$2b$04$BD143gph8KI0hiAa1ApzlO"  # a fixed salt: the same file, so one cached golden copy


def write_users(path: Path, count: int = TEST_USERS) -> Path:
    lines = [f"user_{i}\t{bcrypt.hashpw(f'user_{i}'.encode(), TEST_SALT).decode()}\n" for i in range(count)]
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def users(tmp_path_factory) -> Path:
    return write_users(tmp_path_factory.mktemp("users") / "users.tsv")


@pytest.fixture(scope="module")
def provider(users) -> LocalProvider:
    return LocalProvider(users=users, extra_args=("--bcrypt-cost", "4"))


def test_scale_comes_from_the_largest_configuration_and_the_cores() -> None:
    configs = load_configs()
    assert max(c.total_vcpus for c in configs.values()) == 8  # horizontal2: 4 x 1 + 4
    assert derive_scale(configs, cores=2, reserve=0.6) == 0.175
    assert derive_scale({"single": configs["single"]}, cores=2, reserve=0.6) == 0.4667
    with pytest.raises(ScaleperfError, match="cores"):
        derive_scale(configs, cores=1, reserve=1.0)


def test_scale_is_the_same_whatever_configuration_is_provisioned(provider) -> None:
    configs = load_configs()
    factors = {provider.load_scale(c).factor for c in configs.values()}
    assert factors == {provider.scale}


def test_database_settings_follow_the_class_memory_as_rds_does() -> None:
    s = db_settings(8 * 2**30)  # db.m5.large
    assert s["shared_buffers"] == "2048MB" and s["effective_cache_size"] == "6144MB"
    assert int(s["max_connections"]) == min(8 * 2**30 // 9_531_392, 500)
    assert int(db_settings(1 * 2**30)["max_connections"]) == 2**30 // 9_531_392


def test_instances_get_vcpus_times_scale_and_the_type_memory() -> None:
    configs = load_configs()
    plans = plan_instances(configs["horizontal1"], 0.2)
    assert [p.name for p in plans] == ["app-1", "app-2", "app-3", "app-4"]
    assert all(p.cpus == pytest.approx(0.2) and p.memory_bytes == 4 * 2**30 for p in plans)
    (vertical,) = plan_instances(configs["vertical"], 0.2)
    assert vertical.cpus == pytest.approx(0.4) and vertical.workers == 2


def test_command_template_placeholders() -> None:
    cmd = render_command("rails server -p {port} -e production DATABASE_URL={database_url}", port=5, database_url="pg://x")
    assert cmd == ["rails", "server", "-p", "5", "-e", "production", "DATABASE_URL=pg://x"]
    with pytest.raises(ScaleperfError, match="placeholders"):
        render_command("serve --port {prot}", port=5)


def test_haproxy_stats_csv_is_read_per_server() -> None:
    csv = "# pxname,svname,status,stot,req_tot\nweb,FRONTEND,OPEN,9,9\napp,app-1,UP,3,5\napp,app-2,DOWN,1,\napp,BACKEND,UP,4,5\n"
    rows = parse_stats(csv)
    assert set(rows) == {"app-1", "app-2"} and rows["app-1"]["req_tot"] == "5"


def test_url_provider_wraps_an_existing_deployment() -> None:
    config = load_configs()["single"]
    provider = UrlProvider("http://127.0.0.1:9/")
    assert isinstance(provider, Provider)
    with provider.provision(config) as dep:
        assert isinstance(dep, Deployment) and dep.base_url == "http://127.0.0.1:9"
        assert dep.describe()["provider"] == "url" and provider.load_scale(config).factor == 1.0
    with pytest.raises(ScaleperfError, match="target-url"):
        UrlProvider("127.0.0.1:9")


def leftovers(facts: dict, workdir: Path) -> list[str]:
    """Whatever a deployment left behind: processes, ports, cgroups, folders."""
    left = []
    for inst in facts["instances"]:
        if psutil.pid_exists(inst["pid"]) and psutil.Process(inst["pid"]).status() != psutil.STATUS_ZOMBIE:
            left.append(f"process {inst['pid']}")
        if port_in_use(inst["port"]):
            left.append(f"port {inst['port']}")
    for port in (facts["db"]["port"], facts["balancer"]["port"]):
        if port_in_use(port):
            left.append(f"port {port}")
    left += [str(g) for g in leftover_groups() if f"-{os.getpid()}-" in g.name]
    if workdir.exists():
        left.append(str(workdir))
    return left


@pytest.mark.slow
def test_single_provisions_limits_serves_resets_and_tears_down(provider) -> None:
    config = load_configs()["single"]
    with provider.provision(config) as dep:
        assert isinstance(dep, Deployment)
        facts = dep.describe()
        workdir = dep.workdir
        assert facts["provider"] == "local" and facts["scale"] == provider.scale
        assert facts["balancer"]["kind"] == "direct" and len(facts["instances"]) == 1
        assert facts["db"]["settings"]["shared_buffers"] == "2048MB"
        about = json.load(urllib.request.urlopen(dep.base_url + "/about", timeout=5))
        assert about["costModel"] == "rails" and about["poolSize"] == 5
        if facts["limits"]["mechanism"] == "cgroup1":
            quota = Path(f"/sys/fs/cgroup/cpu/{dep.app_groups[0].name}/cpu.cfs_quota_us").read_text()
            assert int(quota) == round(provider.scale * provider.cfs_period_us)
            db_quota = Path(f"/sys/fs/cgroup/cpu/{dep.db_group.name}/cpu.cfs_quota_us").read_text()
            assert int(db_quota) == round(2 * provider.scale * provider.cfs_period_us)
            assert dep.db.pid in dep.db_group.members()
        with psycopg.connect(dep.db.url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == TEST_USERS
            conn.execute("INSERT INTO users (username, password_digest) VALUES ('extra', 'x')")
        dep.reset_data()
        with psycopg.connect(dep.db.url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == TEST_USERS
    assert leftovers(facts, workdir) == []


@pytest.mark.slow
def test_horizontal1_balances_each_request_and_records_shares(provider) -> None:
    if not haproxy_binary():
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    config = load_configs()["horizontal1"]
    with provider.provision(config) as dep:
        workdir = dep.workdir
        dep.start_telemetry()
        host, port = dep.base_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)  # ONE keep-alive connection
        pids = set()
        for _ in range(16):
            conn.request("GET", "/about")
            pids.add(json.loads(conn.getresponse().read())["pid"])
        conn.close()
        facts = dep.describe()
        time.sleep(1.2)
        series = {t.component: t for t in dep.telemetry(dep.started_at, time.time())}
    assert len(pids) == 4, "HAProxy sent one connection's requests to every instance"
    assert set(series) == {"app-1", "app-2", "app-3", "app-4", "db", "lb"}
    served = {name: float(np.nansum(series[name].requests)) for name in ("app-1", "app-2", "app-3", "app-4")}
    # Each instance's share is counted (per-second rates summed: a request at a sample's edge may fall outside).
    assert sum(served.values()) >= 14 and all(n >= 2 for n in served.values()), served
    assert series["db"].tier == "db" and len(series["app-1"].t) >= 1
    assert leftovers(facts, workdir) == []


def test_golden_copy_is_built_once_and_keyed_by_the_digest_file(users, tmp_path) -> None:
    first = golden.golden_data(users)
    assert golden.golden_data(users) == first and (first / "PG_VERSION").exists()
    other = write_users(tmp_path / "three.tsv", count=3)
    assert golden.cache_key(other) != golden.cache_key(users)
    with pytest.raises(ScaleperfError, match="digest file"):
        golden.cache_key(tmp_path / "missing.tsv")


@pytest.mark.slow
def test_reuseport_fallback_serves_every_instance_on_one_port(users) -> None:
    provider = LocalProvider(users=users, extra_args=("--bcrypt-cost", "4"), balancer="reuseport")
    with provider.provision(load_configs()["horizontal1"]) as dep:
        facts = dep.describe()
        workdir = dep.workdir
        pids = set()
        for _ in range(24):  # a new connection each time: the kernel spreads connections
            pids.add(json.load(urllib.request.urlopen(dep.base_url + "/about", timeout=5))["pid"])
    assert facts["balancer"]["kind"] == "reuseport"
    assert len({inst["port"] for inst in facts["instances"]}) == 1
    assert len(pids) >= 2, "SO_REUSEPORT spread 24 connections over one instance only"
    assert leftovers(facts, workdir) == []


@pytest.mark.slow
def test_without_limits_the_deployment_still_runs_and_says_so_loudly(users) -> None:
    provider = LocalProvider(users=users, extra_args=("--bcrypt-cost", "4"), mechanisms=())
    with provider.provision(load_configs()["single"]) as dep:
        dep.start_telemetry()
        urllib.request.urlopen(dep.base_url + "/health", timeout=5).read()
        time.sleep(1.2)
        facts = dep.describe()
        series = {t.component: t for t in dep.telemetry(dep.started_at, time.time())}
        workdir = dep.workdir
    assert facts["limits"]["mechanism"] == "none" and "NO CPU/MEMORY LIMITS" in facts["limits"]["warning"]
    assert set(series) == {"app-1", "db"} and all(m > 1 for m in series["db"].memory_mb)
    assert leftovers(facts, workdir) == []
