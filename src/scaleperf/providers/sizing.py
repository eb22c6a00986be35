"""Sizing the miniature: cores per emulated vCPU, and each app instance's share (workers, pool, CPU, memory)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError

GENERATOR_RESERVE_CORES = 0.6  # cores left to the load generator, HAProxy and this process (generator stays < 70 %)
SCALE_DIGITS = 4  # the scale is rounded so that it prints and compares the same on every run
APP_WORKERS_PER_VCPU = 1  # server processes per vCPU, as Puma's WEB_CONCURRENCY = vCPUs in Rails deployments
APP_POOL_PER_WORKER = 5  # connections per worker: Rails' database.yml default pool (RAILS_MAX_THREADS = 5)


def machine_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def derive_scale(configs: dict[str, ScalingConfig], cores: float, reserve: float = GENERATOR_RESERVE_CORES) -> float:
    """Cores per emulated vCPU: the largest configuration (all tiers) must fit in ``cores - reserve``."""
    if not configs:
        raise ScaleperfError("no scaling configurations to size the miniature from; check fixtures/configs.toml")
    largest = max(c.total_vcpus for c in configs.values())
    budget = cores - reserve
    if budget <= 0:
        raise ScaleperfError(
            f"this machine has {cores} cores, not more than the {reserve} reserved for the load generator; "
            "run on a bigger machine or pass an explicit scale"
        )
    return round(budget / largest, SCALE_DIGITS)


@dataclass(frozen=True)
class InstancePlan:
    """One app instance's share of the miniature."""

    name: str  # "app-1"
    cpus: float
    memory_bytes: int
    workers: int
    pool_size: int


def plan_instances(config: ScalingConfig, scale: float) -> list[InstancePlan]:
    workers = max(1, config.app_type.vcpus * APP_WORKERS_PER_VCPU)
    return [
        InstancePlan(
            name=f"app-{i + 1}",
            cpus=config.app_type.vcpus * scale,
            memory_bytes=config.app_type.memory_mib * 2**20,
            workers=workers,
            pool_size=APP_POOL_PER_WORKER,
        )
        for i in range(config.app_instances)
    ]
