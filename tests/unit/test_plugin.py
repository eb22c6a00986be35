"""The pytest plugin as a user meets it: options, selection, and what a bare `pytest` runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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
