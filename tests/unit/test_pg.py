"""The embedded PostgreSQL: a real server, started and stopped with nothing left behind."""

from __future__ import annotations

import os
import socket

import psutil
import psycopg
import pytest

from scaleperf import pg
from scaleperf.errors import ScaleperfError


@pytest.fixture
def pg_home(monkeypatch):
    """A scaleperf home that PostgreSQL's unprivileged uid can traverse (pytest's tmp_path is mode 700)."""
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix="scaleperf-test-")
    os.chmod(home, 0o755)
    monkeypatch.setenv("SCALEPERF_HOME", home)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def _postgres_pids_under(base) -> list[int]:
    out = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] == "postgres" and str(base) in " ".join(proc.info["cmdline"] or []):
                out.append(proc.pid)
        except psutil.Error:
            continue
    return out


def test_start_connect_query_stop_leaves_nothing(pg_home):
    server = pg.EmbeddedPostgres(name="t").start()
    try:
        assert server.url.startswith("postgresql://postgres@127.0.0.1:")
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert _postgres_pids_under(server.base)
    finally:
        base = server.base
        server.stop()
    assert not _postgres_pids_under(base)
    assert not base.exists()


def test_runs_as_unprivileged_user_when_root(pg_home):
    with pg.EmbeddedPostgres(name="uid") as server:
        owner = psutil.Process(server.pid).uids().real
    if os.geteuid() == 0:
        assert owner != 0
    else:
        assert owner == os.geteuid()


def test_create_database_and_database_url_override(pg_home, monkeypatch):
    with pg.EmbeddedPostgres(name="db") as server:
        url = server.create_database("helpdesk")
        assert url.endswith("/helpdesk")
        assert server.create_database("helpdesk") == url  # idempotent
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("helpdesk",)
        monkeypatch.setenv("DATABASE_URL", url)
        with pg.database() as given:
            assert given == url


def test_template_copy_keeps_data(pg_home):
    golden = pg.EmbeddedPostgres(name="golden", keep=True).start()
    with psycopg.connect(golden.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE seeded (n int)")
        conn.execute("INSERT INTO seeded VALUES (7)")
    golden.stop()
    try:
        with pg.EmbeddedPostgres(name="copy", template=golden.data) as copy, psycopg.connect(copy.url) as conn:
            assert conn.execute("SELECT n FROM seeded").fetchone() == (7,)
    finally:
        import shutil

        shutil.rmtree(golden.base, ignore_errors=True)


def test_port_in_use_is_a_clear_error_and_starts_nothing(pg_home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ScaleperfError, match=f"port {port} .* in use"):
            pg.EmbeddedPostgres(name="busy", port=port).start()
    assert not list((pg.Path(pg_home) / "pg-data").glob("busy-*"))


def test_missing_binaries_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEPERF_PG_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(ScaleperfError, match="SCALEPERF_PG_BIN"):
        pg.find_bin_dir()


def test_home_the_server_user_cannot_reach_is_a_clear_error(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("only root hands the server to another uid")
    monkeypatch.setenv("SCALEPERF_HOME", str(tmp_path / "home"))  # under pytest's mode-700 folder
    with pytest.raises(ScaleperfError, match="not traversable"):
        pg.EmbeddedPostgres(name="blocked").start()


def test_unwritable_home_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SCALEPERF_HOME", str(blocker / "home"))
    with pytest.raises(ScaleperfError, match="SCALEPERF_HOME"):
        pg.EmbeddedPostgres(name="x")


def test_orphaned_server_is_reaped(pg_home):
    server = pg.EmbeddedPostgres(name="orphan").start()
    pid, base = server.pid, server.base
    (base / pg.OWNER_FILE).write_text("999999999")  # its owner is gone
    server.process = None  # forget it, as a crashed owner would
    assert pg.reap_orphans() == 1
    psutil.wait_procs([psutil.Process(pid)], timeout=10)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not base.exists()
