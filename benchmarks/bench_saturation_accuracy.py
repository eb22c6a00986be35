"""How accurately scaleperf finds a known capacity, with the fixed step ladder and with the saturation search.

A local HTTP server of known capacity: WORKERS concurrent workers, each request holding one for
SERVICE_S seconds (FIFO), so the server completes at most WORKERS / SERVICE_S requests/s; requests beyond
that wait in its queue.  scaleperf's engine (Locust in a child process, real HTTP on 127.0.0.1) drives it
with users that each ask once per PACING_S from a random phase: a ramp, a plateau, then either a fixed
ladder of steps (0.55x to 1.25x the capacity) or the saturation search (growth by 25 %, bisection to 5 %).
The saturation analysis runs on each run.  Printed side by side, as ratios to the known capacity: the
SLO-compliant point (the highest step where every SLO held and throughput tracked the load) and the highest
sustained throughput, with the steps each needed and the seconds it took.  Exits 1 when a sustained
throughput is more than TOLERANCE away from the capacity.

    .venv/bin/python benchmarks/bench_saturation_accuracy.py                       # ladder and search, about 4 min
    .venv/bin/python benchmarks/bench_saturation_accuracy.py --workers 4 --service-ms 20 --slo-p95-ms 250
    .venv/bin/python benchmarks/bench_saturation_accuracy.py --driver locust       # plain locust subprocess, ladder
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
STEP_S = 12.0  # seconds per step
WARMUP_S = 4.0  # leading seconds of each step the analysis discards
TOLERANCE = 0.10  # the detected saturation throughput must be within this fraction of the capacity
SLO_P95 = f"< {4 * SERVICE_S * 1000:.0f} ms"  # a latency SLO of four service times
RUN_TIMEOUT_S = 60 + STEP_S * 14  # kill a run that goes this long (a ramp, a plateau and at most 12 steps)

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

from scaleperf.search import LatencyLimit, StepCriteria

url, locustfile, out_dir, start, step, last, step_s, warmup_s, search, slo_ms = sys.argv[1:11]
phases = [{"kind": "ramp", "users": int(start) // 2, "rate": 200.0}, {"kind": "plateau", "duration_s": float(step_s)}]
if search == "search":
    phases.append({"kind": "search", "start": int(start), "factor": 1.25, "precision": 0.05, "max_users": int(last) * 4,
                   "max_steps": 12, "step_s": float(step_s), "warmup_s": float(warmup_s), "rate": 200.0})
else:
    phases.append({"kind": "steps", "start": int(start), "step": int(step), "max_users": int(last),
                   "step_s": float(step_s), "warmup_s": float(warmup_s), "rate": 200.0})
profile = load.profile_from_dict("bench-" + search, {"phases": phases})
criteria = StepCriteria(latency=(LatencyLimit("all", 95, float(slo_ms)),), max_error_rate=0.01, tracking_floor=0.9)
load.run(url, locustfile, profile, out_dir=out_dir, meta={"config": "known-capacity", "replicate": 1}, progress=False,
         step_criteria=criteria)
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
def run_steps(base_url: str, workdir: Path, steps: tuple[int, ...]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run Locust headless against ``base_url``; return its raw samples and its per-second CPU percent."""
    (workdir / "lf.py").write_text(LOCUSTFILE + DIRECT_ADDITIONS)
    out = workdir / "samples.npz"
    env = dict(
        os.environ,
        BENCH_STEPS=json.dumps(list(steps)),
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


def ladder(capacity: float) -> tuple[int, ...]:
    """Users per step of the fixed ladder: 0.55x .. 1.25x the capacity, eight steps."""
    users = capacity * PACING_S
    return tuple(round(users * f) for f in np.linspace(0.55, 1.25, 8))


def run_engine(base_url: str, workdir: Path, mode: str, capacity: float, slo_ms: float) -> RunResult:
    """Run the load with scaleperf's own engine (scaleperf.load.run) in a child process; load its run directory.

    ``mode``: "ladder" (fixed steps from 0.55x to 1.25x the capacity) or "search" (the saturation search from
    0.55x, 25 % growth, bisected to 5 %)."""
    (workdir / "lf.py").write_text(LOCUSTFILE)
    out = workdir / f"run-{mode}"
    steps = ladder(capacity)
    cmd = [sys.executable, "-c", ENGINE_DRIVER, base_url, str(workdir / "lf.py"), str(out), str(steps[0])]
    cmd += [str(steps[1] - steps[0]), str(steps[-1]), str(STEP_S), str(WARMUP_S), mode, str(slo_ms)]
    env = dict(os.environ, BENCH_PACING=str(PACING_S))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S * 2)
    if done.returncode != 0:
        raise SystemExit(f"scaleperf.load.run failed (rc {done.returncode}): {done.stderr[-2000:]}")
    return results.load(out)


def to_result(raw: dict[str, np.ndarray], cpu: np.ndarray, steps: tuple[int, ...]) -> RunResult:
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
        for i, u in enumerate(steps)
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


def report(label: str, result: RunResult, capacity: float, slo_ms: float, elapsed: float) -> dict:
    slos = [
        slo.parse_threshold("bench", "local", "all.p95", f"< {slo_ms:g} ms"),
        slo.parse_threshold("bench", "local", "all.error_rate", "< 1 %"),
    ]
    v = saturation.find(result, slos)
    print(f"\n== {label}: generator saturated: {result.generator_saturated} {result.checks.get('reasons') or ''}")
    print(f"{'step':>8} {'users':>6} {'offered':>8} {'achieved':>9} {'tracking':>9} {'p95 ms':>8} {'gen cpu':>8}  holds")
    for st in sorted(v.steps, key=lambda st: st.window[0]):
        gen = f"{st.gen_cpu_p95_pct:.0f} %" if st.gen_cpu_p95_pct is not None else "n/a"
        row = f"{st.label:>8} {st.users:>6} {st.offered_rps:>8.1f} {st.achieved_rps:>9.1f} {st.tracking:>9.2f} {st.p95_ms:>8.1f}"
        print(f"{row} {gen:>8}  {st.holds}")
    print(f"verdict: {v.result}, {v.outcome}: {v.reason}")
    search = result.meta.get("search")
    if search:
        print(f"search: {search['result']}")
    detected = v.rps if v.rps is not None else float("nan")
    sustained = v.capacity_rps if v.capacity_rps else float("nan")
    print(f"run took {elapsed:.0f} s, {len(result.samples)} requests, {len(v.steps)} steps")
    return {
        "label": label,
        "slo_point": detected / capacity,
        "sustained": sustained / capacity,
        "seconds": elapsed,
        "steps": len(v.steps),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "WORKERS", "SERVICE_S"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--driver",
        choices=("both", "ladder", "search", "locust"),
        default="both",
        help="both: the fixed ladder and the saturation search side by side, through scaleperf.load.run (default); "
        "locust: a plain locust subprocess with its own sample dump, on the ladder",
    )
    parser.add_argument("--workers", type=int, default=WORKERS, help="concurrent workers of the known-capacity server")
    parser.add_argument("--service-ms", type=float, default=SERVICE_S * 1000, help="milliseconds each request holds a worker")
    parser.add_argument("--slo-p95-ms", type=float, default=None, help="the p95 SLO (default: four service times)")
    args = parser.parse_args()
    if args.serve:
        port, workers, service = args.serve
        asyncio.run(_serve(int(port), int(workers), float(service)))
        return 0

    service_s = args.service_ms / 1000
    capacity = args.workers / service_s
    slo_ms = args.slo_p95_ms if args.slo_p95_ms is not None else 4 * args.service_ms
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), str(args.workers), str(service_s)], stdout=subprocess.PIPE, text=True
    )
    rows = []
    try:
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the known-capacity server did not start")
        print(
            f"known capacity: {args.workers} workers x {args.service_ms:g} ms = {capacity:.1f} req/s; SLO all.p95 < {slo_ms:g} ms"
        )
        modes = ("ladder", "search") if args.driver == "both" else (args.driver,)
        for mode in modes:
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="bench-saturation-") as tmp:
                if mode == "locust":
                    steps = ladder(capacity)
                    result = to_result(*run_steps(f"http://127.0.0.1:{port}", Path(tmp), steps), steps)
                else:
                    result = run_engine(f"http://127.0.0.1:{port}", Path(tmp), mode, capacity, slo_ms)
            rows.append(report(mode, result, capacity, slo_ms, time.monotonic() - started))
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"\n{'driver':>8} {'SLO point / capacity':>21} {'sustained / capacity':>21} {'steps':>6} {'seconds':>8}")
    for r in rows:
        print(f"{r['label']:>8} {r['slo_point']:>21.3f} {r['sustained']:>21.3f} {r['steps']:>6} {r['seconds']:>8.0f}")
    ok = all(abs(r["sustained"] - 1) <= TOLERANCE for r in rows)
    print(f"highest sustained throughput within {TOLERANCE:.0%} of the capacity: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
