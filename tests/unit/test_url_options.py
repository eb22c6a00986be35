"""The own-app and per-configuration URL options as a user meets them on the command line (real pytest sessions)."""

from __future__ import annotations

from pathlib import Path

from test_plugin import _pytest  # a real pytest session of this project, in a subprocess

SESSION_TIMEOUT_S = 180  # a usage error stops a session before anything starts; this bounds a slow start


def test_one_bare_url_for_every_configuration_stops_the_session_with_how_to(tmp_path: Path) -> None:
    proc = _pytest(
        "-q", "-m", "perf", "--provider", "url", "--target-url", "http://127.0.0.1:9", "--results-dir", str(tmp_path),
        "tests/perf/test_run_sanity.py", timeout=SESSION_TIMEOUT_S,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out  # a usage error: nothing was measured
    assert "measured 4 times under different names" in out and "--target-url single=http://" in out
    assert "Traceback" not in out


def test_an_app_that_is_neither_folder_nor_template_stops_the_session(tmp_path: Path) -> None:
    proc = _pytest(
        "-q", "-m", "perf", "--config", "single", "--app", "no/such/app", "--results-dir", str(tmp_path),
        "tests/perf/test_run_sanity.py", timeout=SESSION_TIMEOUT_S,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    assert "--app 'no/such/app' is not a folder" in out and "Traceback" not in out
