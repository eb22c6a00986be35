"""The suite's main job, end to end, as a user runs it: `pytest -m perf --config=single` on the local
miniature with the smoke profile, then the report and results document it leaves on disk, and nothing
left running afterwards. Also: the same run stopped by SIGINT or SIGTERM cleans up and keeps partial results.
"""

from __future__ import annotations

import html as html_mod
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 600  # the smoke profile takes about two minutes for one configuration on a 2-core machine

pytestmark = pytest.mark.slow


def _leftovers(since: float, home: Path) -> list[str]:
    """Processes the suite started (PostgreSQL, app servers, HAProxy, Locust workers) that outlived it."""
    out = []
    for proc in psutil.process_iter(["name", "cmdline", "create_time"]):
        try:
            if proc.info["create_time"] < since - 1:
                continue
            line = " ".join(proc.info["cmdline"] or [])
            if str(home) in line or proc.info["name"] == "haproxy" or "helpdesk" in line or "locust" in line:
                out.append(f"{proc.pid} {line[:160]}")
        except psutil.Error:
            continue
    return out


@pytest.fixture
def home(monkeypatch):
    """A scaleperf home of this test's own, so its PostgreSQL servers are recognisable."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="scaleperf-e2e-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _suite(tmp_path: Path, home: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SCALEPERF_RUN_ID"))}
    env["SCALEPERF_RUN_ID"] = "e2e"
    env["SCALEPERF_HOME"] = str(home)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "perf", "--config=single", "--profile=smoke"]
    cmd += [f"--results-dir={tmp_path}", "tests/perf/test_run_sanity.py", "tests/perf/test_slo.py"]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def test_smoke_run_of_one_configuration_end_to_end(tmp_path, home):
    started = time.time()
    proc = _suite(tmp_path, home)
    out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, out[-4000:]
    run = tmp_path / "e2e"
    assert (run / "report.html").exists(), out[-2000:]
    html = (run / "report.html").read_text()
    assert "data:image/png;base64" in html  # plots are embedded: the report is one self-contained file
    meta = json.loads((run / "single" / "r1" / "meta.json").read_text())
    assert meta["meta"]["complete"] is True
    assert meta["meta"]["deployment"]["provider"] == "local"
    assert 0 < meta["meta"]["scale"] < 1
    for name in ("_stats.csv", "_stats_history.csv", "_failures.csv"):
        assert list((run / "single" / "r1").glob(f"*{name}")), name
    # One set of verdicts: the terminal summary, the HTML report and the results document show each in the same words.
    from scaleperf.report import store

    stored = store.read(run)
    assert stored is not None and stored.of_kind("slo"), out[-3000:]
    assert "scaleperf verdicts, run e2e" in out and out.rstrip().count("verdicts: ") >= 1
    md = (run / "results.md").read_text()
    for v in stored.of_kind("slo"):
        assert out.count(v.reason) >= 1 and v.reason in md, v.reason
        # pytest-html keeps extras escaped in a JSON blob (whether quotes are escaped depends on the escaper)
        shown = {html_mod.escape(html_mod.escape(v.reason, quote=q), quote=q) for q in (True, False)}
        assert any(text in html for text in shown), v.reason
    time.sleep(1)
    assert not _leftovers(started, home)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_cleans_up_and_keeps_partial_results(tmp_path, home, sig):
    started = time.time()
    proc = _suite(tmp_path, home)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    meta_path = tmp_path / "e2e" / "single" / "r1" / "meta.json"
    parts = tmp_path / "e2e" / "single" / "r1" / "samples"
    while time.monotonic() < deadline and not (meta_path.exists() and list(parts.glob("part-*.npz"))):
        if proc.poll() is not None:
            pytest.fail(f"the suite ended before load started: {proc.stdout.read()[-3000:]}")
        time.sleep(0.5)
    proc.send_signal(sig)  # as Ctrl-C (SIGINT) or a CI runner's timeout (SIGTERM) would
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, out[-2000:]
    meta = json.loads(meta_path.read_text())
    assert meta["meta"]["complete"] is False  # partial results stay on disk, marked incomplete
    from scaleperf import results

    assert len(results.load(meta_path.parent).samples) > 0
    time.sleep(1)
    assert not _leftovers(started, home), out[-2000:]
