"""CPU and memory limits for a process tree, through whatever this machine allows.

Mechanisms, tried in this order by :func:`~scaleperf.providers.mechanism.detect`:

* ``cgroup2``: a cgroup under the unified hierarchy with ``cpu.max`` and ``memory.max`` (root, or a
  delegated subtree on a systemd host).
* ``cgroup1``: a group in each of the v1 ``cpu`` (CFS quota), ``cpuacct`` (usage accounting) and
  ``memory`` hierarchies (root on a v1 or hybrid host).
* ``systemd-run``: ``systemd-run --user --scope -p CPUQuota= -p MemoryMax=`` around the command
  (an unprivileged user on a systemd host whose user manager delegates the cpu controller).
* ``none``: no limits at all; a loud warning is logged, and :attr:`Mechanism.warning` says so for the report.

A :class:`LimitGroup` is created per component (one app instance, the database), a process is put
in it either at launch (:meth:`LimitGroup.wrap` prefixes the command) or afterwards together with its
existing children (:meth:`LimitGroup.add`), and :meth:`LimitGroup.remove` kills what is left in it
and deletes it.  Children forked later inherit the group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from scaleperf.providers.mechanism import (  # noqa: F401  (detect and Mechanism are named from here too)
    CGROUP_ROOT,
    GROUP_PREFIX,
    NO_LIMITS_WARNING,
    Mechanism,
    _v1_dirs,
    _v2_mount,
    detect,
)

log = logging.getLogger(__name__)

DEFAULT_CFS_PERIOD_US = 20_000  # CFS period chosen by benchmarks/bench_cfs_period.py (docs/local-miniature.md)
MIN_QUOTA_US = 1_000  # the kernel refuses CFS quotas below 1 ms
REMOVE_TIMEOUT_S = 5.0  # how long remove() waits for a group's processes to die before giving up


@dataclass(frozen=True)
class Limits:
    """What one component may use: ``cpus`` cores (fractional; None = unlimited) and ``memory_bytes``."""

    cpus: float | None
    memory_bytes: int | None = None

    def quota_us(self, period_us: int) -> int | None:
        if self.cpus is None:
            return None
        return max(MIN_QUOTA_US, round(self.cpus * period_us))


@dataclass(frozen=True)
class Usage:
    """Cumulative counters of one group at one instant (NaN-free: None where unknown)."""

    cpu_ns: int | None  # CPU time used by every process in the group
    periods: int | None  # CFS periods that had runnable work
    throttled_periods: int | None  # of those, periods in which the group hit its quota
    throttled_ns: int | None
    memory_bytes: int | None


class LimitGroup:
    """One component's limits: a cgroup (v1 or v2), a systemd scope, or nothing."""

    def __init__(self, mechanism: Mechanism, component: str, limits: Limits, period_us: int = DEFAULT_CFS_PERIOD_US) -> None:
        self.mechanism = mechanism
        self.component = component
        self.limits = limits
        self.period_us = period_us
        self.name = f"{GROUP_PREFIX}-{os.getpid()}-{component}"
        self.dirs: dict[str, Path] = {}  # controller -> group folder ("v2" for the unified one)
        self.pids: list[int] = []  # processes placed in the group (the systemd-run and none cases track these)
        self.created = False

    # -- lifecycle ------------------------------------------------------------------------------
    def create(self, *, cpu_unlimited_at_first: bool = False) -> LimitGroup:
        """Make the group.  ``cpu_unlimited_at_first``: hold the CPU quota back until :meth:`enforce`
        (a server's start-up imports are not part of what is measured, and start in a fraction of the time)."""
        kind = self.mechanism.name
        quota = None if cpu_unlimited_at_first else self.limits.quota_us(self.period_us)
        mem = self.limits.memory_bytes
        if kind == "cgroup1":
            self.dirs = {c: d / self.name for c, d in _v1_dirs().items()}
            for d in self.dirs.values():
                d.mkdir()
            self.created = True
            cpu = self.dirs["cpu"]
            (cpu / "cpu.cfs_period_us").write_text(str(self.period_us))
            (cpu / "cpu.cfs_quota_us").write_text(str(quota if quota is not None else -1))
            if mem is not None:
                (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(mem))
        elif kind == "cgroup2":
            group = Path(self.mechanism.root) / self.name
            group.mkdir()
            self.dirs = {"v2": group}
            self.created = True
            (group / "cpu.max").write_text(f"{quota if quota is not None else 'max'} {self.period_us}")
            if mem is not None:
                (group / "memory.max").write_text(str(mem))
                with contextlib.suppress(OSError):
                    (group / "memory.swap.max").write_text("0")
        log.debug("limit group %s: %s", self.name, self.describe())
        return self

    def enforce(self) -> None:
        """Apply the CPU quota (after a ``create(cpu_unlimited_at_first=True)``)."""
        quota = self.limits.quota_us(self.period_us)
        if quota is None or not self.dirs:
            return
        if self.mechanism.name == "cgroup1":
            (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
        elif self.mechanism.name == "cgroup2":
            (self.dirs["v2"] / "cpu.max").write_text(f"{quota} {self.period_us}")

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` rewritten so that the process starts inside the group (no race with its children)."""
        if self.mechanism.name == "systemd-run":
            props = []
            if self.limits.cpus is not None:
                props += ["-p", f"CPUQuota={self.limits.cpus * 100:.1f}%", "-p", f"CPUQuotaPeriodSec={self.period_us}us"]
            if self.limits.memory_bytes is not None:
                props += ["-p", f"MemoryMax={self.limits.memory_bytes}"]
            return ["systemd-run", "--user", "--scope", "--quiet", f"--unit={self.name}", *props, "--", *cmd]
        if not self.dirs:
            return cmd
        # A tiny shell joins every hierarchy's group, then becomes the command (same pid).
        enter = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
        return ["sh", "-c", enter, "sh", *[str(d / "cgroup.procs") for d in self.dirs.values()], "--", *cmd]

    def add(self, pid: int) -> None:
        """Move ``pid`` and its existing children into the group (children forked later inherit it)."""
        self.pids.append(pid)
        if not self.dirs:
            return
        try:
            tree = [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for member in tree:  # the parent first: whatever it forks from now on lands in the group
            for d in self.dirs.values():
                with contextlib.suppress(ProcessLookupError, OSError):
                    (d / "cgroup.procs").write_text(str(member))

    def track(self, pid: int) -> None:
        """Remember a process started with :meth:`wrap` (for accounting without cgroups)."""
        self.pids.append(pid)

    def members(self) -> list[int]:
        """Pids currently in the group (for ``none``/``systemd-run``: the tracked trees)."""
        if self.dirs:
            found: set[int] = set()
            for d in self.dirs.values():
                with contextlib.suppress(OSError):
                    found.update(int(x) for x in (d / "cgroup.procs").read_text().split())
            return sorted(found)
        out: list[int] = []
        for pid in self.pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                p = psutil.Process(pid)
                out += [p.pid] + [c.pid for c in p.children(recursive=True)]
        return out

    def remove(self) -> None:
        """Kill whatever still runs in the group and delete the group (idempotent)."""
        if not self.created:
            return
        deadline = time.monotonic() + REMOVE_TIMEOUT_S
        while True:
            left = self.members()
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                log.warning("limit group %s still holds pids %s; leaving it", self.name, left)
                return
            time.sleep(0.02)
        for d in self.dirs.values():
            for _ in range(50):  # rmdir fails with EBUSY for a moment after the last process exits
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
            else:
                log.warning("could not remove cgroup %s", d)
        self.created = False

    def __enter__(self) -> LimitGroup:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- accounting -----------------------------------------------------------------------------
    def usage(self) -> Usage:
        """Cumulative CPU, throttling and memory of the group right now."""
        if self.mechanism.name == "cgroup1":
            stat = _read_kv(self.dirs["cpu"] / "cpu.stat")
            return Usage(
                cpu_ns=_read_int(self.dirs["cpuacct"] / "cpuacct.usage"),
                periods=stat.get("nr_periods"),
                throttled_periods=stat.get("nr_throttled"),
                throttled_ns=stat.get("throttled_time"),
                memory_bytes=_read_int(self.dirs["memory"] / "memory.usage_in_bytes"),
            )
        if self.mechanism.name == "cgroup2":
            group = self.dirs["v2"]
            stat = _read_kv(group / "cpu.stat")
            usec, throttled = stat.get("usage_usec"), stat.get("throttled_usec")
            return Usage(
                cpu_ns=usec * 1000 if usec is not None else None,
                periods=stat.get("nr_periods"),
                throttled_periods=stat.get("nr_throttled"),
                throttled_ns=throttled * 1000 if throttled is not None else None,
                memory_bytes=_read_int(group / "memory.current"),
            )
        return process_usage(self.members())

    def describe(self) -> dict:
        return {
            "mechanism": self.mechanism.name,
            "group": self.name if self.mechanism.limits else None,
            "cpus": self.limits.cpus,
            "cfs_period_us": self.period_us if self.mechanism.limits else None,
            "cfs_quota_us": self.limits.quota_us(self.period_us) if self.mechanism.limits else None,
            "memory_bytes": self.limits.memory_bytes,
        }


def process_usage(pids: list[int]) -> Usage:
    """CPU and memory summed over processes (without cgroup accounting; no throttling known)."""
    cpu = 0.0
    rss = 0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            p = psutil.Process(pid)
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
    return Usage(cpu_ns=int(cpu * 1e9), periods=None, throttled_periods=None, throttled_ns=None, memory_bytes=rss)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_kv(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                out[key] = int(value)
    except OSError:
        pass
    return out


def reap_orphan_groups() -> int:
    """Remove groups left by scaleperf processes that died without cleaning up (killing what runs in them)."""
    reaped = 0
    for path in leftover_groups():
        parts = path.name.split("-")
        try:
            owner = int(parts[1])
        except (IndexError, ValueError):
            continue
        if psutil.pid_exists(owner):
            continue
        with contextlib.suppress(OSError, ValueError):
            for pid in (path / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGKILL)
        for _ in range(50):
            try:
                path.rmdir()
                reaped += 1
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)
    if reaped:
        log.warning("removed %d cgroups left behind by scaleperf processes that died", reaped)
    return reaped


def leftover_groups() -> list[Path]:
    """Groups named by this module that still exist (any process's): for tests and clean-up checks."""
    found: list[Path] = []
    roots = list(_v1_dirs().values())
    mount = _v2_mount()
    if mount is not None:
        roots.append(mount)
    for root in roots:
        with contextlib.suppress(OSError):
            found += [p for p in root.glob(f"{GROUP_PREFIX}-*") if p.is_dir()]
    return found
