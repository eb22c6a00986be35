"""What an AWS run will create and what it will cost, before anything exists.

Planning reads only the configurations and the dated price catalogue (``fixtures/instances.toml``), so
it needs no credentials.  Each configuration's time is estimated as environment creation (or an update
when the previous configuration's environment is reused), the load runs, and teardown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scaleperf import profiles
from scaleperf.configs import Catalogue, InstanceType, ScalingConfig
from scaleperf.errors import ScaleperfError

CREATE_MINUTES = 25.0  # estimate: first environment + RDS instance + snapshot of the seeded data
REUSE_MINUTES = 15.0  # estimate: update_environment, a DB class change and a snapshot restore
TEARDOWN_MINUTES = 10.0  # estimate: terminating the environment and deleting the database
RUN_OVERHEAD_MINUTES = 1.0  # per load run: starting the runner, the data reset check, reading telemetry
ENGINES = ("mysql", "postgres")


@dataclass(frozen=True)
class ConfigPlan:
    """One configuration: what it creates, its hourly price and how long it is expected to run."""

    config: str
    creates: tuple[str, ...]
    hourly_usd: float
    hours: float

    @property
    def cost_usd(self) -> float:
        return self.hourly_usd * self.hours


@dataclass(frozen=True)
class Plan:
    region: str
    prices_as_of: str
    engine: str
    parallel: bool  # configurations provision at the same time (pytest -n)
    configs: tuple[ConfigPlan, ...]

    @property
    def total_usd(self) -> float:
        return sum(c.cost_usd for c in self.configs)

    @property
    def peak_hourly_usd(self) -> float:
        """What the run costs per hour at its most expensive moment."""
        hourly = [c.hourly_usd for c in self.configs]
        return sum(hourly) if self.parallel else max(hourly, default=0.0)

    def lines(self) -> list[str]:
        out = [f"AWS plan ({self.region}, on-demand prices as of {self.prices_as_of}; estimates, not a bill):"]
        for c in self.configs:
            out.append(f"  {c.config}: {c.hourly_usd:.3f} USD/h x {c.hours:.2f} h = {c.cost_usd:.2f} USD")
            out += [f"    - {item}" for item in c.creates]
        mode = "in parallel" if self.parallel else "one after another"
        out.append(f"  configurations run {mode}; at most {self.peak_hourly_usd:.3f} USD/h")
        out.append(f"  estimated total: {self.total_usd:.2f} USD")
        return out


def profile_minutes(name: str, path: Path | None = None) -> float:
    """Minutes one load run of profile ``name`` takes: its phases in ``fixtures/profiles.toml``, plus overhead."""
    return profiles.load_profile(name, path).duration_s / 60 + RUN_OVERHEAD_MINUTES


def _ec2(catalogue: Catalogue, name: str) -> InstanceType:
    if name not in catalogue.ec2:
        raise ScaleperfError(
            f"instance type {name!r} is not in fixtures/instances.toml [ec2]; add it with its price, "
            f"or choose one of {', '.join(catalogue.ec2)}"
        )
    return catalogue.ec2[name]


def plan_config(
    config: ScalingConfig,
    catalogue: Catalogue,
    *,
    engine: str,
    hours: float,
    loadgen_workers: int = 0,
    loadgen_type: str | None = None,
) -> ConfigPlan:
    if engine not in ENGINES:
        raise ScaleperfError(f"database engine {engine!r} not supported; use one of {', '.join(ENGINES)}")
    app = config.app_type
    db = config.db_class
    shape = "load balanced (application load balancer)" if config.load_balanced else "single instance"
    creates = [
        f"Elastic Beanstalk environment: {config.app_instances} x {app.name} "
        f"({app.vcpus} vCPU, {app.memory_gib:g} GiB, {app.arch}), {shape}",
        f"RDS {engine} instance {db.name} ({db.vcpus} vCPU, {db.memory_gib:g} GiB), 20 GiB gp3",
    ]
    hourly = app.hourly_usd * config.app_instances + config.db_class.price(engine)
    if config.load_balanced:
        hourly += catalogue.alb_hourly_usd + catalogue.alb_lcu_hourly_usd
    if loadgen_workers:
        lg = _ec2(catalogue, loadgen_type or "")
        creates.append(f"{loadgen_workers} x {lg.name} EC2 Locust workers (load generators)")
        hourly += lg.hourly_usd * loadgen_workers
    creates.append("security groups, an S3 source bundle and a DB snapshot (all tagged with the run id)")
    return ConfigPlan(config=config.name, creates=tuple(creates), hourly_usd=hourly, hours=hours)


def make_plan(
    configs: list[ScalingConfig],
    catalogue: Catalogue,
    *,
    engine: str,
    profile: str = "smoke",
    replicates: int = 1,
    run_minutes: float | None = None,
    parallel: bool = False,
    loadgen_workers: int = 0,
    loadgen_type: str | None = None,
    region: str | None = None,
) -> Plan:
    """The plan for running ``configs``; ``run_minutes`` overrides the per-profile estimate of one load run."""
    if run_minutes is None:
        run_minutes = profile_minutes(profile)
    plans = []
    for i, config in enumerate(configs):
        setup = CREATE_MINUTES if (parallel or i == 0) else REUSE_MINUTES
        hours = (setup + replicates * run_minutes + TEARDOWN_MINUTES) / 60
        plans.append(
            plan_config(config, catalogue, engine=engine, hours=hours, loadgen_workers=loadgen_workers, loadgen_type=loadgen_type)
        )
    return Plan(
        region=region or catalogue.region,
        prices_as_of=catalogue.prices_as_of,
        engine=engine,
        parallel=parallel,
        configs=tuple(plans),
    )


def check_budget(plan: Plan, max_cost: float | None) -> None:
    """Refuse a plan whose estimated total is above ``max_cost`` (USD)."""
    if max_cost is not None and plan.total_usd > max_cost:
        raise ScaleperfError(
            f"the plan is estimated at {plan.total_usd:.2f} USD, above --max-cost {max_cost:.2f}; test fewer configurations, "
            "use a smaller --profile or fewer --replicates, or raise --max-cost. Nothing was created."
        )
