"""Which mechanism this machine offers for CPU and memory limits, and the folders it works in.

:func:`detect` tries, in order: ``cgroup2`` (a writable unified hierarchy, as root or a delegated subtree),
``cgroup1`` (the v1 ``cpu``, ``cpuacct`` and ``memory`` hierarchies, as root), ``systemd-run`` (a user scope
whose manager delegates the cpu controller), and falls back on ``none`` with a loud warning. The groups
themselves are :mod:`scaleperf.providers.limits`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")  # where cgroup hierarchies are mounted on Linux
GROUP_PREFIX = "scaleperf"  # every group scaleperf creates is named scaleperf-<pid>-<component>
SYSTEMD_PROBE_TIMEOUT_S = 5.0  # how long the systemd-run probe may take
NO_LIMITS_WARNING = (
    "NO CPU/MEMORY LIMITS: this machine offers neither a writable cgroup (v1 or v2) nor a delegated "
    "systemd user scope, so every tier of the miniature competes for all cores and the configurations' "
    "numbers are NOT proportional to their AWS sizes. Run as root, or on a systemd host with cgroup v2 delegation."
)


@dataclass(frozen=True)
class Mechanism:
    """How limits are applied on this machine (recorded with every run)."""

    name: str  # "cgroup2" | "cgroup1" | "systemd-run" | "none"
    root: str = ""  # the parent folder groups are made in (cgroup2), or "" elsewhere
    detail: str = ""  # one line: why this one

    @property
    def limits(self) -> bool:
        return self.name != "none"

    @property
    def warning(self) -> str:
        return "" if self.limits else NO_LIMITS_WARNING


def _v1_dirs() -> dict[str, Path]:
    return {c: CGROUP_ROOT / c for c in ("cpu", "cpuacct", "memory")}


def _own_v2_path() -> Path | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return Path(line[3:])
    except OSError:
        return None
    return None


def _v2_mount() -> Path | None:
    for candidate in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        if (candidate / "cgroup.controllers").exists():
            return candidate
    return None


def _try_mkdir(parent: Path) -> bool:
    probe = parent / f"{GROUP_PREFIX}-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


def _detect_cgroup2() -> Mechanism | None:
    mount = _v2_mount()
    if mount is None:
        return None
    controllers = set((mount / "cgroup.controllers").read_text().split())
    if not {"cpu", "memory"} <= controllers:
        return None
    # As root, make groups right under the mount; otherwise next to our own group (a delegated subtree).
    candidates = [mount] if os.geteuid() == 0 else []
    own = _own_v2_path()
    if own is not None:
        candidates.append(mount / str(own).lstrip("/") / "..")
    for parent in candidates:
        parent = parent.resolve()
        try:
            enabled = set((parent / "cgroup.subtree_control").read_text().split())
        except OSError:
            continue
        if not {"cpu", "memory"} <= enabled:
            try:
                (parent / "cgroup.subtree_control").write_text("+cpu +memory")
            except OSError:
                continue
        if _try_mkdir(parent):
            return Mechanism("cgroup2", str(parent), f"cpu.max/memory.max under {parent}")
    return None


def _detect_cgroup1() -> Mechanism | None:
    dirs = _v1_dirs()
    if not all((d / "cgroup.procs").exists() for d in dirs.values()):
        return None
    if not (dirs["cpu"] / "cpu.cfs_quota_us").exists() or not (dirs["cpuacct"] / "cpuacct.usage").exists():
        return None
    if not all(_try_mkdir(d) for d in dirs.values()):
        return None
    return Mechanism("cgroup1", str(CGROUP_ROOT), "CFS quota in the v1 cpu hierarchy, cpuacct accounting, v1 memory limit")


def _detect_systemd_run() -> Mechanism | None:
    exe = shutil.which("systemd-run")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "--user", "--scope", "--quiet", "-p", "CPUQuota=50%", "true"],
            capture_output=True,
            timeout=SYSTEMD_PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return Mechanism("systemd-run", "", "systemd-run --user --scope with CPUQuota/MemoryMax")


def detect(allowed: tuple[str, ...] = ("cgroup2", "cgroup1", "systemd-run")) -> Mechanism:
    """The first mechanism of ``allowed`` that works here, else ``none`` (logged loudly)."""
    probes = {"cgroup2": _detect_cgroup2, "cgroup1": _detect_cgroup1, "systemd-run": _detect_systemd_run}
    for name in allowed:
        if name not in probes:
            raise ScaleperfError(f"unknown limit mechanism {name!r}; use one of {', '.join(probes)}")
        found = probes[name]()
        if found is not None:
            log.info("CPU/memory limits through %s (%s)", found.name, found.detail)
            return found
    log.warning(NO_LIMITS_WARNING)
    return Mechanism("none", "", "no writable cgroup and no delegated systemd scope")
