"""The own-app and per-configuration URL options as a user meets them on the command line (real pytest sessions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SCALEPERF_RUN_ID"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_one_bare_url_for_every_configuration_stops_the_session_with_how_to(tmp_path: Path) -> None:
    proc = _pytest(
        "-q", "-m", "perf", "--provider", "url", "--target-url", "http://127.0.0.1:9", "--results-dir", str(tmp_path),
        "tests/perf/test_run_sanity.py",
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out  # a usage error: nothing was measured
    assert "measured 4 times under different names" in out and "--target-url single=http://" in out
    assert "Traceback" not in out


def test_an_app_that_is_neither_folder_nor_template_stops_the_session(tmp_path: Path) -> None:
    proc = _pytest(
        "-q", "-m", "perf", "--config", "single", "--app", "no/such/app", "--results-dir", str(tmp_path),
        "tests/perf/test_run_sanity.py",
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    assert "--app 'no/such/app' is not a folder" in out and "Traceback" not in out
