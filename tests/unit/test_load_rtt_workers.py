"""The client round trip before a run, each load worker's CPU, and a deployment that waits for its own workers."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time

import gevent
import pytest
from test_load_engine import SHORT
from test_load_target import free_port
from test_report_document import synthetic_run

from scaleperf import results
from scaleperf.errors import ScaleperfError
from scaleperf.load import profile_from_dict, roundtrip, run
from scaleperf.load.selfcheck import checks
from scaleperf.load.workercpu import WORKER_CPU_SATURATED_PCT, WorkerCpu, summarise
from scaleperf.report import document, extras

LOCUSTFILE = """
from locust import FastHttpUser, constant, task


class Pinger(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def ping(self):
        self.client.get("/ping", context={"group": "reads"})
"""
SERVER_READY_TIMEOUT_S = 10.0  # python -m http.server must listen within this


@pytest.fixture
def no_health(tmp_path):
    """A real HTTP server without /health (Python's static file server over an empty folder)."""
    port = free_port()
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ----------------------------------------------------------------------------------------- round trip
def test_round_trip_is_the_median_of_health_checks(url):
    rtt = roundtrip.measure(url)
    assert rtt["rtt_path"] == "/health" and rtt["rtt_probes"] == roundtrip.PROBES
    assert len(rtt["rtt_samples_ms"]) == roundtrip.PROBES and all(s > 0 for s in rtt["rtt_samples_ms"])
    assert rtt["rtt_ms"] == statistics.median(rtt["rtt_samples_ms"])


def test_round_trip_falls_back_to_the_base_url_without_health(no_health):
    rtt = roundtrip.measure(no_health, probes=3)
    assert rtt["rtt_path"] == "/" and len(rtt["rtt_samples_ms"]) == 3 and rtt["rtt_ms"] > 0


def test_round_trip_to_nothing_is_left_unmeasured():
    rtt = roundtrip.measure(f"http://127.0.0.1:{free_port()}")
    assert rtt["rtt_ms"] is None and rtt["rtt_samples_ms"] == [] and rtt["rtt_error"]


def test_the_report_states_the_round_trip_beside_the_statistics():
    run_ = synthetic_run(
        "single", meta={"rtt_ms": 0.42, "rtt_samples_ms": [0.4, 0.42, 0.5], "rtt_path": "/health", "rtt_probes": 3}
    )
    note = extras.round_trip_note(run_)
    assert note == "client round trip 0.4 ms (median of 3 health checks)"
    assert note in extras.run_tables(run_, [])
    blocks = document.configuration_section("single", [run_], document.analyse({"single": [run_]}))
    captions = [b.caption for b in blocks if isinstance(b, document.Table)]
    assert any(c.startswith("Statistics per endpoint group") and c.endswith(note) for c in captions)
    remote = synthetic_run("single", meta={"rtt_ms": 12.0, "rtt_probes": 5, "rtt_path": "/", "expect_workers": 2})
    assert extras.round_trip_note(remote) == "round trip from the Locust master 12.0 ms (median of 5 requests to the base URL)"
    assert extras.round_trip_note(synthetic_run("single")) == ""  # results from before the round trip was measured


# ----------------------------------------------------------------------------------------- worker CPU
def test_worker_cpu_keeps_the_higher_current_figure_per_worker_and_second():
    cpu = WorkerCpu()
    now = 1000.0
    cpu.sample({"a": 20.0}, {"a": {"cpu_pct": 35.0, "received_at": now - 1}}, now)  # recorder's figure is higher
    cpu.sample({"a": 50.0}, {"a": {"cpu_pct": 99.0, "received_at": now - 30}}, now)  # stale report: ignored
    cpu.sample({"a": 40.0, "b": 95.0}, {}, now)  # b joins at the third second
    assert cpu.per_s == {"a": [35.0, 50.0, 40.0], "b": [None, None, 95.0]}


def test_any_worker_past_90_percent_is_named_and_flags_the_run():
    per_s = {"host-1_aa": [40.0, None, WORKER_CPU_SATURATED_PCT], "host-2_bb": [60.0, 91.5, 70.0]}
    out = summarise(per_s, {"host-2_bb": "host-2_bb (pid 4242)"})
    assert out["worker_cpu_max_pct"] == {"host-1_aa": 90.0, "host-2_bb": 91.5}
    assert out["worker_cpu_per_s"]["host-1_aa"] == [40.0, None, 90.0]
    assert out["worker_cpu_reasons"] == [
        "load worker host-2_bb (pid 4242) reached 92% CPU (> 90%) at 1 s: its latencies include its own queueing"
    ]
    flagged = checks(cpu_per_s=[10.0], lag_ms=[1.0], paced_waits=1, cpu_warnings=0, lost_workers=[], worker_cpu_per_s=per_s)
    assert flagged["saturated"] and flagged["reasons"] == [
        "load worker host-2_bb reached 92% CPU (> 90%) at 1 s: " + ("its latencies include its own queueing")
    ]
    calm = checks(
        cpu_per_s=[10.0], lag_ms=[1.0], paced_waits=1, cpu_warnings=0, lost_workers=[], worker_cpu_per_s={"w": [89.0, None]}
    )
    assert not calm["saturated"] and calm["worker_cpu_max_pct"] == {"w": 89.0}
    local = checks(cpu_per_s=[10.0], lag_ms=[1.0], paced_waits=1, cpu_warnings=0, lost_workers=[])
    assert "worker_cpu_max_pct" not in local and json.dumps(flagged)  # JSON-serialisable, as meta.json needs


# ----------------------------------------------------------------------------------------- the engine
class WaitingDeployment:
    """A deployment whose own workers join the master (as EC2 workers do); records how the engine used it."""

    def __init__(self, want: int, port: int | None = None, fail: bool = False) -> None:
        self.want, self.port, self.fail = want, port, fail
        self.calls: list[str] = []
        self.counts: list[int] = []
        self.master_listening: bool | None = None

    def wait_for_workers(self, count_fn) -> None:
        self.calls.append("wait")
        if self.port is not None:
            with socket.socket() as s:
                self.master_listening = s.connect_ex(("127.0.0.1", self.port)) == 0
        while True:
            self.counts.append(count_fn())
            if self.fail:
                raise ScaleperfError("EC2 Locust workers did not all join the master")
            if self.counts[-1] >= self.want:
                return
            gevent.sleep(0.1)

    def start_telemetry(self) -> None:
        self.calls.append("start")

    def telemetry(self, t0: float, t1: float) -> tuple[results.Telemetry, ...]:
        self.calls.append("telemetry")
        return ()


def test_a_local_run_records_its_round_trip_and_no_worker_cpu(url, locustfile, tmp_path):
    result = run(url, locustfile, SHORT, out_dir=tmp_path / "r1", progress=False)
    assert result.meta["rtt_ms"] == statistics.median(result.meta["rtt_samples_ms"]) > 0
    assert result.meta["rtt_path"] == "/health" and result.meta["rtt_from"] == "the load generator"
    assert "worker_cpu_max_pct" not in result.checks
    assert results.load(tmp_path / "r1").meta["rtt_ms"] == result.meta["rtt_ms"]


def test_a_deployment_that_waits_for_its_workers_decides_and_its_failure_stops_the_run(url, locustfile):
    port = free_port()
    deployment = WaitingDeployment(want=1, port=port, fail=True)
    for _ in range(2):  # the second run listens on the same port again: the first one released it
        with pytest.raises(ScaleperfError, match="did not all join"):
            run(url, locustfile, SHORT, expect_workers=1, master_port=port, deployment=deployment, progress=False)
    assert deployment.calls == ["wait", "wait"] and deployment.counts == [0, 0] and deployment.master_listening
    with socket.socket() as s:  # the master let go of its port (a closed connection may linger in TIME_WAIT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()


def test_a_busy_or_impossible_master_port_is_named(url, locustfile):
    with pytest.raises(ScaleperfError, match="not a TCP port"):
        run(url, locustfile, SHORT, expect_workers=1, master_port=70000, progress=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ScaleperfError, match=f"cannot listen on 127.0.0.1:{port}"):
            run(url, locustfile, SHORT, workers=1, master_port=port, progress=False)


@pytest.mark.slow
def test_two_workers_on_a_chosen_port_report_their_cpu(url, locustfile, tmp_path):
    port = free_port()
    deployment = WaitingDeployment(want=2, port=port)
    result = run(
        url, locustfile, SHORT, workers=2, master_port=port, deployment=deployment, out_dir=tmp_path / "d", progress=False
    )
    assert deployment.calls == ["wait", "start", "telemetry"] and deployment.counts[-1] == 2 and deployment.master_listening
    assert result.meta["master_port"] == port and result.complete
    seen = result.meta["workers_seen"]
    maxima = result.checks["worker_cpu_max_pct"]
    assert len(seen) == 2 and set(maxima) == set(seen) and all(pct is not None and pct >= 0 for pct in maxima.values())
    lengths = {len(series) for series in result.checks["worker_cpu_per_s"].values()}  # one figure (or None) per second
    assert len(lengths) == 1 and lengths.pop() >= int(result.phases[-1].end_s) - 1
    busy = [wid for wid, pct in maxima.items() if pct > WORKER_CPU_SATURATED_PCT]
    assert all(any(wid in r for r in result.checks["reasons"]) for wid in busy)
    stored = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert stored["checks"]["worker_cpu_max_pct"] == maxima and stored["meta"]["rtt_ms"] == result.meta["rtt_ms"]


BUSY_LOCUSTFILE = """
import time

from locust import FastHttpUser, constant, task


class Burner(FastHttpUser):
    wait_time = constant(0)

    @task
    def burn(self):
        until = time.perf_counter() + 0.2
        while time.perf_counter() < until:  # the worker's one core, busy between requests
            pass
        self.client.get("/ping", context={"group": "reads"})
"""


@pytest.mark.slow
def test_a_busy_worker_is_named_and_flags_the_run(url, tmp_path):
    locustfile = tmp_path / "rtt_burners.py"
    locustfile.write_text(BUSY_LOCUSTFILE)
    phases = [{"kind": "ramp", "users": 2, "rate": 2}, {"kind": "plateau", "duration_s": 10}]  # several worker reports
    profile = profile_from_dict("busy", {"phases": phases})
    result = run(url, locustfile, profile, workers=1, progress=False)
    (wid, top), *_ = result.checks["worker_cpu_max_pct"].items()
    assert top > WORKER_CPU_SATURATED_PCT and result.checks["saturated"]
    assert any(r.startswith(f"load worker {wid}") and "CPU" in r for r in result.checks["reasons"])
