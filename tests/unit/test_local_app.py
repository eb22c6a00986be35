"""--app: what it resolves to, the reference backend through the command-template path, and the clear
errors (and nothing left running) when a user's app cannot start."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import psutil
import pytest
from test_local_provider import write_users

from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.pg import port_in_use
from scaleperf.providers import app as apps
from scaleperf.providers import check_aws_app
from scaleperf.providers.limits import leftover_groups
from scaleperf.providers.local import LocalProvider

RAILS_FIXTURE = Path(__file__).resolve().parents[1] / "apps" / "rails_helpdesk"


def rails_folder(tmp_path: Path, adapter: str | None) -> Path:
    folder = tmp_path / "app"
    (folder / "config").mkdir(parents=True)
    (folder / "Gemfile").write_text('source "https://rubygems.org"\n')
    (folder / "config.ru").write_text("run Rails.application\n")
    if adapter:
        (folder / "config" / "database.yml").write_text(
            f"default: &default\n  adapter: sqlite3\nproduction:\n  <<: *default\n  adapter: {adapter}\n  database: x\n"
        )
    return folder


@pytest.fixture(scope="module")
def users(tmp_path_factory) -> Path:
    return write_users(tmp_path_factory.mktemp("users") / "users.tsv")


def test_no_app_is_the_reference_backend_through_its_command_template() -> None:
    spec = apps.resolve(None)
    assert (spec.kind, spec.command, spec.db_engine, spec.health_path) == (
        "reference",
        apps.REFERENCE_COMMAND,
        "postgresql",
        "/health",
    )


@pytest.mark.parametrize(("adapter", "engine"), [("mysql2", "mysql"), ("trilogy", "mysql"), ("postgresql", "postgresql")])
def test_a_rails_folder_takes_its_engine_from_database_yml(tmp_path: Path, adapter: str, engine: str) -> None:
    spec = apps.resolve(rails_folder(tmp_path, adapter), health_path="/up")
    assert (spec.kind, spec.db_engine, spec.adapter, spec.health_path) == ("rails", engine, adapter, "/up")
    assert "database.yml" in spec.engine_source


def test_db_engine_overrides_database_yml_and_is_needed_without_it(tmp_path: Path) -> None:
    folder = rails_folder(tmp_path, None)
    with pytest.raises(ScaleperfError, match="--db-engine"):
        apps.resolve(folder)
    assert apps.resolve(folder, db_engine="mariadb").db_engine == "mysql"
    assert apps.resolve(folder, db_engine="postgres").db_engine == "postgresql"
    with pytest.raises(ScaleperfError, match="postgresql or mysql"):
        apps.resolve(folder, db_engine="oracle")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("no/such/folder", "is not a folder"),
        ("my-server --listen 8000", "no {port} placeholder"),
        ("my-server --port {port} --db {dsn}", "not valid"),
    ],
)
def test_what_is_neither_a_folder_nor_a_template_is_refused(value: str, says: str) -> None:
    with pytest.raises(ScaleperfError, match=says.replace("{", r"\{").replace("}", r"\}")):
        apps.resolve(value)


def test_a_folder_without_gemfile_and_config_ru_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaleperfError, match="no Gemfile and no config.ru"):
        apps.resolve(tmp_path)


def test_the_reference_backend_speaks_postgresql_only_and_health_paths_start_with_a_slash() -> None:
    with pytest.raises(ScaleperfError, match="PostgreSQL only"):
        apps.resolve(None, db_engine="mysql")
    with pytest.raises(ScaleperfError, match="must start with /"):
        apps.resolve(None, health_path="up")


def test_aws_takes_app_folders_only(tmp_path: Path) -> None:
    check_aws_app(str(tmp_path))
    check_aws_app(None)  # the provider then reads the superseded SCALEPERF_AWS_APP (test_aws_first_try)
    with pytest.raises(ScaleperfError, match="deploys a folder"):
        check_aws_app("server --port {port}")


def _nothing_left(pids: list[int], ports: list[int], workdir: Path) -> None:
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not [p for p in ports if port_in_use(p)]
    assert not workdir.exists()
    assert not [g for g in leftover_groups() if str(__import__("os").getpid()) in g.name]


def test_the_reference_backend_runs_through_the_command_template_path(users: Path) -> None:
    template = apps.REFERENCE_COMMAND + " --bcrypt-cost 4"
    provider = LocalProvider(users=users, app=template)
    assert provider.app.kind == "command"
    with provider.provision(load_configs()["single"]) as dep:
        import urllib.request

        with urllib.request.urlopen(dep.base_url + "/about", timeout=5) as resp:
            about = __import__("json").loads(resp.read())
        facts = dep.describe()
        dep.reset_data()
        pids = [proc.pid for _p, proc, _port in dep.apps] + [dep.db.pid]
        ports = [port for *_x, port in dep.apps] + [dep.db.port]
        workdir = dep.workdir
    assert about["bcryptCost"] == 4 and about["costModel"] == "rails"
    assert facts["app"] == {
        "kind": "command",
        "health_path": "/health",
        "db_engine": "postgresql",
        "db_engine_from": facts["app"]["db_engine_from"],
        "command": template,
        "bcrypt12_ms": provider.bcrypt12_ms(),
    }
    assert about["bcrypt12Ms"] == provider.bcrypt12_ms()  # the instance scales by the provider's one timing
    assert facts["instances"][0]["command"] == template
    _nothing_left(pids, ports, workdir)


def test_an_app_that_never_answers_is_stopped_and_reported(users: Path) -> None:
    silent = "{python} -c 'import time; time.sleep(120)' {port}"
    provider = LocalProvider(users=users, app=silent, start_timeout_s=2)
    before = {p.pid for p in psutil.process_iter()}
    config = load_configs()["single"]
    with (
        pytest.raises(ScaleperfError, match=r"did not answer http://127.0.0.1:\d+/health with 200 within 2s: nothing answered"),
        provider.provision(config),
    ):
        pass
    new = [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.pid not in before and "time.sleep(120)" in " ".join(p.info["cmdline"] or [])
    ]
    assert not new


def test_an_app_that_exits_at_start_shows_the_end_of_its_log(users: Path) -> None:
    crash = "{python} -c 'import sys; print(\"boom: missing config\"); sys.exit(3)' {port}"
    provider = LocalProvider(users=users, app=crash)
    config = load_configs()["single"]
    with pytest.raises(ScaleperfError, match="(?s)exited at start with code 3.*boom: missing config"), provider.provision(config):
        pass


def test_rails_without_ruby_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ScaleperfError, match="ruby and bundler not found on PATH"):
        LocalProvider(app=rails_folder(tmp_path, "postgresql"))


@pytest.mark.skipif(shutil.which("bundle") is None, reason="bundler is not installed (apt-get install ruby bundler)")
def test_rails_without_bundle_install_says_to_run_it(tmp_path: Path) -> None:
    folder = rails_folder(tmp_path, "postgresql")
    (folder / "Gemfile").write_text('source "https://rubygems.org"\ngem "no_such_gem_for_scaleperf", "9.9.9"\n')
    with pytest.raises(ScaleperfError, match="run `bundle install` in"):
        LocalProvider(app=folder)


@pytest.mark.skipif(shutil.which("bundle") is None, reason="bundler is not installed (apt-get install ruby bundler)")
def test_a_rails_app_that_fails_to_boot_shows_its_last_lines_and_leaves_nothing(tmp_path: Path, users: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(RAILS_FIXTURE, folder, ignore=shutil.ignore_patterns("tmp", "log"))
    (folder / "config" / "initializers").mkdir(exist_ok=True)
    (folder / "config" / "initializers" / "broken.rb").write_text('raise "scaleperf test: this app cannot boot"\n')
    provider = LocalProvider(users=users, app=folder, db_engine="postgresql")
    before = set(psutil.pids())
    config = load_configs()["single"]
    with pytest.raises(ScaleperfError, match="(?s)failed in .*this app cannot boot"), provider.provision(config):
        pass
    left = [
        p for p in psutil.process_iter(["cmdline"]) if p.pid not in before and str(folder) in " ".join(p.info["cmdline"] or [])
    ]
    assert not left
    assert sys.executable  # the interpreter that ran it is untouched


def test_an_app_that_redirects_its_health_check_is_told_about_force_ssl(users: Path, tmp_path: Path) -> None:
    script = tmp_path / "redirect.py"
    script.write_text(
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(301); self.send_header('Location', 'https://x/'); self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
    )
    provider = LocalProvider(users=users, app=f"{{python}} {script} {{port}}", start_timeout_s=2)
    config = load_configs()["single"]
    with pytest.raises(ScaleperfError, match="(?s)it answered HTTP 301.*force_ssl"), provider.provision(config):
        pass
