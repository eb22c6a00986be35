"""Requests per second per load-generator core: locustfiles/helpdesk.py (FastHttpUser) against the course's
example (locustfiles/course_example.py, HttpUser), side by side in one run.

Both generate their IdleUser poll traffic with no pause between cycles, one Locust process pinned to one core,
against the same fast target (tests/unit/locust_targets.py, ``ok`` mode) pinned to the other core. Runs alternate
(helpdesk, course, helpdesk, course, ...) so drift on the shared machine hits both alike; each figure is the median
of its runs. (The example's poll cycle is one request, its other two polls being TODOs; the helpdesk cycle is
three, each parsed and checked.) The figure is requests per CPU-second of the generator process, i.e. requests/s per
generator core.
Target: the helpdesk locustfile generates at least 3x as many requests per core.

    .venv/bin/python benchmarks/bench_locustfile.py [--rounds 2] [--seconds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from locust_targets import running  # noqa: E402

LOCUSTFILES = {"helpdesk (FastHttpUser)": "helpdesk.py", "course example (HttpUser)": "course_example.py"}
TARGET_CORE = 0  # the fast target's core
GENERATOR_CORE = 1  # the load generator's core
USERS = 10  # enough concurrent users to keep one generator core busy
WARMUP_S = 2.0  # sign-ins and connection set-up, left out of the figures
TARGET_RATIO = 3.0  # the target: helpdesk at least 3x the course example per core

CHILD = """
import importlib.util, json, sys, time
import gevent, locust
from locust import constant
from locust.env import Environment
path, host, users, warmup, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
spec = importlib.util.spec_from_file_location("bench_locustfile", path)
lf = importlib.util.module_from_spec(spec); sys.modules[spec.name] = lf; spec.loader.exec_module(lf)
persona = lf.IdleUser
if path.endswith("course_example.py"):
    persona.wait_time = constant(0)  # the example's 5 s pause, removed to measure the generator's ceiling
env = Environment(user_classes=[persona], host=host, events=locust.events)
runner = env.create_local_runner()
runner.start(users, spawn_rate=users)
gevent.sleep(warmup)
n0, f0, c0, t0 = env.stats.total.num_requests, env.stats.total.num_failures, time.process_time(), time.monotonic()
gevent.sleep(seconds)
n1, f1, c1, t1 = env.stats.total.num_requests, env.stats.total.num_failures, time.process_time(), time.monotonic()
runner.quit()
print(json.dumps({"requests": n1 - n0, "failures": f1 - f0, "cpu_s": c1 - c0, "wall_s": t1 - t0}))
"""


def measure(locustfile: Path, host: str, seconds: float) -> dict:
    env = {**os.environ, "HELPDESK_POLL_INTERVAL": "0", "HELPDESK_WEIGHTS": "IdleUser=1,NewUser=0,ActiveUser=0,ExpertUser=0"}
    cmd = ["taskset", "-c", str(GENERATOR_CORE), sys.executable, "-c", CHILD, str(locustfile), host, str(USERS)]
    cmd += [str(WARMUP_S), str(seconds)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise SystemExit(f"{locustfile.name} failed:\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["wall_s"]
    figures["per_core"] = figures["requests"] / figures["cpu_s"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each locustfile, alternating")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per run (after warm-up)")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs 2 cores: one for the target, one for the generator")
    results: dict[str, list[dict]] = {label: [] for label in LOCUSTFILES}
    with running("ok", cpu=TARGET_CORE) as host:
        for _ in range(args.rounds):
            for label, name in LOCUSTFILES.items():
                results[label].append(measure(ROOT / "locustfiles" / name, host, args.seconds))
    print(f"{'locustfile':28} {'req/s':>8} {'gen CPU %':>9} {'req/s per core':>15} {'failures':>8}")
    medians = {}
    for label, runs in results.items():
        medians[label] = statistics.median(r["per_core"] for r in runs)
        rps = statistics.median(r["rps"] for r in runs)
        cpu = statistics.median(100 * r["cpu_s"] / r["wall_s"] for r in runs)
        failures = sum(r["failures"] for r in runs)
        print(f"{label:28} {rps:8.0f} {cpu:9.0f} {medians[label]:15.0f} {failures:8d}")
    fast, slow = medians.values()
    ratio = fast / slow
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"ratio helpdesk / course example, req/s per generator core: {ratio:.2f}x ({verdict} the {TARGET_RATIO:g}x target)")


if __name__ == "__main__":
    main()
