"""What an AWS run will create and what it will cost, before anything exists.

Planning reads only the configurations and the dated price catalogue (``fixtures/instances.toml``), so
it needs no credentials.  Each configuration's time follows what the provider does: environment creation
(or, when one session's environment moves to it, an update of the fleet), and for every load run the run
itself, the wait for CloudWatch to publish the run's last minutes and, before every run but the session's
first, the data reset (the seeded snapshot restored into a new database the environment is pointed at),
then teardown.  One session runs the replicates interleaved (A B C D A B C D ...), so with several
configurations the environment moves to each configuration once per replicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scaleperf import profiles
from scaleperf.configs import Catalogue, InstanceType, ScalingConfig
from scaleperf.errors import ScaleperfError

CREATE_MINUTES = 25.0  # estimate: first environment + RDS instance + snapshot of the seeded data
REUSE_MINUTES = 15.0  # estimate: update_environment to another fleet (a DB class change comes with the data reset)
RESET_MINUTES = 15.0  # estimate, per load run after the first: restore the seeded snapshot (5-20 min), repoint the app
CLOUDWATCH_WAIT_MINUTES = 3.0  # per load run: at most this long waiting for CloudWatch to publish its last minutes
TEARDOWN_MINUTES = 10.0  # estimate: terminating the environment and deleting the database
RUN_OVERHEAD_MINUTES = 1.0  # per load run: starting the runner and its workers, writing the results
ENGINES = ("mysql", "postgres")
APP_ENGINES = {"reference": ("postgres",), "rails": ENGINES}  # engines each kind of app can use


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
    notes: tuple[str, ...] = ()  # how the hours were estimated

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
        out += [f"  {note}" for note in self.notes]
        out.append(f"  estimated total: {self.total_usd:.2f} USD")
        return out


def profile_minutes(name: str, path: Path | None = None) -> float:
    """Minutes one load run of profile ``name`` takes: its phases in ``fixtures/profiles.toml``, plus overhead."""
    return profiles.load_profile(name, path).duration_s / 60 + RUN_OVERHEAD_MINUTES


def check_engine(engine: str, kind: str) -> None:
    """Refuse a database engine the app cannot use (``kind``: "reference" or "rails", a user's own app)."""
    if engine not in ENGINES:
        raise ScaleperfError(f"database engine {engine!r} not supported; use one of {', '.join(ENGINES)}")
    if engine not in APP_ENGINES[kind]:
        raise ScaleperfError(
            f"database engine {engine} does not suit the reference backend: it runs on PostgreSQL only and could not use "
            f"the {engine}:// DATABASE_URL it would be given. Leave SCALEPERF_AWS_ENGINE unset (or set it to postgres), "
            "or deploy your own app with SCALEPERF_AWS_APP (--app for `scaleperf aws plan`). Nothing was created."
        )


def _same_fleet(a: ScalingConfig, b: ScalingConfig) -> bool:
    """Whether moving the environment from ``a`` to ``b`` leaves its fleet as it is (no update_environment)."""
    return (a.app_type.name, a.app_instances) == (b.app_type.name, b.app_instances)


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


@dataclass(frozen=True)
class Steps:
    """What the provider does for one configuration over a whole run, step by step."""

    creates: int  # environment + database created for it
    moves: int  # update_environment to its fleet, from another configuration's
    resets: int  # data resets before its runs (the seeded snapshot restored, the environment pointed at it)
    runs: int  # load runs, each followed by the wait for CloudWatch

    def minutes(self, run_minutes: float) -> float:
        return (
            self.creates * CREATE_MINUTES
            + self.moves * REUSE_MINUTES
            + self.resets * RESET_MINUTES
            + self.runs * (run_minutes + CLOUDWATCH_WAIT_MINUTES)
        )


def steps(configs: list[ScalingConfig], *, replicates: int, parallel: bool) -> list[Steps]:
    """The provider's steps per configuration, as the campaign drives it.

    In parallel (pytest -n) each configuration has its own environment and runs its replicates in a row: one
    creation, then a data reset before every run but the first.  One after another, one environment serves
    them all, replicate by replicate (A B C A B C ...): the first configuration's first run follows the
    creation; every other run follows a move to its configuration (an update only when the fleet changes: a
    new database class comes with the restore) and a data reset, because a load ran since the last one."""
    if parallel:
        return [Steps(creates=1, moves=0, resets=replicates - 1, runs=replicates) for _ in configs]
    out = []
    for i, config in enumerate(configs):
        updates = 0 if _same_fleet(configs[i - 1], config) else 1  # configs[-1] precedes the first in later replicates
        arrivals = replicates - 1 if i == 0 else replicates  # times the environment moves to this configuration
        out.append(Steps(creates=int(i == 0), moves=updates * arrivals, resets=arrivals, runs=replicates))
    return out


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
    for config, todo in zip(configs, steps(configs, replicates=replicates, parallel=parallel), strict=True):
        hours = (todo.minutes(run_minutes) + TEARDOWN_MINUTES) / 60
        plans.append(
            plan_config(config, catalogue, engine=engine, hours=hours, loadgen_workers=loadgen_workers, loadgen_type=loadgen_type)
        )
    notes = (
        f"each load run: {run_minutes:.1f} min, then up to {CLOUDWATCH_WAIT_MINUTES:.0f} min for CloudWatch to publish its "
        f"last minutes; every run after a session's first starts with a data reset (about {RESET_MINUTES:.0f} min: the "
        "seeded snapshot restored into a new database)",
    )
    return Plan(
        region=region or catalogue.region,
        prices_as_of=catalogue.prices_as_of,
        engine=engine,
        parallel=parallel,
        configs=tuple(plans),
        notes=notes,
    )


def check_budget(plan: Plan, max_cost: float | None) -> None:
    """Refuse a plan whose estimated total is above ``max_cost`` (USD)."""
    if max_cost is not None and plan.total_usd > max_cost:
        raise ScaleperfError(
            f"the plan is estimated at {plan.total_usd:.2f} USD, above --max-cost {max_cost:.2f}; test fewer configurations, "
            "use a smaller --profile or fewer --replicates, or raise --max-cost. Nothing was created."
        )
