"""The load engine end to end against a tiny local target (a real HTTP server in its own process)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gevent
import numpy as np
import psutil
import pytest
from test_load_target import free_port, served

from scaleperf import results
from scaleperf.errors import ScaleperfError
from scaleperf.load import profile_from_dict, run
from scaleperf.load.progress import Progress

HERE = Path(__file__).resolve().parent
SHORT = profile_from_dict(
    "short",
    {"phases": [{"kind": "ramp", "users": 4, "rate": 4}, {"kind": "plateau", "duration_s": 3, "warmup_s": 1}]},
)
# The first run of a test process pays for warming gevent and the locustfile: a plateau long enough that one
# such stall (all 4 users late at once) stays under the 1 % the lag p99 check reads.
PLAIN = profile_from_dict(
    "short",
    {"phases": [{"kind": "ramp", "users": 4, "rate": 4}, {"kind": "plateau", "duration_s": 10, "warmup_s": 1}]},
)
LOCUSTFILE = """
from locust import FastHttpUser, constant, events, task

SEEN = []  # every response time Locust reported, straight from its request event


@events.request.add_listener
def _seen(response_time, **kw):
    SEEN.append(response_time)


class Pinger(FastHttpUser):
    wait_time = constant(0.05)

    @task(3)
    def ping(self):
        self.client.get("/ping", context={"group": "reads"})

    @task
    def flaky(self):
        self.client.get("/flaky", context={"group": "writes"})
"""
META_KEYS = {"config", "run_id", "replicate", "scale", "profile", "base_url", "started_at", "locust_version", "python_version"}
META_KEYS |= {"git_commit", "machine", "complete"}
CHECK_KEYS = {"gen_cpu_max_pct", "gen_cpu_p95_pct", "cpu_warnings", "lag_p95_ms", "lag_p99_ms", "saturated", "reasons"}


class Deployment:
    """Records how the engine uses a deployment's telemetry hooks."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start_telemetry(self) -> None:
        self.calls.append("start")

    def telemetry(self, t0: float, t1: float) -> tuple[results.Telemetry, ...]:
        self.calls.append("telemetry")
        t = np.arange(int(t1 - t0), dtype=np.float64)
        return (results.Telemetry("app-1", "app", t, np.full(len(t), 12.0), np.zeros(len(t)), np.full(len(t), 50.0)),)


def test_a_run_records_every_request_exactly(url, locustfile, tmp_path):
    before = served(url)
    if locustfile.stem in sys.modules:
        sys.modules[locustfile.stem].SEEN.clear()  # the locustfile's hook collects across runs in this process
    deployment = Deployment()
    meta = {"config": "single", "run_id": "r-test", "replicate": 1}
    result = run(url, locustfile, PLAIN, scale=1.0, out_dir=tmp_path / "r1", meta=meta, deployment=deployment, progress=False)
    assert len(result.samples) == served(url) - before > 50
    seen = sys.modules[locustfile.stem].SEEN  # the locustfile's own module-level hook fired (events=locust.events)
    assert sorted(np.float32(seen)) == sorted(result.samples.latency_ms)  # exact, as Locust measured each one
    assert not np.all(result.samples.latency_ms == np.round(result.samples.latency_ms))  # not rounded to whole ms
    assert set(result.samples.groups) == {"reads", "writes"}
    flaky = result.samples.mask(name="/flaky")
    assert result.samples.failed[flaky].sum() > 0 and not result.samples.failed[~flaky].any()
    assert [p.label for p in result.phases] == ["ramp", "plateau"] and result.phases[1].warmup_s == 1
    assert set(result.meta) >= META_KEYS and result.complete and result.meta["config"] == "single"
    assert set(result.checks) >= CHECK_KEYS and result.checks["saturated"] is False
    lag = result.checks["lag_per_s"]  # task lag and Locust's warnings are kept with their times
    assert sum(lag["waits"]) == result.checks["paced_waits"] > 0
    assert len(lag["waits"]) == len(lag["late"]) == len(lag["max_ms"]) >= PLAIN.duration_s
    assert result.checks["cpu_warnings_at_s"] == [] and result.checks["cpu_warnings"] == 0
    assert deployment.calls == ["start", "telemetry"] and result.telemetry[0].component == "app-1"
    assert tuple(result.series) == results.SERIES_KEYS and result.series["users"][1] == 4

    stored = results.load(tmp_path / "r1")
    assert stored.complete and len(stored.samples) == len(result.samples)
    assert stored.samples.names == result.samples.names and stored.telemetry[0].component == "app-1"
    for suffix in ("stats", "stats_history", "failures"):
        assert (tmp_path / "r1" / f"locust_{suffix}.csv").stat().st_size > 0


def test_scale_sets_local_users_and_records_both(url, locustfile):
    result = run(url, locustfile, SHORT, scale=0.5, progress=False)
    assert [(p.users, p.deploy_users) for p in result.phases] == [(2, 4), (2, 4)]
    assert result.series["users"][2] == 2 and result.series["deploy_users"][2] == 4
    assert result.meta["scale"] == 0.5 and result.meta["out_dir"] is None


def test_an_unreachable_target_fails_at_once_with_one_message(locustfile):
    port = free_port()
    with pytest.raises(ScaleperfError, match=f"127.0.0.1:{port} is unreachable .*start it or check the URL"):
        run(f"http://127.0.0.1:{port}", locustfile, SHORT, progress=False)


def test_a_locustfile_that_does_not_import_or_has_no_users_is_named(url, tmp_path):
    broken = tmp_path / "broken_lf.py"
    broken.write_text("from locust import HttpUser\nraise RuntimeError('no database')\n")
    with pytest.raises(ScaleperfError, match=r"broken_lf.py does not import: RuntimeError: no database"):
        run(url, broken, SHORT, progress=False)
    empty = tmp_path / "empty_lf.py"
    empty.write_text("from locust import HttpUser\n\nclass Base(HttpUser):\n    abstract = True\n")
    with pytest.raises(ScaleperfError, match=r"empty_lf.py defines no Locust user classes"):
        run(url, empty, SHORT, progress=False)
    with pytest.raises(ScaleperfError, match="not found"):
        run(url, tmp_path / "missing.py", SHORT, progress=False)


@pytest.mark.slow
def test_two_local_workers_merge_exactly(url, locustfile, tmp_path):
    before = served(url)
    result = run(url, locustfile, SHORT, workers=2, out_dir=tmp_path / "dist", progress=False)
    assert len(result.samples) == served(url) - before > 50
    seen = result.meta["workers_seen"]
    assert len(seen) == 2 and all(w["requests"] > 0 for w in seen.values())
    assert sum(w["requests"] for w in seen.values()) == len(result.samples)
    assert result.complete and not result.checks["lost_workers"]
    assert not [p for p in psutil.Process().children(recursive=True) if "scaleperf.load.worker" in " ".join(p.cmdline())]


@pytest.mark.slow
def test_a_worker_dying_mid_run_is_reported(url, locustfile):
    before = served(url)

    def kill_one_worker() -> None:  # once the load is flowing
        while served(url) < before + 40:
            gevent.sleep(0.2)
        workers = [p for p in psutil.Process().children() if "scaleperf.load.worker" in " ".join(p.cmdline())]
        workers[0].kill()

    profile = profile_from_dict(
        "die", {"phases": [{"kind": "ramp", "users": 4, "rate": 4}, {"kind": "plateau", "duration_s": 5}]}
    )
    killer = gevent.spawn(kill_one_worker)
    result = run(url, locustfile, profile, workers=2, progress=False)
    killer.join()
    assert killer.successful()
    assert len(result.checks["lost_workers"]) == 1 and "exit code" in result.checks["lost_workers"][0]
    assert result.checks["saturated"] and any("was lost" in r for r in result.checks["reasons"])
    assert len(result.samples) > 0


INTERRUPTED = """
import signal, sys
sys.path.insert(0, {here!r})
from scaleperf.load import profile_from_dict, run

class Stopped(Exception):
    pass

def on_term(signum, frame):
    raise Stopped("SIGTERM")

signal.signal(signal.SIGTERM, on_term)
phases = [{{"kind": "ramp", "users": 3, "rate": 3}}, {{"kind": "plateau", "duration_s": 60}}]
profile = profile_from_dict("long", {{"phases": phases}})
run({url!r}, {locustfile!r}, profile, out_dir={out!r}, meta={{"config": "single"}}, progress=False)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "raised"), [(signal.SIGINT, "KeyboardInterrupt"), (signal.SIGTERM, "Stopped")])
def test_an_interrupted_run_leaves_readable_results_marked_incomplete(url, locustfile, tmp_path, sig, raised):
    out = tmp_path / "r1"
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED.format(here=str(HERE), url=url, locustfile=str(locustfile), out=str(out)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_XDIST_WORKER", "LOCUST_SKIP_MONKEY_PATCH")}
    proc = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (out / "meta.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # some requests happen
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and raised in err
    stored = results.load(out)
    assert not stored.complete and raised in stored.meta["interrupted"]
    assert len(stored.samples) > 10 and set(stored.samples.names) == {"/ping", "/flaky"}
    assert json.loads((out / "meta.json").read_text())["meta"]["complete"] is False
    assert (out / "locust_stats.csv").exists()


def test_progress_is_one_updating_line_on_a_terminal_and_plain_lines_otherwise():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    fields = {"elapsed": 3.0, "phase": "plateau", "users": 7, "rps": 12.5, "p95": 4.25, "errors": 1}
    tty = Tty()
    progress = Progress(60, stream=tty)
    progress.update(**fields)
    progress.update(**fields)
    assert tty.getvalue().count("\r") == 2 and "\n" not in tty.getvalue() and "p95     4.2 ms" in tty.getvalue()
    plain = io.StringIO()
    progress = Progress(60, stream=plain)
    progress.update(**fields)
    progress.update(**fields)  # within PLAIN_INTERVAL_S: not repeated
    assert plain.getvalue().count("\n") == 1 and "57s left" in plain.getvalue()
    off = io.StringIO()
    Progress(60, enabled=False, stream=off).update(**fields)
    assert off.getvalue() == ""
