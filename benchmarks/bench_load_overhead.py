"""Load-generator overhead of the engine: in-process runner with raw-sample recording against bare
``locust --headless``, side by side in one run.

Same FastHttpUser locustfile (no wait between requests), same users, same seconds, same trivial endpoint
(``GET /ping`` of tests/unit/test_load_target.py, pinned to core 0). Each generator runs in its own process
pinned to core 1: the engine as ``scaleperf.load.run`` (a master-less local runner, every request recorded),
Locust as its own CLI. Runs alternate (engine, locust, engine, locust, ...) so drift on the shared machine hits
both alike; each figure is the median over its runs.
Target: the engine reaches at least 95% of bare Locust's requests/s.

    .venv/bin/python benchmarks/bench_load_overhead.py [--rounds 3] [--seconds 10] [--users 10]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from test_load_target import free_port  # noqa: E402

TARGET_CORE = "0"  # the target's core
GENERATOR_CORE = "1"  # the load generator's core
TARGET_RATIO = 0.95  # the target: engine req/s >= 95% of bare Locust's

LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class Pinger(FastHttpUser):
    wait_time = constant(0)

    @task
    def ping(self):
        self.client.get("/ping")
"""

ENGINE = """
import json, sys
from scaleperf.load import profile_from_dict, run
url, lf, users, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
profile = profile_from_dict("bench", {"phases": [{"kind": "ramp", "users": users, "rate": 1000},
                                               {"kind": "plateau", "duration_s": seconds - 1}]})
r = run(url, lf, profile, progress=False)
t = r.samples.t
own = r.meta["locust_own_stats"]  # Locust's Requests/s definition, the one bare Locust's CSV uses
print(json.dumps({"requests": len(t), "rps": own["total_rps"], "recorded": own["num_requests"] == len(t)}))
"""


def _pinned(core: str) -> list[str]:
    return ["taskset", "-c", core] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 else []


def engine_rps(url: str, lf: Path, users: int, seconds: float) -> float:
    out = subprocess.run(
        [*_pinned(GENERATOR_CORE), sys.executable, "-c", ENGINE, url, str(lf), str(users), str(seconds)],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )  # fmt: skip
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rps"])


def locust_rps(url: str, lf: Path, users: int, seconds: float, workdir: Path) -> float:
    prefix = workdir / "bare"
    locust = str(Path(sys.executable).with_name("locust"))
    cmd = [*_pinned(GENERATOR_CORE), locust, "-f", str(lf), "--headless", "-u", str(users), "-r", "1000", "-t", f"{seconds:g}s"]
    cmd += ["--host", url, "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR"]
    subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    with open(f"{prefix}_stats.csv") as f:
        rows = list(csv.DictReader(f))
    return float(next(r for r in rows if r["Name"] == "Aggregated")["Requests/s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--users", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        lf = workdir / "bench_pinger.py"
        lf.write_text(LOCUSTFILE)
        port = free_port()
        server = subprocess.Popen(
            [*_pinned(TARGET_CORE), sys.executable, str(ROOT / "tests/unit/test_load_target.py"), str(port)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            url = f"http://127.0.0.1:{port}"
            engine, bare = [], []
            for i in range(a.rounds):
                engine.append(engine_rps(url, lf, a.users, a.seconds))
                bare.append(locust_rps(url, lf, a.users, a.seconds, workdir))
                print(f"round {i + 1}: engine {engine[-1]:.0f} req/s, bare locust {bare[-1]:.0f} req/s", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=10)
    e, b = statistics.median(engine), statistics.median(bare)
    ratio = e / b
    print(f"engine (raw samples): {e:.0f} req/s | bare locust --headless: {b:.0f} req/s | ratio {ratio:.3f}")
    print(f"target >= {TARGET_RATIO:.2f}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}")


if __name__ == "__main__":
    main()
