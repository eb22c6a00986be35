"""The MySQL-compatible database tier (MariaDB's binaries on this machine): sizing like RDS MySQL, the class's
CPU and memory limits, the golden copy, reset, and teardown with nothing left after success, failure and
SIGTERM.  Real servers, real cgroups."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from scaleperf import mysql
from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.pg import port_in_use
from scaleperf.providers import dbtier
from scaleperf.providers.limits import leftover_groups
from scaleperf.providers.local import LocalProvider

pytestmark = pytest.mark.skipif(mysql.available() is not None, reason=f"MariaDB/MySQL binaries absent: {mysql.available()}")

HEALTH_SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[2].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture(scope="module")
def app_command(tmp_path_factory) -> str:
    script = tmp_path_factory.mktemp("app") / "health_server.py"
    script.write_text(HEALTH_SERVER)
    return f"{{python}} {script} {{port}} {{database_url}}"


def test_settings_follow_rds_mysql_defaults() -> None:
    assert mysql.db_settings(8 * 2**30) == {"innodb_buffer_pool_size": "6144M", "max_connections": "500"}  # 682 capped
    assert mysql.db_settings(2**30) == {"innodb_buffer_pool_size": "768M", "max_connections": "85"}


def test_one_server_snapshot_restore_and_stop() -> None:
    with mysql.EmbeddedMySQL(name="unit") as server:
        server.create_database("app")
        server.sql(
            "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b')", database="app"
        )
        server.snapshot("app", "golden")
        server.sql("INSERT INTO t (v) VALUES ('c'); DELETE FROM t WHERE v = 'a'", database="app")
        server.restore("app", "golden")
        assert server.sql("SELECT GROUP_CONCAT(v ORDER BY id) FROM t", database="app").strip() == "a,b"
        server.sql("INSERT INTO t (v) VALUES ('d')", database="app")
        assert server.sql("SELECT MAX(id) FROM t", database="app").strip() == "3"  # ids go on from the golden rows
        pid, port, base = server.pid, server.port, server.base
        assert psutil.Process(pid).username() != "root" or os.geteuid() != 0  # unprivileged as root
    assert not psutil.pid_exists(pid) and not port_in_use(port) and not base.exists()


def test_a_failed_sql_statement_is_a_clear_error() -> None:
    with mysql.EmbeddedMySQL(name="unit-err") as server, pytest.raises(ScaleperfError, match="SQL on the MySQL server failed"):
        server.sql("SELECT * FROM no_such_table", database="mysql")


def test_mysql_tier_life_cycle_limits_golden_reset_teardown(app_command: str) -> None:
    provider = LocalProvider(app=app_command, db_engine="mysql")
    config = load_configs()["single"]
    with provider.provision(config) as dep:
        facts = dep.describe()
        db = dep.db
        assert facts["db"]["engine"] == "mysql" and "MariaDB" in facts["db"]["server"]
        assert facts["db"]["settings"] == mysql.db_settings(config.db_class.memory_mib * 2**20)
        # The server runs inside the database group, limited to the class's share of CPU and its memory.
        group = dep.db_group
        assert db.pid in group.members()
        if dep.mechanism.name == "cgroup1":
            quota = int((group.dirs["cpu"] / "cpu.cfs_quota_us").read_text())
            period = int((group.dirs["cpu"] / "cpu.cfs_period_us").read_text())
            assert quota / period == pytest.approx(config.db_class.vcpus * provider.scale, rel=0.01)
            assert int((group.dirs["memory"] / "memory.limit_in_bytes").read_text()) == config.db_class.memory_mib * 2**20
        # A copy of the golden data directory, not the golden copy itself.
        golden = Path(facts["db"]["golden"])
        assert golden.is_dir() and db.server.data != golden and (golden.parent / dbtier.META_FILE).exists()
        # The app got a MySQL URL with the database it can write to; reset puts the data back.
        name = db.facts.name
        db.server.sql(f"CREATE TABLE `{name}`.notes (id INT PRIMARY KEY)")
        db.server.snapshot(name, dbtier.SNAPSHOT)  # as a golden copy holding this table would
        db.server.sql(f"INSERT INTO `{name}`.notes VALUES (1), (2)")
        dep.reset_data()
        assert db.server.sql(f"SELECT COUNT(*) FROM `{name}`.notes").strip() == "0"
        # Telemetry: the db component is sampled like the app's.
        assert any(c.name == "db" and c.tier == "db" for c in dep._components())
        pid, port, base, workdir = db.pid, db.port, db.server.base, dep.workdir
    assert not psutil.pid_exists(pid)
    assert not port_in_use(port) and not base.exists() and not workdir.exists()
    assert not [g for g in leftover_groups() if f"-{os.getpid()}-" in g.name]


def test_a_failure_after_the_database_started_leaves_nothing(app_command: str) -> None:
    provider = LocalProvider(app="{python} -c 'import sys; sys.exit(4)' {port}", db_engine="mysql")
    before = {p.pid for p in psutil.process_iter()}
    with pytest.raises(ScaleperfError, match="exited at start"), provider.provision(load_configs()["single"]):
        pass
    servers = [p for p in psutil.process_iter(["name"]) if p.pid not in before and p.info["name"] in ("mariadbd", "mysqld")]
    assert not servers
    assert not list((Path(mysql.paths.home()) / mysql.DATA_ROOT).glob(f"local-single-{os.getpid()}-*"))


SIGTERM_SCRIPT = r"""
import json, sys, time
from scaleperf.configs import load_configs
from scaleperf.providers.local import LocalProvider
with LocalProvider(app=sys.argv[1], db_engine="mysql").provision(load_configs()["single"]) as dep:
    print("UP " + json.dumps({"pid": dep.db.pid, "port": dep.db.port, "base": str(dep.db.server.base),
                              "groups": [g.name for g in dep.groups], "workdir": str(dep.workdir)}), flush=True)
    time.sleep(60)
"""


@pytest.mark.slow
def test_sigterm_tears_the_mysql_tier_down(app_command: str) -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, app_command], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not line.startswith("UP "):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                pytest.fail("the provisioning script exited early")
        facts = json.loads(line.removeprefix("UP "))
        assert psutil.pid_exists(facts["pid"])
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not psutil.pid_exists(facts["pid"]) and not port_in_use(facts["port"])
    assert not Path(facts["base"]).exists() and not Path(facts["workdir"]).exists()
    assert not [g for g in leftover_groups() if g.name in facts["groups"]]
