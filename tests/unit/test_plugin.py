"""The pytest plugin as a user meets it: options, selection, and what a bare `pytest` runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Plugins that import ssl before gevent patches it; pytest.ini turns them off, a session with its own ini must too.
QUIET_PLUGINS = ("-p", "no:locust", "-p", "no:anyio", "-p", "no:schemathesis")


def _pytest(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SCALEPERF_RUN_ID"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_bare_pytest_does_not_select_perf_tests():
    proc = _pytest("--co", "-q", "tests/perf")
    assert "deselected" in proc.stdout, proc.stdout + proc.stderr
    assert "tests/perf/test_run_sanity.py::" not in proc.stdout


def test_perf_tests_are_parametrized_by_configuration_names():
    proc = _pytest("--co", "-q", "-m", "perf", "--config=vertical,horizontal2", "tests/perf/test_run_sanity.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_run_completed_with_requests[vertical]" in proc.stdout
    assert "test_run_completed_with_requests[horizontal2]" in proc.stdout
    assert "[single]" not in proc.stdout


def test_default_selects_all_four_configurations():
    proc = _pytest("--co", "-q", "-m", "perf", "tests/perf/test_run_sanity.py")
    for name in ("single", "vertical", "horizontal1", "horizontal2"):
        assert f"test_run_completed_with_requests[{name}]" in proc.stdout, proc.stdout


def test_unknown_configuration_lists_the_known_ones():
    proc = _pytest("--co", "-q", "-m", "perf", "--config=huge", "tests/perf/test_run_sanity.py")
    assert proc.returncode != 0
    assert "unknown configuration 'huge'; known: single, vertical, horizontal1, horizontal2" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("args", "message"), [(["--replicates=0"], "at least 1"), (["--replicates=two"], "whole number")])
def test_bad_options_are_usage_errors(args, message):
    proc = _pytest("--co", "-q", "-m", "perf", *args, "tests/perf/test_run_sanity.py")
    assert proc.returncode == 4  # pytest's usage-error exit code
    assert message in proc.stderr


def test_perf_header_names_run_and_provider(tmp_path):
    env_run = "unit-test-run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--co",
            "-m",
            "perf",
            "--provider=url",
            "--target-url=http://127.0.0.1:9",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SCALEPERF_RUN_ID": env_run},
    )
    assert f"scaleperf: run {env_run}, provider url" in proc.stdout, proc.stdout + proc.stderr


def test_gevent_is_patched_by_role_in_plain_pytest():
    from gevent import monkey

    from scaleperf import gevent_setup

    assert gevent_setup.applied() == gevent_setup.ROLE_PLAIN
    assert monkey.is_module_patched("socket") and monkey.is_module_patched("ssl") and monkey.is_module_patched("threading")


def test_roles_follow_environment_and_parsed_numprocesses(monkeypatch):
    from scaleperf import gevent_setup

    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert gevent_setup.role(None) == gevent_setup.ROLE_PLAIN
    assert gevent_setup.role(0) == gevent_setup.ROLE_PLAIN
    assert gevent_setup.role(2) == gevent_setup.ROLE_XDIST_CONTROLLER
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert gevent_setup.role(2) == gevent_setup.ROLE_XDIST_WORKER


def test_profile_help_gives_each_shipped_profiles_length():
    from scaleperf.profiles import load_profiles

    proc = _pytest("--help")
    text = " ".join(proc.stdout.split())
    for name, profile in load_profiles().items():
        seconds = f"{profile.duration_s:.0f} s"
        assert f"{name} ({seconds}" in text, text[text.find("--profile") :][:400]
    assert "~1 min" not in text


def test_profile_help_follows_the_profiles_file(tmp_path, monkeypatch):
    from scaleperf import profiles, pytest_plugin

    (tmp_path / "profiles.toml").write_text(
        "[profiles.smoke]\n[[profiles.smoke.phases]]\nkind = 'ramp'\nusers = 10\nrate = 1.0\n"
        "[[profiles.smoke.phases]]\nkind = 'plateau'\nduration_s = 290\n"
    )
    monkeypatch.setattr(profiles, "DEFAULT_PATH", tmp_path / "profiles.toml")
    assert "smoke (300 s, 5 min) | standard | full" in pytest_plugin._profile_help()
    monkeypatch.setattr(profiles, "DEFAULT_PATH", tmp_path / "missing.toml")
    assert pytest_plugin._profile_help().endswith("smoke | standard | full | compare")


def test_each_session_of_a_run_claims_its_own_report_name(tmp_path):
    from scaleperf.pytest_plugin import claim_report_path

    run_dir = tmp_path / "run"
    claimed = [
        claim_report_path(run_dir, ("single",)),
        claim_report_path(run_dir, ("vertical",)),
        claim_report_path(run_dir, ("vertical",)),
        claim_report_path(run_dir, ("horizontal1", "horizontal2")),
        claim_report_path(run_dir, ()),
    ]
    names = [
        "report.html",
        "report-vertical.html",
        "report-vertical-2.html",
        "report-horizontal1-horizontal2.html",
        "report-all.html",
    ]
    assert [p.name for p in claimed] == names
    assert all(p.parent == run_dir and p.exists() for p in claimed)


def test_sessions_sharing_a_run_id_keep_their_own_html_reports(tmp_path):
    """Two perf sessions (one tox environment per configuration) writing into one run: two pytest-html reports."""
    (tmp_path / "none.ini").write_text("[pytest]\nmarkers = perf: load tests\n")
    (tmp_path / "test_nothing_heavy.py").write_text(
        "import pytest\n\n@pytest.mark.perf\ndef test_marked(request):\n"
        "    print('session of configs=' + '+'.join(request.config.getoption('scaleperf_configs')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SCALEPERF_RUN_ID"))}
    env["SCALEPERF_RUN_ID"] = "shared-run"
    for config in ("single", "vertical"):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *QUIET_PLUGINS, "-c", str(tmp_path / "none.ini"),
             "--rootdir", str(tmp_path), "-m", "perf", f"--config={config}", f"--results-dir={tmp_path / 'results'}",
             "test_nothing_heavy.py"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    run_dir = tmp_path / "results" / "shared-run"
    assert sorted(p.name for p in run_dir.glob("*.html")) == ["report-vertical.html", "report.html"]
    for name, config in (("report.html", "single"), ("report-vertical.html", "vertical")):
        page = (run_dir / name).read_text()
        assert f"session of configs={config}" in page, name  # each session's own report, not overwritten


def test_html_report_logs_and_cells_are_masked_as_pytest_html_escapes_them():
    import html

    from scaleperf import pytest_plugin

    logs = [
        html.escape('AssertionError: {"password": "hunter2", "user": "user_1"}\n'),
        html.escape("DATABASE_URL=postgresql://u:pw1@db/x"),
    ]
    pytest_plugin.pytest_html_results_table_html(report=None, data=logs)
    assert (
        "hunter2" not in logs[0]
        and "&quot;password&quot;: &quot;[redacted]&quot;, &quot;user&quot;: &quot;user_1&quot;" in logs[0]
    )
    assert logs[1] == "DATABASE_URL=postgresql://u:[redacted]@db/x"
    cells = ["<td>passed</td>", "<td>test_x[token=abcdefabcdef0123]</td>"]
    report = type("Report", (), {"user_properties": [("config", "single"), ("verdict", "fail: Bearer abcdefabcdef0123456")]})()
    pytest_plugin.pytest_html_results_table_row(report=report, cells=cells)
    assert not any("abcdefabcdef0123" in cell for cell in cells) and "<td>single</td>" in cells
