"""Choose the CFS period for the local miniature by measurement.

For each candidate period, a child process runs inside a CPU-limited group of the miniature's
size (``scale`` cores, one emulated vCPU) and does two things:
1. throughput: units of CPU work (about 2 ms each unthrottled) done back to back for a while;
2. latency: the same units arriving on a fixed schedule at half the group's capacity (open loop),
   each unit's latency measured from its scheduled start.
Figures are printed side by side, throughput as a ratio to the 100 ms period.  The chosen period is
the one recorded in scaleperf.providers.limits.DEFAULT_CFS_PERIOD_US (see docs/local-miniature.md).

Run: .venv/bin/python benchmarks/bench_cfs_period.py   (about 25 s, needs root cgroups)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from scaleperf.configs import load_configs
from scaleperf.providers.limits import LimitGroup, Limits, detect
from scaleperf.providers.local import derive_scale, machine_cores

PERIODS_US = (10_000, 20_000, 50_000, 100_000)  # candidates: 10 ms to the kernel's default 100 ms
UNIT_MS = 2.0  # CPU cost of one unit of work, unthrottled (a light request of the reference backend)
THROUGHPUT_S = 2.0  # back-to-back phase length
LATENCY_S = 3.0  # open-loop phase length
LOAD_FRACTION = 0.5  # open-loop arrival rate as a fraction of the group's capacity

CHILD = r"""
import json, sys, time
loops, cpus, unit_ms, thr_s, lat_s, load = json.loads(sys.argv[1])
def unit():
    x = 0
    for i in range(loops):
        x += i * i
    return x
done = 0
end = time.monotonic() + thr_s
while time.monotonic() < end:
    unit(); done += 1
rate = cpus * 1000.0 / unit_ms * load
interval = 1.0 / rate
lat = []
start = time.monotonic()
n = 0
while True:
    due = start + n * interval
    if due > start + lat_s:
        break
    now = time.monotonic()
    if now < due:
        time.sleep(due - now)
    unit()
    lat.append((time.monotonic() - due) * 1000.0)
    n += 1
lat.sort()
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(json.dumps({"units_per_s": done / thr_s, "p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "n": len(lat)}))
"""


def calibrate() -> int:
    loops = 20_000
    t = time.perf_counter()
    x = 0
    for i in range(loops):
        x += i * i
    per_loop = (time.perf_counter() - t) / loops
    return max(1000, int(UNIT_MS / 1000.0 / per_loop))


def main() -> int:
    mechanism = detect()
    if not mechanism.limits:
        print("no CPU limit mechanism here (run as root on a cgroup host); nothing to measure")
        return 1
    scale = derive_scale(load_configs(), machine_cores())
    loops = calibrate()
    print(f"mechanism {mechanism.name}, group size {scale} cores (one emulated vCPU), unit ~{UNIT_MS} ms CPU")
    rows = {}
    for period in PERIODS_US:
        with LimitGroup(mechanism, f"bench-cfs-{period}", Limits(cpus=scale), period_us=period) as group:
            args = json.dumps([loops, scale, UNIT_MS, THROUGHPUT_S, LATENCY_S, LOAD_FRACTION])
            out = subprocess.run(group.wrap([sys.executable, "-c", CHILD, args]), capture_output=True, text=True, check=True)
            rows[period] = json.loads(out.stdout)
    base = rows[100_000]["units_per_s"]
    print(f"{'period':>8} {'units/s':>8} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for period, r in rows.items():
        print(
            f"{period // 1000:>6}ms {r['units_per_s']:>8.1f} {r['units_per_s'] / base:>6.2f} "
            f"{r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
