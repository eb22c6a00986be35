"""How accurately scaleperf.analysis.saturation finds a known capacity.

A local HTTP server of known capacity: WORKERS concurrent workers, each request holding one for
SERVICE_S seconds, so the server completes at most WORKERS / SERVICE_S requests/s; requests beyond that
wait in its queue.  Locust (a real subprocess, real HTTP on 127.0.0.1) drives it with a step load of
users that each ask once per PACING_S; the raw samples become a RunResult with one ``step`` phase per
step, and the saturation analysis runs on it.  Printed side by side: the known capacity, the detected
saturation throughput, the highest sustained throughput and the USL ceiling, as ratios to the known
capacity.  Exits 1 when the detected saturation throughput is more than TOLERANCE away from it.

    .venv/bin/python benchmarks/bench_saturation_accuracy.py                  # scaleperf.load.run, about 100 s
    .venv/bin/python benchmarks/bench_saturation_accuracy.py --driver locust  # plain locust subprocess
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from scaleperf import results
from scaleperf.analysis import saturation, slo
from scaleperf.results import SAMPLE_DTYPES, Phase, RunResult, Samples

WORKERS = 4  # concurrent workers of the known-capacity server
SERVICE_S = 0.05  # seconds each request holds a worker: capacity WORKERS / SERVICE_S = 80 req/s
PACING_S = 1.0  # each Locust user starts one request per this many seconds, from a random phase
STEP_USERS = tuple(range(44, 101, 8))  # users per step, 44 .. 100: offered 0.55x .. 1.25x the capacity
STEP_S = 12.0  # seconds per step
WARMUP_S = 4.0  # leading seconds of each step the analysis discards
TOLERANCE = 0.10  # the detected saturation throughput must be within this fraction of the capacity
SLO_P95 = f"< {4 * SERVICE_S * 1000:.0f} ms"  # a latency SLO of four service times
RUN_TIMEOUT_S = 60 + STEP_S * len(STEP_USERS)  # kill Locust if it runs this long

LOCUSTFILE = """
import os, random, time
import gevent
from locust import FastHttpUser, task

try:
    import scaleperf.load.recorder  # noqa: F401  (records raw samples when scaleperf's engine runs this file)
except ImportError:
    pass


class Asker(FastHttpUser):
    pacing = float(os.environ["BENCH_PACING"])

    def on_start(self):
        # Each user keeps its own schedule from a random phase: users spawned together must not ask together.
        self.next_at = time.monotonic() + random.uniform(0, self.pacing)
        gevent.sleep(self.next_at - time.monotonic())

    def wait_time(self):
        self.next_at = max(self.next_at + self.pacing, time.monotonic())  # late: start now, no catch-up burst
        return self.next_at - time.monotonic()

    @task
    def ask(self):
        self.client.get("/work", context={"group": "reads"})
"""

# Appended for a plain `locust` run (no scaleperf engine): the step shape and a raw-sample dump.
DIRECT_ADDITIONS = """
import json
import numpy as np
from locust import LoadTestShape, events

STEPS = json.loads(os.environ["BENCH_STEPS"])
STEP_S = float(os.environ["BENCH_STEP_S"])
rows = []
t0 = []


class Steps(LoadTestShape):
    def tick(self):
        if not t0:
            t0.append(time.time())
        i = int(self.get_run_time() // STEP_S)
        return (STEPS[i], 200) if i < len(STEPS) else None


@events.request.add_listener
def record(request_type, name, response_time, exception, start_time=None, **kw):
    rows.append((start_time, response_time, exception is not None))


@events.test_stop.add_listener
def dump(environment, **kw):
    a = np.array(rows, dtype=float).reshape(-1, 3)
    np.savez(os.environ["BENCH_OUT"], t=a[:, 0] - t0[0], latency_ms=a[:, 1], error=a[:, 2])
"""

# Run in a child process: scaleperf's engine (gevent patched first), writing the run directory.
ENGINE_DRIVER = """
from gevent import monkey

monkey.patch_all()
import sys
from scaleperf import load

url, locustfile, out_dir, start, step, last, step_s, warmup_s = sys.argv[1:9]
profile = load.profile_from_dict("bench-steps", {"phases": [{
    "kind": "steps", "start": int(start), "step": int(step), "max_users": int(last),
    "step_s": float(step_s), "warmup_s": float(warmup_s), "rate": 200.0}]})
load.run(url, locustfile, profile, out_dir=out_dir, meta={"config": "known-capacity", "replicate": 1}, progress=False)
"""


# ------------------------------------------------------------------------------------------- server
async def _serve(port: int, workers: int, service_s: float) -> None:
    pool = asyncio.Semaphore(workers)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0)
                if length:
                    await reader.readexactly(length)
                async with pool:
                    await asyncio.sleep(service_s)  # holds one of the workers
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------- the run
def run_steps(base_url: str, workdir: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run Locust headless against ``base_url``; return its raw samples and its per-second CPU percent."""
    (workdir / "lf.py").write_text(LOCUSTFILE + DIRECT_ADDITIONS)
    out = workdir / "samples.npz"
    env = dict(
        os.environ,
        BENCH_STEPS=json.dumps(list(STEP_USERS)),
        BENCH_STEP_S=str(STEP_S),
        BENCH_PACING=str(PACING_S),
        BENCH_OUT=str(out),
    )
    cmd = [sys.executable, "-m", "locust", "-f", str(workdir / "lf.py"), "--headless", "--host", base_url, "--only-summary"]
    cmd += ["--loglevel", "WARNING"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cpu = []
    try:
        ps = psutil.Process(proc.pid)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                cpu.append(ps.cpu_percent(interval=1.0))
            except psutil.NoSuchProcess:
                break
        if proc.poll() is None:
            proc.kill()
            raise SystemExit("locust did not finish in time")
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if not out.exists():
        raise SystemExit(f"locust wrote no samples (rc {proc.returncode}): {err[-2000:]}")
    with np.load(out) as z:
        return {k: z[k] for k in z.files}, np.asarray(cpu)


def run_engine(base_url: str, workdir: Path) -> RunResult:
    """Run the step load with scaleperf's own engine (scaleperf.load.run) in a child process; load its run directory."""
    (workdir / "lf.py").write_text(LOCUSTFILE)
    out = workdir / "run"
    step = STEP_USERS[1] - STEP_USERS[0]
    cmd = [sys.executable, "-c", ENGINE_DRIVER, base_url, str(workdir / "lf.py"), str(out), str(STEP_USERS[0]), str(step)]
    cmd += [str(STEP_USERS[-1]), str(STEP_S), str(WARMUP_S)]
    env = dict(os.environ, BENCH_PACING=str(PACING_S))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if done.returncode != 0:
        raise SystemExit(f"scaleperf.load.run failed (rc {done.returncode}): {done.stderr[-2000:]}")
    return results.load(out)


def to_result(raw: dict[str, np.ndarray], cpu: np.ndarray) -> RunResult:
    n = len(raw["t"])
    order = np.argsort(raw["t"])
    samples = Samples(
        t=raw["t"][order].astype(SAMPLE_DTYPES["t"]),
        latency_ms=raw["latency_ms"][order].astype(SAMPLE_DTYPES["latency_ms"]),
        name=np.zeros(n, dtype=SAMPLE_DTYPES["name"]),
        group=np.zeros(n, dtype=SAMPLE_DTYPES["group"]),
        size=np.full(n, 2, dtype=SAMPLE_DTYPES["size"]),
        error=raw["error"][order].astype(SAMPLE_DTYPES["error"]),
        names=("/work",),
        groups=("reads",),
        error_kinds=("ok", "error"),
    )
    phases = tuple(
        Phase(
            kind="step",
            label=f"step {i + 1}",
            start_s=i * STEP_S,
            end_s=(i + 1) * STEP_S,
            users=u,
            deploy_users=u,
            warmup_s=WARMUP_S,
        )
        for i, u in enumerate(STEP_USERS)
    )
    seconds = np.arange(len(cpu), dtype=np.float64)
    gen_cpu_p95 = float(np.percentile(cpu, 95)) if len(cpu) else 0.0
    return RunResult(
        meta={"config": "known-capacity", "complete": True, "scale": 1.0, "profile": "bench"},
        phases=phases,
        samples=samples,
        series={"t": seconds, "gen_cpu_pct": cpu.astype(np.float64)},
        checks={"saturated": gen_cpu_p95 >= saturation.GEN_CPU_LIMIT, "gen_cpu_p95_pct": gen_cpu_p95, "reasons": []},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "WORKERS", "SERVICE_S"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--driver",
        choices=("engine", "locust"),
        default="engine",
        help="engine: scaleperf.load.run (default); locust: a plain locust subprocess with its own sample dump",
    )
    args = parser.parse_args()
    if args.serve:
        port, workers, service = args.serve
        asyncio.run(_serve(int(port), int(workers), float(service)))
        return 0

    capacity = WORKERS / SERVICE_S
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), str(WORKERS), str(SERVICE_S)], stdout=subprocess.PIPE, text=True
    )
    try:
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the known-capacity server did not start")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="bench-saturation-") as tmp:
            if args.driver == "engine":
                result = run_engine(f"http://127.0.0.1:{port}", Path(tmp))
            else:
                result = to_result(*run_steps(f"http://127.0.0.1:{port}", Path(tmp)))
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=10)

    slos = [
        slo.parse_threshold("bench", "local", "all.p95", SLO_P95),
        slo.parse_threshold("bench", "local", "all.error_rate", "< 1 %"),
    ]
    v = saturation.find(result, slos)
    print(f"driver: {args.driver}; generator saturated: {result.generator_saturated} {result.checks.get('reasons') or ''}")
    print(f"known capacity: {WORKERS} workers x {SERVICE_S * 1000:.0f} ms = {capacity:.1f} req/s; SLO all.p95 {SLO_P95}")
    print(f"{'step':>8} {'users':>6} {'offered':>8} {'achieved':>9} {'tracking':>9} {'p95 ms':>8} {'gen cpu':>8}  holds")
    for s in v.steps:
        gen = f"{s.gen_cpu_p95_pct:.0f} %" if s.gen_cpu_p95_pct is not None else "n/a"
        row = f"{s.label:>8} {s.users:>6} {s.offered_rps:>8.1f} {s.achieved_rps:>9.1f} {s.tracking:>9.2f} {s.p95_ms:>8.1f}"
        print(f"{row} {gen:>8}  {s.holds}")
    print(f"verdict: {v.result}, {v.outcome}: {v.reason}")
    detected = v.rps if v.rps is not None else float("nan")
    print(f"detected saturation throughput / capacity = {detected / capacity:.3f}   ({detected:.1f} / {capacity:.1f} req/s)")
    print(f"highest sustained throughput / capacity  = {v.capacity_rps / capacity:.3f}" if v.capacity_rps else "no throughput")
    if v.usl and v.usl.ceiling_rps:
        print(f"USL ceiling lam/sigma / capacity         = {v.usl.ceiling_rps / capacity:.3f}  (R^2 {v.usl.r_squared:.3f})")
    if v.usl and v.usl.peak_users:
        print(f"USL peak: {v.usl.peak_users:.0f} users, {v.usl.peak_rps:.1f} req/s")
    print(f"knee: {v.knee_users} users; run took {elapsed:.0f} s, {len(result.samples)} requests")
    ok = abs(detected / capacity - 1) <= TOLERANCE
    print(f"within {TOLERANCE:.0%}: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
