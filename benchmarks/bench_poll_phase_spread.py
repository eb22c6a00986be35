"""Why runs of one configuration differ: fixed poll phases against phases that wander, in a model of the miniature.

The model is a queue in front of one CPU-limited app instance of the miniature's single configuration:

* the CPU: one request at a time, FIFO, under a CFS quota (``QUOTA_MS`` of CPU per ``PERIOD_MS``: 0.175 core at the
  miniature's 20 ms period, scaleperf.providers.limits.DEFAULT_CFS_PERIOD_US);
* ``USERS`` browsers (the local users of 100 deployment users at scale 0.175), each polling every interval: two
  or three polls in a row (the third for the personas that poll the expert queue), each sent when the last one
  answered, lognormal CPU cost around ``POLL_MS``; the first poll of each browser at a uniformly random point of
  the interval;
* the rest of the load (sign-ins, reads, writes) as Poisson arrivals of ``OTHER_PER_S`` a second, costing about
  ``OTHER_MS`` each.

Each simulated run is scored as ``compare`` scores a replicate: the mean of 5-s batch p95s of the polls over the
judged window (105 s after 15 s of warm-up). Two pacings, side by side over the same seeds:

* ``fixed``: every interval exactly ``INTERVAL_S`` (the phases drawn at sign-in hold for the whole run);
* ``jitter``: each interval uniform within +-``JITTER`` of it (the shipped locustfile).

Printed: the mean of the replicate values and their log SD (the spread between runs a comparison must see
through), and the same for the polls' median.

    .venv/bin/python benchmarks/bench_poll_phase_spread.py [--runs 300]   (about 5 s)
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import time

import numpy as np

PERIOD_MS, QUOTA_MS = 20.0, 3.5  # 0.175 core at a 20 ms CFS period
USERS = 18  # 100 deployment users at scale 0.175
INTERVAL_S, JITTER = 5.0, 0.1
POLL_MS, OTHER_MS, OTHER_PER_S = 2.5, 5.0, 4.0
RUN_S, WARMUP_S, BATCH_S = 120.0, 15.0, 5.0


class ThrottledCpu:
    """One CPU under a CFS quota: work runs while the period's quota lasts, then waits for the next period."""

    def __init__(self) -> None:
        self.period, self.used, self.free_at = -1, 0.0, 0.0

    def serve(self, arrival_ms: float, work_ms: float) -> float:
        """The instant a request arriving at ``arrival_ms`` and needing ``work_ms`` of CPU is done (FIFO)."""
        t = max(arrival_ms, self.free_at)
        while work_ms > 1e-9:
            k = int(t // PERIOD_MS)
            if k != self.period:
                self.period, self.used = k, 0.0
            left = QUOTA_MS - self.used
            if left <= 1e-9:
                t = (k + 1) * PERIOD_MS
                continue
            run = min(work_ms, left, (k + 1) * PERIOD_MS - t)
            t += run
            work_ms -= run
            self.used += run
        self.free_at = t
        return t


def one_run(seed: int, jitter: float) -> tuple[float, float]:
    """(mean of batch p95s, median) of one simulated run's polls, in ms."""
    rng = random.Random(seed)
    interval, end = INTERVAL_S * 1000, RUN_S * 1000
    events: list[tuple[float, int, int, int]] = []  # (time, kind 0 cycle / 1 poll / 2 other, user, poll index)
    for u in range(USERS):
        heapq.heappush(events, (rng.uniform(0, interval), 0, u, 0))
    t = 0.0
    while t < end:
        t += rng.expovariate(OTHER_PER_S / 1000)
        heapq.heappush(events, (t, 2, -1, 0))
    polls_per_cycle = [3 if u % 3 else 2 for u in range(USERS)]
    cpu = ThrottledCpu()
    starts, latencies = [], []
    while events:
        now, kind, u, i = heapq.heappop(events)
        if now > end:
            break
        if kind == 0:
            heapq.heappush(events, (now + interval * (1 + rng.uniform(-jitter, jitter)), 0, u, 0))
            heapq.heappush(events, (now, 1, u, 0))
            continue
        cost = rng.lognormvariate(math.log(POLL_MS if kind == 1 else OTHER_MS), 0.4 if kind == 1 else 0.5)
        done = cpu.serve(now, cost)
        if kind == 1:
            starts.append(now)
            latencies.append(done - now)
            if i + 1 < polls_per_cycle[u]:
                heapq.heappush(events, (done + 1.0, 1, u, i + 1))
    s, lat = np.array(starts) / 1000, np.array(latencies)
    judged = s >= WARMUP_S
    batches = [
        np.percentile(lat[m], 95)
        for b in np.arange(WARMUP_S, RUN_S, BATCH_S)
        if (m := judged & (s >= b) & (s < b + BATCH_S)).sum() >= 20
    ]
    return float(np.mean(batches)), float(np.median(lat[judged]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300, help="simulated runs per pacing")
    args = ap.parse_args(argv)
    started = time.monotonic()
    print(
        f"model: {USERS} browsers, polls every {INTERVAL_S:g} s, a {QUOTA_MS:g} ms quota per {PERIOD_MS:g} ms period, "
        f"{args.runs} runs per pacing (the same seeds)"
    )
    print(f"{'pacing':28} | {'polls.p95 mean':>14} {'log SD':>7} | {'median mean':>11} {'log SD':>7}")
    for name, jitter in (("fixed intervals", 0.0), (f"jitter +-{JITTER:.0%}", JITTER)):
        got = np.array([one_run(seed, jitter) for seed in range(args.runs)])
        p95, p50 = got[:, 0], got[:, 1]
        print(
            f"{name:28} | {p95.mean():11.1f} ms {np.log(p95).std(ddof=1):7.3f} | "
            f"{p50.mean():8.1f} ms {np.log(p50).std(ddof=1):7.3f}"
        )
    print(f"elapsed {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
