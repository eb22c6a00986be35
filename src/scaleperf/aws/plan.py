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

from dataclasses import dataclass, replace
from pathlib import Path

from scaleperf import profiles
from scaleperf.aws import preflight as preflight_checks
from scaleperf.configs import Catalogue, InstanceType, ScalingConfig
from scaleperf.errors import ScaleperfError

CREATE_MINUTES = 25.0  # estimate: first environment + RDS instance + snapshot of the seeded data
REUSE_MINUTES = 15.0  # estimate: update_environment to another fleet (a DB class change comes with the data reset)
RESET_MINUTES = 15.0  # estimate, per load run after the first: restore the seeded snapshot (5-20 min), repoint the app
CLOUDWATCH_WAIT_MINUTES = 3.0  # per load run: at most this long waiting for CloudWatch to publish its last minutes
TEARDOWN_MINUTES = 10.0  # estimate: terminating the environment and deleting the database
RUN_OVERHEAD_MINUTES = 1.0  # per load run: starting the runner and its workers, writing the results
PUBLIC_IPV4_HOURLY_USD = 0.005  # AWS's charge per public IPv4 address (in use or not) since February 2024
ALB_ADDRESSES = 2  # the application load balancer's public addresses: one per availability zone, two zones
ENGINES = ("mysql", "postgres")
SHAPES = {False: "single", True: "balanced"}  # config.load_balanced -> its environment's shape
PREFLIGHT = preflight_checks.CHECKS + preflight_checks.AT_CREATION  # listed by the plan
APP_ENGINES = {"reference": ("postgres",), "rails": ENGINES}  # engines each kind of app can use


@dataclass(frozen=True)
class ConfigPlan:
    """One configuration: what it creates, its hourly price and how long it is expected to run."""

    config: str
    creates: tuple[str, ...]
    hourly_usd: float
    hours: float
    extra_usd: float = 0.0  # charges not by the configuration's hour: the second database during data resets
    extras: tuple[str, ...] = ()  # what extra_usd is

    @property
    def cost_usd(self) -> float:
        return self.hourly_usd * self.hours + self.extra_usd


@dataclass(frozen=True)
class Plan:
    region: str
    prices_as_of: str
    engine: str
    parallel: bool  # configurations provision at the same time (pytest -n)
    configs: tuple[ConfigPlan, ...]
    notes: tuple[str, ...] = ()  # how the hours were estimated
    session_costs: tuple[tuple[str, float], ...] = ()  # (what, USD) for the whole session, beyond the configurations
    preflight: tuple[str, ...] = PREFLIGHT
    idle_hourly_usd: float = 0.0  # at most, the other shape's environment kept up alongside the one in use

    @property
    def total_usd(self) -> float:
        return sum(c.cost_usd for c in self.configs) + sum(usd for _, usd in self.session_costs)

    @property
    def peak_hourly_usd(self) -> float:
        """What the run costs per hour at its most expensive moment."""
        hourly = [c.hourly_usd for c in self.configs]
        return sum(hourly) if self.parallel else max(hourly, default=0.0) + self.idle_hourly_usd

    def lines(self) -> list[str]:
        out = [f"AWS plan ({self.region}, on-demand prices as of {self.prices_as_of}; estimates, not a bill):"]
        for c in self.configs:
            out.append(f"  {c.config}: {c.hourly_usd:.3f} USD/h x {c.hours:.2f} h = {c.cost_usd:.2f} USD")
            out += [f"    - {item}" for item in c.creates]
            out += [f"    + {item}" for item in c.extras]
        for what, usd in self.session_costs:
            out.append(f"  + {what}: {usd:.2f} USD")
        mode = "in parallel" if self.parallel else "one after another"
        out.append(f"  configurations run {mode}; at most {self.peak_hourly_usd:.3f} USD/h")
        out += [f"  {note}" for note in self.notes]
        out.append(f"  estimated total: {self.total_usd:.2f} USD")
        out.append("  read-only preflight checks, made before anything exists (`scaleperf aws plan --check` runs them alone):")
        out += [f"    * {check}" for check in self.preflight]
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


def public_addresses(config: ScalingConfig) -> int:
    """Public IPv4 addresses of a configuration's environment: the single instance's Elastic IP, or one per
    instance plus the load balancer's (one per availability zone)."""
    return config.app_instances + ALB_ADDRESSES if config.load_balanced else 1


def env_hourly(config: ScalingConfig, catalogue: Catalogue) -> float:
    """What the environment of ``config`` costs per hour: instances, public addresses, load balancer."""
    hourly = config.app_type.hourly_usd * config.app_instances + public_addresses(config) * PUBLIC_IPV4_HOURLY_USD
    if config.load_balanced:
        hourly += catalogue.alb_hourly_usd + catalogue.alb_lcu_hourly_usd
    return hourly


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
    hourly = env_hourly(config, catalogue) + config.db_class.price(engine)
    addresses = public_addresses(config)
    if loadgen_workers:
        lg = _ec2(catalogue, loadgen_type or "")
        creates.append(f"{loadgen_workers} x {lg.name} EC2 Locust workers (load generators)")
        hourly += (lg.hourly_usd + PUBLIC_IPV4_HOURLY_USD) * loadgen_workers
        addresses += loadgen_workers
    creates.append(
        f"{addresses} public IPv4 address(es) at {PUBLIC_IPV4_HOURLY_USD} USD/h each ("
        + ("one per instance and two for the load balancer" if config.load_balanced else "the instance's Elastic IP")
        + (", one per load generator" if loadgen_workers else "")
        + ")"
    )
    creates.append("security groups, an S3 source bundle and a DB snapshot (all tagged with the run id)")
    return ConfigPlan(config=config.name, creates=tuple(creates), hourly_usd=hourly, hours=hours)


@dataclass(frozen=True)
class Steps:
    """What the provider does for one configuration over a whole run, step by step."""

    creates: int  # environment (+ the database, for the session's first) created for it
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
    creation, then a data reset before every run but the first.  One after another, the session keeps one
    environment per shape (single instance, load balanced), created for the first configuration of that shape,
    and visits the configurations replicate by replicate (A B C A B C ...): every run but the session's first
    follows a data reset (a load ran since the last one), and an arrival on an environment whose fleet is not
    the configuration's follows an update (a new database class alone comes with the restore)."""
    if parallel:
        return [Steps(creates=1, moves=0, resets=replicates - 1, runs=replicates) for _ in configs]
    out = []
    for i, config in enumerate(configs):
        same = [j for j, c in enumerate(configs) if c.load_balanced == config.load_balanced]
        first_of_shape = same[0] == i
        before = [j for j in same if j < i]
        # The configuration its environment ran before it: earlier in the list, or (in later replicates) the last of its shape.
        previous_in_first = configs[before[-1]] if before else None
        previous_later = configs[same[-1]] if same[-1] != i or len(same) == 1 else configs[same[-2]]
        updates = 0 if previous_in_first is None or _same_fleet(previous_in_first, config) else 1
        updates += (replicates - 1) * (0 if _same_fleet(previous_later, config) else 1)
        arrivals = replicates - 1 if i == 0 else replicates  # runs that start with a data reset
        out.append(Steps(creates=int(first_of_shape), moves=updates, resets=arrivals, runs=replicates))
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
        p = plan_config(config, catalogue, engine=engine, hours=hours, loadgen_workers=loadgen_workers, loadgen_type=loadgen_type)
        second = todo.resets * RESET_MINUTES / 60 * config.db_class.price(engine)  # old and new database side by side
        if second:
            what = f"second database during {todo.resets} data reset(s), about {RESET_MINUTES:.0f} min each: {second:.2f} USD"
            p = replace(p, extra_usd=second, extras=(what,))
        plans.append(p)
    session_costs = _session_costs(configs, plans, catalogue, parallel, loadgen_workers, loadgen_type)
    two_shapes = not parallel and len({c.load_balanced for c in configs}) > 1
    idle_hourly = max(env_hourly(c, catalogue) for c in configs) if two_shapes else 0.0
    notes = (
        f"each load run: {run_minutes:.1f} min, then up to {CLOUDWATCH_WAIT_MINUTES:.0f} min for CloudWatch to publish its "
        f"last minutes; every run after a session's first starts with a data reset (about {RESET_MINUTES:.0f} min: the "
        "seeded snapshot restored into a new database)",
    )
    if two_shapes:
        notes += (
            "one environment per shape: the single-instance and the load-balanced configurations each get their own "
            "(the shape and the load balancer type can only be chosen at creation), created when first needed and "
            "kept until the session ends; within a shape the fleet is updated in place",
        )
    return Plan(
        region=region or catalogue.region,
        prices_as_of=catalogue.prices_as_of,
        engine=engine,
        parallel=parallel,
        configs=tuple(plans),
        notes=notes,
        session_costs=session_costs,
        idle_hourly_usd=idle_hourly,
    )


def _session_costs(
    configs: list[ScalingConfig],
    plans: list[ConfigPlan],
    catalogue: Catalogue,
    parallel: bool,
    loadgen_workers: int,
    loadgen_type: str | None,
) -> tuple[tuple[str, float], ...]:
    out = []
    hours = sum(p.hours for p in plans) if not parallel else max((p.hours for p in plans), default=0.0)
    shapes = {c.load_balanced for c in configs}
    if not parallel and len(shapes) > 1:
        # Each shape's environment stays up while the other shape's configurations run (an upper bound: it
        # is counted from the session's start, though created when first needed).
        idle = 0.0
        for config, p in zip(configs, plans, strict=True):
            others = [c for c in configs if c.load_balanced != config.load_balanced]
            idle += p.hours * max(env_hourly(c, catalogue) for c in others)
        out.append(("the other shape's environment, kept up while idle (one environment per shape)", idle))
    if loadgen_workers:
        suite = _ec2(catalogue, loadgen_type or "")
        usd = hours * (suite.hourly_usd + PUBLIC_IPV4_HOURLY_USD)
        out.append((f"the EC2 instance running the suite (assumed {suite.name}, with its public IPv4), {hours:.2f} h", usd))
    return tuple(out)


def check_budget(plan: Plan, max_cost: float | None) -> None:
    """Refuse a plan whose estimated total is above ``max_cost`` (USD)."""
    if max_cost is not None and plan.total_usd > max_cost:
        raise ScaleperfError(
            f"the plan is estimated at {plan.total_usd:.2f} USD, above --max-cost {max_cost:.2f}; test fewer configurations, "
            "use a smaller --profile or fewer --replicates, or raise --max-cost. Nothing was created."
        )
