"""The AWS provider: each scaling configuration as an Elastic Beanstalk environment with an RDS database.

Order of business, so that a mistake costs nothing: refuse combinations that cannot work (the reference
backend on MySQL, EC2 load generators under pytest -n), plan (what will be created, what it costs; refuse
above ``--max-cost``), check credentials (and, for EC2 load generators, that this machine is an EC2
instance in the region the workers can reach), then create, each step tagged with the run id and recorded in
a :class:`Stack` so that teardown removes exactly what exists, in reverse order, in ``finally``, on
Ctrl-C and on SIGTERM.  Between configurations the environment and the database are reused: the
environment is updated (``update_environment``), the database class is modified in place (or, when the
data must be reset anyway, applied by restoring the seeded snapshot into an instance of the new class), and
every configuration's data comes from the snapshot taken after the first deployment.  After each run,
CloudWatch is read once it has published the run's last minutes, waiting for them at most
``TELEMETRY_WAIT_S``; the deployment's facts (and so the run's metadata) say whether it had to give up.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import math
import os
import secrets
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scaleperf import loadgen as loadgen_spec
from scaleperf.aws import bundle as bundles
from scaleperf.aws import environment as envs
from scaleperf.aws import plan as plans
from scaleperf.aws import redact
from scaleperf.aws.boto import BotoCloud, tags_for, user_errors
from scaleperf.aws.loadgen import BUNDLE_URL_TTL_S, Ec2Workers, hosts_instructions, locate_master
from scaleperf.configs import ScalingConfig, load_catalogue
from scaleperf.errors import ScaleperfError
from scaleperf.providers.base import LoadScale
from scaleperf.results import Telemetry

log = logging.getLogger(__name__)

DB_USER = "scaleperf"  # master user of the RDS instance
DB_NAMES = {"rails": "ebdb", "reference": "helpdesk"}  # database name per app kind (ebdb: Elastic Beanstalk's usual name)
DB_PORTS = {"mysql": 3306, "postgres": 5432}
ENGINES = {"rails": "mysql", "reference": "postgres"}  # default engine per app kind
METRIC_PERIOD_S = 60  # CloudWatch period: detailed monitoring has 1-minute points
WORKER_ENV_PREFIX = "HELPDESK_"  # the locustfile's settings, passed on to EC2 workers as they are set here
DB_CLASS_POLL_S = 30  # seconds between checks that a DB class change has been applied
TELEMETRY_WAIT_S = plans.CLOUDWATCH_WAIT_MINUTES * 60  # wait at most this long for CloudWatch to publish a run's end
TELEMETRY_POLL_S = 30.0  # seconds between CloudWatch reads while waiting
TELEMETRY_SOURCE = f"CloudWatch, {METRIC_PERIOD_S} s periods"


def _xdist_workers() -> int:
    """How many pytest-xdist workers share this session's run (0 when this process is not one of them)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return 0
    try:
        return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", ""))
    except ValueError:
        return 2  # a worker that does not say how many there are: assume it is not alone


def _short(run_id: str) -> str:
    return hashlib.sha256(run_id.encode()).hexdigest()[:8]


@dataclass
class Stack:
    """What one session created, so that teardown removes exactly that (reverse order of creation)."""

    run_id: str
    slot: str
    kind: str = "reference"
    engine: str = "postgres"
    bucket: str | None = None
    key: str | None = None
    application: str | None = None
    env: str | None = None
    cname: str = ""
    groups: list[str] = field(default_factory=list)  # app group, db group
    dbs: list[str] = field(default_factory=list)  # every DB instance made; the last is current
    snapshot: str | None = None
    workers: Ec2Workers | None = None
    config: ScalingConfig | None = None
    properties: dict[str, str] = field(default_factory=dict)
    dirty: bool = False  # a load ran against the current database since it was seeded or restored

    @property
    def tags(self) -> dict[str, str]:
        return tags_for(self.run_id, self.slot)

    @property
    def name(self) -> str:
        return f"sp-{_short(self.run_id)}-{self.slot}"

    def created(self) -> list[str]:
        out = [f"s3://{self.bucket}/{self.key}"] if self.key else []
        out += [f"application {self.application}"] if self.application else []
        out += [f"security group {g}" for g in self.groups]
        out += [f"database {d}" for d in self.dbs]
        out += [f"environment {self.env}"] if self.env else []
        out += [f"snapshot {self.snapshot}"] if self.snapshot else []
        out += [f"worker {i}" for i in (self.workers.instance_ids if self.workers else [])]
        return out


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While creating, SIGTERM interrupts like Ctrl-C, so that teardown runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class AwsDeployment:
    """A running configuration on AWS (satisfies :class:`scaleperf.providers.base.Deployment`)."""

    def __init__(self, provider: AwsProvider, stack: Stack, config: ScalingConfig) -> None:
        self.provider = provider
        self.stack = stack
        self.config = config
        self.base_url = f"http://{stack.cname}"
        self._telemetry_facts: dict = {}

    def describe(self) -> dict:
        """The deployment's facts.  Their ``telemetry`` entry is completed in place when :meth:`telemetry`
        reads CloudWatch after the run, so the facts recorded in a run's metadata say whether CloudWatch had
        published the whole run (each call starts a fresh entry: one per run)."""
        s = self.stack
        self._telemetry_facts = {"source": TELEMETRY_SOURCE, "complete": None}  # None: not read (yet)
        return {
            "provider": "aws",
            "region": self.provider.cloud.region,
            "base_url": self.base_url,
            "environment": s.env,
            "application": s.application,
            "app_kind": s.kind,
            "instance_type": self.config.app_type.name,
            "instances": self.config.app_instances,
            "load_balanced": self.config.load_balanced,
            "database": s.dbs[-1] if s.dbs else None,
            "db_engine": s.engine,
            "db_class": self.config.db_class.name,
            "loadgen_workers": len(s.workers.instance_ids) if s.workers else 0,
            "run_id": s.run_id,
            "telemetry": self._telemetry_facts,
        }

    def reset_data(self) -> None:
        self.provider.reset_data(self.stack)

    def start_telemetry(self) -> None:
        self.stack.dirty = True  # the load about to run changes the data

    def telemetry(self, t0: float, t1: float) -> tuple[Telemetry, ...]:
        series, facts = self.provider.telemetry(self.stack, t0, t1)
        self._telemetry_facts.update(facts)
        return series

    def wait_for_workers(self, joined: Callable[[], int], **kw) -> None:
        """Block until every EC2 worker has joined the master (``joined`` = the master's worker count);
        keyword arguments go to :meth:`scaleperf.aws.loadgen.Ec2Workers.wait_joined`."""
        if self.stack.workers is not None:
            self.stack.workers.wait_joined(joined, say=self.provider.say, **kw)


class AwsProvider:
    """Elastic Beanstalk + RDS deployments through boto3 (or any cloud with the same methods)."""

    name = "aws"

    def __init__(
        self,
        *,
        run_id: str,
        configs: list[ScalingConfig] | None = None,
        cloud_factory: Callable[[], object] = BotoCloud,
        app: Path | None = None,
        engine: str | None = None,
        keep: bool = False,
        loadgen: str | None = None,
        locustfile: Path | None = None,
        max_cost: float | None = None,
        profile: str = "smoke",
        replicates: int = 1,
        say: Callable[[str], None] | None = None,
        waiter: Callable[[object, Callable[[str], None]], envs.Waiter] | None = None,
        locate: Callable[[str], object] = locate_master,
        work_dir: Path | None = None,
        slot: str | None = None,
        reuse: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        telemetry_wait_s: float = TELEMETRY_WAIT_S,
    ) -> None:
        self.run_id = run_id
        self.configs = list(configs or [])
        self.cloud_factory = cloud_factory
        self.app = Path(app) if app else None
        self.kind = "rails" if self.app else "reference"
        self.engine = engine or ENGINES[self.kind]
        self.keep = keep
        self.spec = loadgen_spec.parse(loadgen)
        self.locustfile = Path(locustfile) if locustfile else None
        self.max_cost = max_cost
        self.profile = profile
        self.replicates = replicates
        self.say = say or log.info
        self._make_waiter = waiter or (lambda eb, say: envs.Waiter(eb, say))
        self.locate = locate
        self.work_dir = Path(work_dir) if work_dir else None
        self.slot = slot or os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.reuse = reuse
        self.clock = clock  # for the provider's own waits (DB class changes, CloudWatch), so tests need not wait
        self.sleep = sleep
        self.telemetry_wait_s = telemetry_wait_s
        self._cloud = None
        self._stack: Stack | None = None
        self._master = None  # where this machine is on EC2 (--loadgen ec2:N), found before anything is created
        self._planned = False
        self._atexit = False

    @classmethod
    def from_settings(cls, settings) -> AwsProvider:
        """From the pytest plugin's PerfSettings (``SCALEPERF_AWS_APP`` / ``SCALEPERF_AWS_ENGINE`` pick the app)."""
        from scaleperf.configs import load_configs, select

        app = os.environ.get("SCALEPERF_AWS_APP")
        return cls(
            run_id=settings.run_id,
            configs=select(load_configs(), list(settings.configs)),
            app=Path(app) if app else None,
            engine=os.environ.get("SCALEPERF_AWS_ENGINE") or None,
            keep=settings.keep_deployment,
            loadgen=settings.loadgen,
            locustfile=settings.locustfile,
            max_cost=settings.max_cost,
            profile=settings.profile,
            replicates=settings.replicates,
        )

    # ------------------------------------------------------------------ plan and preconditions
    def plan(self, configs: list[ScalingConfig] | None = None) -> plans.Plan:
        ec2 = self.spec.kind == "ec2"
        return plans.make_plan(
            configs or self.configs,
            load_catalogue(),
            engine=self.engine,
            profile=self.profile,
            replicates=self.replicates,
            parallel=self.slot != "main",
            loadgen_workers=self.spec.count if ec2 else 0,
            loadgen_type=self.spec.instance_type if ec2 else None,
        )

    def load_scale(self, config: ScalingConfig) -> LoadScale:
        return LoadScale(1.0, "deployment scale: the real configuration on AWS")

    @property
    def cloud(self):
        """The cloud, after a credential check: nothing is created without usable credentials."""
        if self._cloud is None:
            cloud = self.cloud_factory()
            account = cloud.check_credentials()
            self.say(f"AWS account {account}, region {cloud.region}")
            self._cloud = cloud
        return self._cloud

    def _preflight(self, config: ScalingConfig) -> None:
        """Everything that can refuse the run, before anything is created: combinations that cannot work, the
        plan against --max-cost, and for EC2 load generators the credentials and where this machine is."""
        if self._planned:
            return
        self._refuse_what_cannot_work()
        plan = self.plan(self.configs or [config])
        for line in plan.lines():
            self.say(line)
        plans.check_budget(plan, self.max_cost)
        if self.spec.kind == "ec2":
            # The workers must reach the master here: off EC2 (or in another region) stop now, not after
            # the bundle, the application, the database and the environment exist.
            self._master = self.locate(self.cloud.region)
        self._planned = True

    def _refuse_what_cannot_work(self) -> None:
        plans.check_engine(self.engine, self.kind)
        if self.spec.kind != "ec2":
            return
        workers = _xdist_workers()
        if workers > 1:
            raise ScaleperfError(
                f"--loadgen ec2:N cannot run under pytest -n ({workers} xdist workers): every session's EC2 workers "
                f"would join the one Locust master port {loadgen_spec.MASTER_PORT} of this machine, and each session would "
                "change this instance's security groups at the same time. Run the configurations one after another "
                "(leave out -n: one environment moves from configuration to configuration), or keep -n and use "
                "--loadgen local:N or --loadgen hosts:a,b. Nothing was created."
            )
        if self.locustfile is None:
            raise ScaleperfError("--loadgen ec2:N needs --locustfile (the workers run it). Nothing was created.")
        if not self.locustfile.is_file():
            raise ScaleperfError(f"locustfile {self.locustfile} not found; pass --locustfile. Nothing was created.")

    # ------------------------------------------------------------------ provision
    @contextlib.contextmanager
    def provision(self, config: ScalingConfig) -> Iterator[AwsDeployment]:
        self._preflight(config)
        with _sigterm_as_interrupt():
            try:
                cloud = self.cloud
                with user_errors(f"provisioning {config.name}"):
                    if self._stack is None:
                        self._stack = Stack(run_id=self.run_id, slot=self.slot, kind=self.kind, engine=self.engine)
                        self._create(cloud, self._stack, config)
                    else:
                        self._reuse(cloud, self._stack, config)
            except BaseException:
                self.close("provisioning failed or was interrupted")
                raise
        stack = self._stack
        ok = False
        with _sigterm_as_interrupt():  # SIGTERM during the run ends it like Ctrl-C: the finally below tears down
            try:
                yield AwsDeployment(self, stack, config)
                ok = True
            finally:
                if self.keep:
                    sweep = f"scaleperf aws sweep --run-id {self.run_id}"
                    self.say(f"keeping {config.name} ({stack.env}) as asked; remove it with `{sweep}`")
                elif ok and self.reuse:
                    self.say(f"{stack.env} stays up for the next configuration; it is removed at the end of the session")
                    if not self._atexit:
                        atexit.register(self.close, "the session ended")
                        self._atexit = True
                else:
                    self.close("the configuration's run ended" if ok else "the run failed or was interrupted")

    def __enter__(self) -> AwsProvider:
        return self

    def __exit__(self, *exc) -> None:
        self.close("the session ended")

    def _create(self, cloud, s: Stack, config: ScalingConfig) -> None:
        say = self.say
        work = self.work_dir or Path(tempfile.mkdtemp(prefix="scaleperf-aws-"))
        b = bundles.build(work, self.app)
        s.bucket = cloud.bucket()
        key = f"runs/{self.run_id}/{self.slot}/{b.path.name}"
        cloud.upload(s.bucket, key, b.path, s.tags)
        s.key = key
        say(f"uploaded the {b.kind} source bundle to s3://{s.bucket}/{key}")
        cloud.eb.create_application(s.name, s.tags)
        s.application = s.name
        cloud.eb.create_application_version(application=s.name, label=b.label, bucket=s.bucket, key=key, tags=s.tags)
        stack_name = envs.pick_stack(cloud.eb.solution_stacks(), b.kind)
        say(f"application {s.name}, version {b.label}, platform {stack_name!r}")

        vpc, _ = cloud.default_vpc()
        app_group = cloud.create_security_group(f"{s.name}-app", vpc, "scaleperf app instances", s.tags)
        s.groups.append(app_group)
        db_group = cloud.create_security_group(f"{s.name}-db", vpc, "scaleperf database", s.tags)
        s.groups.append(db_group)
        cloud.allow_from_group(db_group, DB_PORTS[s.engine], app_group, "scaleperf app instances")

        password = redact.register(secrets.token_hex(16))
        db_id = f"{s.name}-db1"
        say(f"creating RDS {s.engine} {config.db_class.name} {db_id} (5-20 minutes)")
        cloud.create_db(
            db_id,
            db_class=config.db_class.name,
            engine=s.engine,
            db_name=DB_NAMES[s.kind],
            user=DB_USER,
            password=password,
            security_group=db_group,
            tags=s.tags,
        )
        s.dbs.append(db_id)
        db = cloud.wait_db(db_id)
        s.properties = self._properties(s, config, db["Endpoint"]["Address"], db["Endpoint"]["Port"], password, seed=True)

        options = envs.creation_options(config, security_group=app_group, properties=s.properties)
        secret_values = frozenset({password, s.properties.get("SECRET_KEY_BASE", password)})
        log.info("creating environment %s with %s", s.name, envs.describe_options(options, secret_values))
        say(f"creating environment {s.name} for {config.name} (10-30 minutes)")
        state = cloud.eb.create_environment(
            application=s.name, name=s.name, version=b.label, stack=stack_name, options=options, tags=s.tags
        )
        s.env = s.name
        state = self._make_waiter(cloud.eb, say).ready(s.name, envs.CREATE_TIMEOUT_S, f"creating {config.name}")
        s.cname = state.cname

        snapshot = f"{db_id}-seeded"
        say(f"snapshotting the seeded database as {snapshot}, so every configuration starts from the same data")
        cloud.snapshot_db(db_id, snapshot, s.tags)
        s.snapshot = snapshot
        cloud.wait_snapshot(snapshot)
        s.config = config
        self._start_loadgen(cloud, s)

    def _properties(self, s: Stack, config: ScalingConfig, host: str, port: int, password: str, *, seed: bool) -> dict[str, str]:
        db_name = DB_NAMES[s.kind]
        props = {"SCALEPERF_SEED": "1" if seed else "0", "SCALEPERF_RUN_ID": self.run_id}
        if s.kind == "rails":
            key = s.properties.get("SECRET_KEY_BASE") or redact.register(secrets.token_hex(64))
            props |= {
                "RAILS_ENV": "production",
                "RACK_ENV": "production",
                "RAILS_SKIP_MIGRATIONS": "false",
                "SECRET_KEY_BASE": key,
                "RDS_HOSTNAME": host,
                "RDS_PORT": str(port),
                "RDS_DB_NAME": db_name,
                "RDS_USERNAME": DB_USER,
                "RDS_PASSWORD": password,
            }
        else:
            scheme = "postgresql" if s.engine == "postgres" else "mysql"
            props |= {
                "DATABASE_URL": f"{scheme}://{DB_USER}:{password}@{host}:{port}/{db_name}",
                "HELPDESK_WORKERS": str(config.app_type.vcpus),
                "HELPDESK_COST_MODEL": "rails",
            }
        return props

    def _password(self, s: Stack) -> str:
        if s.kind == "rails":
            return s.properties["RDS_PASSWORD"]
        return s.properties["DATABASE_URL"].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]

    def _reuse(self, cloud, s: Stack, config: ScalingConfig) -> None:
        prev = s.config
        assert prev is not None and s.env is not None
        if prev.name == config.name:
            return
        changes: list[str] = []
        if prev.db_class.name != config.db_class.name and s.dirty:
            # The data must go back to the snapshot anyway: restoring it into the new class is one step, not two.
            changes.append(
                f"database class {prev.db_class.name} -> {config.db_class.name} (applied when the seeded snapshot is restored)"
            )
        elif prev.db_class.name != config.db_class.name:
            changes.append(f"database class {prev.db_class.name} -> {config.db_class.name} (modified in place)")
            self.say(f"modifying {s.dbs[-1]} to {config.db_class.name} (reusing the database, not recreating it)")
            cloud.modify_db_class(s.dbs[-1], config.db_class.name)
            self._wait_db_class(cloud, s.dbs[-1], config.db_class.name)
        options: list[dict[str, str]] = []
        if (prev.app_type.name, prev.app_instances) != (config.app_type.name, config.app_instances):
            options += envs.fleet_options(config, was_load_balanced=prev.load_balanced)
            changes.append(
                f"app {prev.app_instances} x {prev.app_type.name} -> {config.app_instances} x {config.app_type.name}"
                + (" (now load balanced)" if config.load_balanced and not prev.load_balanced else "")
            )
        if s.kind == "reference" and prev.app_type.vcpus != config.app_type.vcpus:
            s.properties["HELPDESK_WORKERS"] = str(config.app_type.vcpus)
            options += envs.property_options({"HELPDESK_WORKERS": s.properties["HELPDESK_WORKERS"]})
        if options:
            cloud.eb.update_environment(name=s.env, options=options)
            state = self._make_waiter(cloud.eb, self.say).ready(s.env, envs.UPDATE_TIMEOUT_S, f"updating to {config.name}")
            s.cname = state.cname or s.cname
        s.config = config
        self.say(f"reused environment {s.env} for {config.name}: " + ("; ".join(changes) if changes else "nothing to change"))

    def _wait_db_class(self, cloud, ident: str, db_class: str) -> None:
        # Right after ModifyDBInstance the status may still read "available" with the old class: poll for the new one.
        deadline = self.clock() + envs.UPDATE_TIMEOUT_S
        while True:
            db = cloud.wait_db(ident)
            if db["DBInstanceClass"] == db_class:
                return
            if self.clock() > deadline:
                raise ScaleperfError(f"{ident} did not change to {db_class} in time; check it in the RDS console")
            self.sleep(DB_CLASS_POLL_S)

    def _start_loadgen(self, cloud, s: Stack) -> None:
        if self.spec.kind == "hosts":
            for line in hosts_instructions(self.spec.hosts, socket.getfqdn(), str(self.locustfile or "locustfile.py")):
                self.say(line)
            return
        if self.spec.kind != "ec2":
            return
        from scaleperf.aws.loadgen import worker_bundle

        master = self._master
        assert master is not None and self.locustfile is not None, "_preflight checks both before anything is created"
        key = f"runs/{self.run_id}/{self.slot}/workers.tar.gz"
        work = self.work_dir or Path(tempfile.mkdtemp(prefix="scaleperf-aws-"))
        path = Path(work) / "workers.tar.gz"
        path.write_bytes(worker_bundle(self.locustfile))
        cloud.upload(s.bucket, key, path, s.tags)
        catalogue = load_catalogue()
        arch = catalogue.ec2[self.spec.instance_type].arch if self.spec.instance_type in catalogue.ec2 else "arm64"
        s.workers = Ec2Workers(cloud=cloud, master=master, tags=s.tags, name=s.name)
        self.say(f"starting {self.spec.count} x {self.spec.instance_type} Locust workers in {master.vpc_id}")
        s.workers.start(
            count=self.spec.count,
            instance_type=self.spec.instance_type,
            image=cloud.image_for(arch),
            bundle_url=cloud.presign(s.bucket, key, BUNDLE_URL_TTL_S),
            locustfile_name=self.locustfile.name,
            env={"SCALEPERF_RUN_ID": self.run_id, **{k: v for k, v in os.environ.items() if k.startswith(WORKER_ENV_PREFIX)}},
        )

    # ------------------------------------------------------------------ data
    def reset_data(self, s: Stack) -> None:
        """Put the seeded data back: restore the snapshot into a fresh instance and point the app at it."""
        if not s.dirty:
            return
        assert s.snapshot and s.env and s.config
        cloud = self.cloud
        with user_errors("restoring the seeded database"):
            old = s.dbs[-1]
            new = f"{s.name}-db{len(s.dbs) + 1}"
            self.say(f"restoring {s.snapshot} into {new} so that {s.config.name} starts from the seeded data")
            cloud.restore_db(new, snapshot=s.snapshot, db_class=s.config.db_class.name, security_group=s.groups[-1], tags=s.tags)
            s.dbs.append(new)
            db = cloud.wait_db(new)
            props = self._properties(
                s, s.config, db["Endpoint"]["Address"], db["Endpoint"]["Port"], self._password(s), seed=False
            )
            changed = {k: v for k, v in props.items() if s.properties.get(k) != v}
            s.properties = props
            cloud.eb.update_environment(name=s.env, options=envs.property_options(changed))
            self._make_waiter(cloud.eb, self.say).ready(s.env, envs.UPDATE_TIMEOUT_S, "switching to the restored database")
            cloud.delete_db(old)
            s.dirty = False

    # ------------------------------------------------------------------ telemetry
    def telemetry(self, s: Stack, t0: float, t1: float) -> tuple[tuple[Telemetry, ...], dict]:
        """CloudWatch's series for the window [t0, t1], and facts about how they were read.

        CloudWatch publishes a minute's datapoint a few minutes after the minute, and a run's window is read
        right after the run: the reads repeat every ``TELEMETRY_POLL_S`` until every series' newest datapoint
        covers t1, or ``telemetry_wait_s`` has passed.  Then the series that still end early get NaN (unknown)
        for their missing minutes, and the facts say which they are."""
        cloud = self.cloud
        with user_errors("reading CloudWatch metrics"):
            res = cloud.eb.resources(s.env)
            started = self.clock()
            deadline = started + self.telemetry_wait_s
            while True:
                read = self._metrics(cloud, s, res, t0, t1)
                short = [name for name, (_, points) in read.items() if not points or points[-1][0] + METRIC_PERIOD_S < t1]
                left = deadline - self.clock()
                if not short or left <= 0:
                    break
                self.sleep(min(TELEMETRY_POLL_S, left))
        waited = self.clock() - started
        facts: dict = {"source": TELEMETRY_SOURCE, "complete": not short, "waited_s": round(waited)}
        if short:
            facts["gave_up"] = (
                f"CloudWatch had not published up to the end of the run for {', '.join(short)}; their last minutes are NaN"
            )
            self.say(
                f"gave up waiting for CloudWatch after {waited:.0f} s: it has not published the last minutes of the run for "
                f"{', '.join(short)}; they are recorded as unknown (NaN), and the run's metadata says so"
            )
        out = []
        for name, (tier, points) in read.items():
            points = _pad(points, t0, t1)
            if tier == "lb":
                out.append(_series(name, tier, [], t0, requests=[(t, v / METRIC_PERIOD_S) for t, v in points]))
            else:
                out.append(_series(name, tier, points, t0))
        return tuple(out), facts

    def _metrics(self, cloud, s: Stack, res, t0: float, t1: float) -> dict[str, tuple[str, list[tuple[float, float]]]]:
        """component -> (tier, its datapoints in [t0, t1]), as CloudWatch has them now."""
        out: dict[str, tuple[str, list[tuple[float, float]]]] = {}
        for n, iid in enumerate(res.instance_ids, 1):
            pts = cloud.metric("AWS/EC2", "CPUUtilization", {"InstanceId": iid}, t0, t1, period=METRIC_PERIOD_S, stat="Average")
            out[f"app-{n}"] = ("app", pts)
        if s.dbs:
            pts = cloud.metric(
                "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": s.dbs[-1]}, t0, t1, period=METRIC_PERIOD_S, stat="Average"
            )
            out["db"] = ("db", pts)
        for n, lb in enumerate(res.load_balancers, 1):
            dim = lb.split(":loadbalancer/", 1)[-1]
            pts = cloud.metric(
                "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": dim}, t0, t1, period=METRIC_PERIOD_S, stat="Sum"
            )
            out["lb" if n == 1 else f"lb-{n}"] = ("lb", pts)
        return out

    # ------------------------------------------------------------------ teardown
    def close(self, why: str = "the session ended") -> None:
        """Remove everything this session created (each step tolerant of what is already gone)."""
        s, self._stack = self._stack, None
        if s is None or self.keep or self._cloud is None:
            return
        cloud = self._cloud
        self.say(f"tearing down ({why}): {', '.join(s.created()) or 'nothing was created'}")
        waiter = self._make_waiter(cloud.eb, self.say)
        steps: list[tuple[str, Callable[[], None]]] = []
        if s.workers:
            steps.append(("stop load generators", s.workers.stop))
        if s.env:
            env = s.env
            steps += [
                ("terminate environment", lambda: cloud.eb.terminate_environment(env)),
                ("wait for termination", lambda: waiter.gone(env)),
            ]
        for db in s.dbs:
            steps.append((f"delete database {db}", lambda db=db: _ignore_missing(lambda: cloud.delete_db(db))))
        for db in s.dbs:
            steps.append((f"wait for {db} to go", lambda db=db: cloud.wait_db_deleted(db)))
        if s.snapshot:
            snap = s.snapshot
            steps.append((f"delete snapshot {snap}", lambda: cloud.delete_snapshot(snap)))
        if s.application:
            app = s.application
            steps.append((f"delete application {app}", lambda: cloud.eb.delete_application(app)))
        for group in reversed(s.groups):
            steps.append((f"delete security group {group}", lambda g=group: cloud.delete_security_group(g)))
        if s.key:
            bucket, key = s.bucket, s.key
            steps.append(("delete the source bundle", lambda: cloud.delete_object(bucket, key)))
            worker_key = f"runs/{self.run_id}/{self.slot}/workers.tar.gz"
            steps.append(("delete the worker bundle", lambda: cloud.delete_object(bucket, worker_key)))
        failed = []
        for what, step in steps:
            try:
                step()
            except (Exception, KeyboardInterrupt) as exc:  # keep going (even on a second Ctrl-C): the rest must go too
                failed.append(what)
                log.warning("teardown: %s failed: %s", what, exc)
        if failed:
            self.say(f"teardown could not {', '.join(failed)}; run `scaleperf aws sweep --run-id {self.run_id}`")
        else:
            self.say("teardown complete")


def _ignore_missing(step: Callable[[], None]) -> None:
    from botocore.exceptions import ClientError

    try:
        step()
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("DBInstanceNotFound", "DBInstanceNotFoundFault", "InvalidDBInstanceState"):
            raise


def _pad(points: list[tuple[float, float]], t0: float, t1: float) -> list[tuple[float, float]]:
    """``points`` followed by NaN for every period up to t1 that CloudWatch has not published (it stamps a
    period by its start, and rounds a query's start down to the minute)."""
    first = math.floor(t0 / METRIC_PERIOD_S) * METRIC_PERIOD_S
    t = points[-1][0] + METRIC_PERIOD_S if points else first
    out = list(points)
    while t < t1:
        out.append((t, math.nan))
        t += METRIC_PERIOD_S
    return out


def _series(component: str, tier: str, points: list[tuple[float, float]], t0: float, requests=None) -> Telemetry:
    src = points or requests or []
    t = np.array([p[0] - t0 for p in src], dtype=float)
    nan = np.full(len(t), np.nan)
    cpu = np.array([p[1] for p in points], dtype=float) if points else nan
    req = np.array([p[1] for p in requests], dtype=float) if requests is not None else None
    return Telemetry(component=component, tier=tier, t=t, cpu_pct=cpu, throttled_pct=nan, memory_mb=nan.copy(), requests=req)
