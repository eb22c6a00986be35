"""CPU and memory limits on real processes: a burner in a 20 % group, an allocation over a memory limit."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest

from scaleperf.errors import ScaleperfError
from scaleperf.providers.limits import LimitGroup, Limits, Usage, detect, leftover_groups

BURN = [sys.executable, "-c", "while True: pass"]
MEASURE_S = 1.5  # many CFS periods, even at the kernel default of 100 ms
START_S = 0.3  # time the burner's interpreter takes to start


@contextmanager
def burner(group: LimitGroup) -> Iterator[subprocess.Popen]:
    """A CPU burner started in ``group`` (its interpreter already running), killed at the end."""
    proc = subprocess.Popen(group.wrap(BURN))
    try:
        time.sleep(START_S)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def cores_used(group: LimitGroup, seconds: float) -> tuple[float, Usage, Usage]:
    """The group's CPU use over the next ``seconds``, in cores, with its usage before and after."""
    before, t0 = group.usage(), time.monotonic()
    time.sleep(seconds)
    after, t1 = group.usage(), time.monotonic()
    return (after.cpu_ns - before.cpu_ns) / 1e9 / (t1 - t0), before, after


@pytest.fixture(scope="module")
def mechanism():
    found = detect()
    if not found.limits:
        pytest.skip(f"no limit mechanism on this machine: {found.detail}")
    return found


def test_quota_is_cpus_times_period_with_the_kernel_minimum() -> None:
    assert Limits(cpus=0.175).quota_us(100_000) == 17_500
    assert Limits(cpus=0.001).quota_us(100_000) == 1_000
    assert Limits(cpus=None).quota_us(100_000) is None


def test_unknown_mechanism_is_a_user_error() -> None:
    with pytest.raises(ScaleperfError, match="unknown limit mechanism"):
        detect(("cgroup7",))


def test_a_cpu_burner_in_a_20_percent_group_uses_about_20_percent(mechanism) -> None:
    with LimitGroup(mechanism, "test-burn", Limits(cpus=0.2)) as group, burner(group) as proc:
        group.track(proc.pid)
        assert proc.pid in group.members()
        used, before, after = cores_used(group, MEASURE_S)
    assert 0.10 <= used <= 0.35, f"burner used {used:.0%} of a core under a 20% quota"
    if after.throttled_periods is not None:
        assert after.throttled_periods > before.throttled_periods  # the kernel did hold it back
    assert not [g for g in leftover_groups() if group.name in g.name]


def test_enforce_applies_a_quota_held_back_at_creation(mechanism) -> None:
    with LimitGroup(mechanism, "test-enforce", Limits(cpus=0.2)) as group:
        group.remove()
        group.create(cpu_unlimited_at_first=True)
        with burner(group):
            free, _, _ = cores_used(group, 0.6)
            group.enforce()
            time.sleep(0.2)
            limited, _, _ = cores_used(group, MEASURE_S)
    assert limited <= 0.35 and free > limited, (free, limited)


def test_memory_limit_kills_a_process_that_allocates_past_it(mechanism) -> None:
    grab = [sys.executable, "-c", "x = bytearray(400 * 2**20); x[::4096] = b'1' * len(x[::4096]); print('survived')"]
    with LimitGroup(mechanism, "test-mem", Limits(cpus=None, memory_bytes=96 * 2**20)) as group:
        limited = subprocess.run(group.wrap(grab), capture_output=True, text=True, timeout=60)
    free = subprocess.run(grab, capture_output=True, text=True, timeout=60)
    assert free.stdout.strip() == "survived"
    assert limited.returncode != 0 and "survived" not in limited.stdout


def test_add_moves_a_process_and_its_existing_children_and_remove_kills_them(mechanism) -> None:
    tree = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        time.sleep(0.2)
        pids = [tree.pid] + [c.pid for c in psutil.Process(tree.pid).children(recursive=True)]
        assert len(pids) == 3
        group = LimitGroup(mechanism, "test-move", Limits(cpus=0.5)).create()
        group.add(tree.pid)
        assert set(pids) <= set(group.members())
        group.remove()
        tree.wait(5)
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
        assert not [g for g in leftover_groups() if group.name in g.name]
    finally:
        if tree.poll() is None:
            tree.kill()
            tree.wait()
