"""The AWS provider: each scaling configuration as an Elastic Beanstalk environment with an RDS database.

Order of business, so that a mistake costs nothing: refuse combinations that cannot work (the reference
backend on MySQL, EC2 load generators under pytest -n), plan (what will be created, what it costs; refuse
above ``--max-cost``), ask the account read-only whether the run can work (:mod:`scaleperf.aws.preflight`),
then create, each step tagged with the run id and recorded in a :class:`~scaleperf.aws.stack.Stack` so that
teardown removes exactly what exists, in reverse order, in ``finally``, on Ctrl-C and on SIGTERM.

The concerns live in :mod:`scaleperf.aws`: ``preflight`` (checks), ``create`` (creation), ``move`` (from one
configuration to the next: one environment per shape, the fleet updated in place), ``reset`` (the seeded
data back), ``telemetry`` (CloudWatch), ``teardown`` (removal).  This module holds the session's state and
the :class:`~scaleperf.providers.base.Provider` protocol around them.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from scaleperf import loadgen as loadgen_spec
from scaleperf.aws import create, move, preflight, reset, teardown
from scaleperf.aws import environment as envs
from scaleperf.aws import plan as plans
from scaleperf.aws import telemetry as cloudwatch
from scaleperf.aws.boto import BotoCloud, user_errors
from scaleperf.aws.database import ENGINES
from scaleperf.aws.deployment import AwsDeployment
from scaleperf.aws.loadgen import BUNDLE_URL_TTL_S, Ec2Workers, hosts_instructions, locate_master
from scaleperf.aws.stack import Stack
from scaleperf.configs import ScalingConfig, load_catalogue
from scaleperf.errors import ScaleperfError
from scaleperf.providers.base import LoadScale
from scaleperf.results import Telemetry

__all__ = ["AwsDeployment", "AwsProvider"]

log = logging.getLogger(__name__)

WORKER_ENV_PREFIX = "HELPDESK_"  # the locustfile's settings, passed on to EC2 workers as they are set here
TELEMETRY_WAIT_S = cloudwatch.TELEMETRY_WAIT_S
TELEMETRY_POLL_S = cloudwatch.TELEMETRY_POLL_S
TELEMETRY_SOURCE = cloudwatch.TELEMETRY_SOURCE
APP_VARIABLE = "SCALEPERF_AWS_APP"  # superseded by --app; still read when --app is not given


def _xdist_workers() -> int:
    """How many pytest-xdist workers share this session's run (0 when this process is not one of them)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return 0
    try:
        return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", ""))
    except ValueError:
        return 2  # a worker that does not say how many there are: assume it is not alone


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


class AwsProvider:
    """Elastic Beanstalk + RDS deployments through boto3 (or any cloud with the same methods).

    ``app`` is a folder (or zip) holding a Rails app, or None for the reference backend; ``health_path`` is
    what the load balancer and the checks ask (Rails 7.1+ answers ``/up``)."""

    name = "aws"

    def __init__(
        self,
        *,
        run_id: str,
        configs: list[ScalingConfig] | None = None,
        cloud_factory: Callable[[], object] = BotoCloud,
        app: Path | None = None,
        health_path: str = envs.HEALTH_CHECK_PATH,
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
        create_roles: bool = False,
        subnets: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        telemetry_wait_s: float = TELEMETRY_WAIT_S,
    ) -> None:
        self.run_id = run_id
        self.configs = list(configs or [])
        self.cloud_factory = cloud_factory
        self.app = Path(app) if app else None
        self.health_path = health_path
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
        self.create_roles = create_roles
        self.subnets = tuple(subnets)
        self.clock = clock  # for the provider's own waits (DB class changes, CloudWatch), so tests need not wait
        self.sleep = sleep
        self.telemetry_wait_s = telemetry_wait_s
        self._cloud = None
        self._stack: Stack | None = None
        self._master = None  # where this machine is on EC2 (--loadgen ec2:N), found before anything is created
        self._checked: preflight.Result | None = None
        self._atexit = False

    @classmethod
    def from_settings(cls, settings) -> AwsProvider:
        """From the pytest plugin's PerfSettings: ``app`` (--app) and ``health_path`` when it has them;
        ``SCALEPERF_AWS_APP`` still names the app without --app, ``SCALEPERF_AWS_ENGINE`` the engine,
        ``SCALEPERF_AWS_SUBNETS`` subnets instead of the default VPC's, and ``SCALEPERF_AWS_CREATE_ROLES=1`` lets the
        preflight create missing Elastic Beanstalk roles as the EB CLI does."""
        from scaleperf.configs import load_configs, select

        app = getattr(settings, "app", None)
        if app is None and os.environ.get(APP_VARIABLE):
            app = os.environ[APP_VARIABLE]
            log.warning("%s is superseded by --app; using it because --app was not given", APP_VARIABLE)
        return cls(
            run_id=settings.run_id,
            configs=select(load_configs(), list(settings.configs)),
            app=Path(app) if app else None,
            health_path=getattr(settings, "health_path", None) or envs.HEALTH_CHECK_PATH,
            engine=getattr(settings, "db_engine", None) or os.environ.get("SCALEPERF_AWS_ENGINE") or None,
            subnets=tuple(s for s in os.environ.get("SCALEPERF_AWS_SUBNETS", "").split(",") if s.strip()),
            create_roles=os.environ.get("SCALEPERF_AWS_CREATE_ROLES") == "1",
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

    def waiter(self, eb) -> envs.Waiter:
        w = self._make_waiter(eb, self.say)
        w.health_path = self.health_path
        return w

    def preflight_request(self, configs: list[ScalingConfig]) -> preflight.Request:
        ec2 = self.spec.kind == "ec2"
        catalogue = load_catalogue()
        lg = catalogue.ec2.get(self.spec.instance_type) if ec2 else None
        return preflight.Request(
            configs=tuple(configs),
            kind=self.kind,
            engine=self.engine,
            app=self.app,
            parallel=self.slot != "main",
            loadgen_workers=self.spec.count if ec2 else 0,
            loadgen_vcpus=lg.vcpus if lg else 0,
            loadgen_type=self.spec.instance_type if ec2 else None,
            create_roles=self.create_roles,
            subnets=self.subnets,
        )

    def _preflight(self, config: ScalingConfig) -> None:
        """Everything that can refuse the run, before anything is created: combinations that cannot work, the
        plan against --max-cost, where this machine is for EC2 load generators, and the account's read-only
        preflight (roles, network, offerings, quota, platform, option settings, engine version)."""
        if self._checked is not None:
            return
        self._refuse_what_cannot_work()
        configs = self.configs or [config]
        plan = self.plan(configs)
        for line in plan.lines():
            self.say(line)
        plans.check_budget(plan, self.max_cost)
        if self.spec.kind == "ec2":
            # The workers must reach the master here: off EC2 (or in another region) stop now, not after
            # the bundle, the application, the database and the environment exist.
            self._master = self.locate(self.cloud.region)
        checked = preflight.run(self.cloud, self.preflight_request(configs), self.say)
        for line in checked.lines:
            self.say(f"preflight: {line}")
        for warning in checked.warnings:
            log.warning("%s", warning)
            self.say(f"warning: {warning}")
        self._checked = checked

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
                        self._stack = self._new_stack()
                        self._create(cloud, self._stack, config)
                    else:
                        move.arrive(self, cloud, self._stack, config)
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

    def _new_stack(self) -> Stack:
        checked = self._checked
        assert checked is not None, "_preflight runs before anything is created"
        return Stack(
            run_id=self.run_id,
            slot=self.slot,
            kind=self.kind,
            engine=self.engine,
            platform=checked.platform,
            network=checked.network,
        )

    def _create(self, cloud, s: Stack, config: ScalingConfig) -> None:
        create.shared(self, cloud, s, config)
        s.current = envs.shape(config)
        create.environment(self, cloud, s, config, seed=True)
        create.snapshot(self, cloud, s)
        self._start_loadgen(cloud, s)

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
        key = self._worker_key()
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

    def _worker_key(self) -> str:
        return f"runs/{self.run_id}/{self.slot}/workers.tar.gz"

    # ------------------------------------------------------------------ data and telemetry
    def reset_data(self, s: Stack) -> None:
        """Put the seeded data back (after a load ran): see :mod:`scaleperf.aws.reset`."""
        if s.dirty:
            assert s.config is not None
            reset.restore(self, self.cloud, s, s.config)

    def telemetry(self, s: Stack, t0: float, t1: float) -> tuple[tuple[Telemetry, ...], dict]:
        db = s.dbs[-1] if s.dbs else None  # the database the load ran against
        return cloudwatch.read_environment(
            self.cloud, s.env, db, t0, t1, wait_s=self.telemetry_wait_s, clock=self.clock, sleep=self.sleep, say=self.say
        )

    # ------------------------------------------------------------------ teardown
    def close(self, why: str = "the session ended") -> None:
        """Remove everything this session created (each step tolerant of what is already gone)."""
        s, self._stack = self._stack, None
        if s is None or self.keep or self._cloud is None:
            return
        cloud = self._cloud
        self.say(f"tearing down ({why}): {', '.join(s.created()) or 'nothing was created'}")
        todo = teardown.steps(
            cloud, s, self.waiter(cloud.eb), worker_key=self._worker_key(), clock=self.clock, sleep=self.sleep, say=self.say
        )
        teardown.run(todo, run_id=self.run_id, say=self.say)
