"""The telemetry sampler: a real OS thread (it samples while the gevent-patched main thread never yields)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import pytest

from scaleperf.providers.limits import LimitGroup, Limits, detect, process_usage
from scaleperf.providers.telemetry import Component, Sampler


def test_sampler_runs_while_the_main_thread_busy_loops_under_gevent() -> None:
    pid = os.getpid()
    sampler = Sampler([Component("app-1", "app", lambda: process_usage([pid]), 1.0, throttling_known=False)], interval_s=0.2)
    sampler.start()
    t0 = time.time()
    end = time.monotonic() + 1.2
    while time.monotonic() < end:  # never yields to gevent's hub: only a native thread can sample meanwhile
        pass
    sampler.stop()
    t1 = time.time()
    assert len(sampler.samples) >= 3
    (series,) = sampler.telemetry(t0, t1)
    assert series.component == "app-1" and series.tier == "app" and len(series.t) >= 2
    assert all(c > 20 for c in series.cpu_pct)  # this process burned CPU the whole time
    assert all(math.isnan(x) for x in series.throttled_pct) and series.requests is None


def test_throttling_and_requests_from_a_limited_group() -> None:
    mechanism = detect()
    if not mechanism.limits:
        pytest.skip("no limit mechanism on this machine")
    counts = {"app-1": 0}

    def requests() -> dict[str, int]:
        counts["app-1"] += 10
        return dict(counts)

    with LimitGroup(mechanism, "test-telemetry", Limits(cpus=0.2)) as group:
        burner = subprocess.Popen(group.wrap([sys.executable, "-c", "while True: pass"]))
        try:
            sampler = Sampler([Component("app-1", "app", group.usage, 0.2)], requests=requests, interval_s=0.3)
            time.sleep(0.2)
            t0 = time.time()
            sampler.start()
            time.sleep(1.3)
            sampler.stop()
            t1 = time.time()
        finally:
            burner.kill()
            burner.wait()
    (series,) = sampler.telemetry(t0, t1)
    assert len(series.t) >= 2
    assert all(50 <= c <= 175 for c in series.cpu_pct), series.cpu_pct  # ~100 % of its 0.2 cores
    assert all(t > 50 for t in series.throttled_pct), series.throttled_pct  # held back in most periods
    assert series.requests is not None and all(r > 0 for r in series.requests)
    assert all(m > 1 for m in series.memory_mb)
