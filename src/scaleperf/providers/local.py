"""The local provider: a proportional miniature of a scaling configuration on this machine.

Every tier gets the same fraction of its AWS CPU: ``scale`` cores per emulated vCPU, derived from the
largest configuration in ``configs.toml`` and this machine's cores (so it is the same whichever
configurations a run selects).  Each app instance is its own server process (the app under test, see
:mod:`scaleperf.providers.app`: the reference backend in its ``rails`` cost model, any command template,
or a Rails app run as Elastic Beanstalk runs it) limited to ``vCPUs x scale`` cores and the instance
type's memory; the database is its own PostgreSQL or MariaDB/MySQL server (:mod:`.dbtier`), copied from
the golden data directory, limited to its class's ``vCPUs x scale`` cores and memory, with settings
derived from that memory as RDS derives them.  Horizontal configurations sit behind one endpoint (HAProxy round robin
per request, or SO_REUSEPORT).  The load is shrunk by the same factor (:meth:`LocalProvider.load_scale`).

The running deployment is :class:`~scaleperf.providers.miniature.LocalDeployment`. Teardown (processes,
cgroups, ports, temporary folders) runs on success, failure, Ctrl-C and SIGTERM.
See docs/local-miniature.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil

from scaleperf import paths
from scaleperf.configs import ScalingConfig, load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.pg import reap_orphans as reap_pg_orphans
from scaleperf.providers import dbtier, rails
from scaleperf.providers.app import REFERENCE_COMMAND, AppSpec, resolve
from scaleperf.providers.base import LoadScale
from scaleperf.providers.limits import (
    DEFAULT_CFS_PERIOD_US,
    Mechanism,
    detect,
    reap_orphan_groups,
)
from scaleperf.providers.miniature import LocalDeployment
from scaleperf.providers.signals import Terminated, signals_deferred, sigterm_raises  # noqa: F401 - re-exported
from scaleperf.providers.sizing import (  # noqa: F401 - re-exported: the sizing rules' home is sizing.py
    APP_POOL_PER_WORKER,
    APP_WORKERS_PER_VCPU,
    GENERATOR_RESERVE_CORES,
    InstancePlan,
    derive_scale,
    machine_cores,
    plan_instances,
)

log = logging.getLogger(__name__)

APP_START_TIMEOUT_S = 120.0  # how long an app instance may take to answer its health path (Rails boots slowly on a busy box)
DEFAULT_COMMAND = REFERENCE_COMMAND  # the reference backend; any command with the placeholders can replace it
db_settings = dbtier.pg_settings  # PostgreSQL settings from the class's memory, as RDS derives them


class LocalProvider:
    """Provisions miniatures of scaling configurations on this machine (see the module docstring).

    ``scale``: cores per emulated vCPU (default: derived from ``configs_path``'s largest configuration
    and this machine's cores).  ``users``: the digest file the golden database is seeded from (tests pass
    a tiny one).  ``app``: what ``--app`` says (a Rails app's folder, a command template; None: the reference
    backend), with ``health_path`` and ``db_engine`` (None: from the app); ``command`` is the older name for a
    command template.  ``balancer``: auto, haproxy or reuseport.
    ``mechanisms``: which limit mechanisms may be used, in order of preference.
    """

    name = "local"

    def __init__(
        self,
        *,
        keep: bool = False,
        scale: float | None = None,
        configs_path: Path | None = None,
        users: Path | None = None,
        app: str | Path | AppSpec | None = None,
        health_path: str = "/health",
        db_engine: str | None = None,
        command: str | None = None,
        extra_args: tuple[str, ...] = (),
        balancer: str = "auto",
        mechanisms: tuple[str, ...] = ("cgroup2", "cgroup1", "systemd-run"),
        cfs_period_us: int = DEFAULT_CFS_PERIOD_US,
        reserve_cores: float = GENERATOR_RESERVE_CORES,
        start_timeout_s: float = APP_START_TIMEOUT_S,
    ) -> None:
        self.start_timeout_s = start_timeout_s
        self._bcrypt12_ms: float | None = None
        self.keep = keep
        self.users = users
        if command is not None and app is None:
            app = command  # the older keyword: a command template
        self.app = app if isinstance(app, AppSpec) else resolve(app, health_path=health_path, db_engine=db_engine)
        self.command = self.app.command
        self.app_label = {"reference": "the reference backend", "command": "your command", "rails": f"Rails app {self.app.path}"}[
            self.app.kind
        ]
        self.ruby = rails.find_ruby(self.app.path) if self.app.kind == "rails" and self.app.path else None
        self.nginx = rails.nginx_binary() if self.app.kind == "rails" else None
        if self.app.db_engine == "mysql":
            from scaleperf import mysql

            mysql.find_binaries()  # fails now, with what to install, rather than at the first provisioning
        self.extra_args = list(extra_args)
        self.balancer = balancer
        self.mechanisms = mechanisms
        self.cfs_period_us = cfs_period_us
        self._mechanism: Mechanism | None = None
        cores = machine_cores()
        if scale is not None:
            if scale <= 0:
                raise ScaleperfError(f"scale must be positive, got {scale}")
            self.scale = scale
            self.scale_reason = f"given: {scale} core per vCPU"
        else:
            configs = load_configs(configs_path)
            largest = max(configs.values(), key=lambda c: c.total_vcpus)
            self.scale = derive_scale(configs, cores, reserve_cores)
            self.scale_reason = (
                f"{cores} cores minus {reserve_cores} reserved for the load generator, over the largest "
                f"configuration {largest.name} ({largest.total_vcpus} vCPUs): {self.scale} core per vCPU"
            )

    def bcrypt12_ms(self) -> float:
        """This machine's bcrypt-12 time, timed once per provider: the reference backend's rails model scales by it,
        and every instance of every configuration gets the same yardstick (HELPDESK_BCRYPT12_MS)."""
        if self._bcrypt12_ms is None:
            from helpdesk.cost import time_bcrypt12_ms

            self._bcrypt12_ms = round(time_bcrypt12_ms(), 2)
        return self._bcrypt12_ms

    def app_facts(self) -> dict:
        """What runs as each app instance, for the run's facts."""
        facts = self.app.describe()
        if self._bcrypt12_ms is not None:
            facts["bcrypt12_ms"] = self._bcrypt12_ms  # the reference backend's rails model: its yardstick in this run
        if self.app.kind == "rails":
            facts["ruby"] = self.ruby.version if self.ruby else None
            facts["server"] = "bundle exec puma (cluster: WEB_CONCURRENCY = vCPUs, RAILS_MAX_THREADS threads each)"
            facts["front"] = (
                f"nginx ({self.nginx}) in front of puma, as on the Elastic Beanstalk Ruby platform"
                if self.nginx
                else "none: nginx is not installed, clients reach puma directly (Debian: apt-get install nginx)"
            )
            facts["env"] = "RAILS_ENV=production, RAILS_LOG_LEVEL=warn, SECRET_KEY_BASE (generated), DATABASE_URL, RDS_*"
        return facts

    def mechanism(self) -> Mechanism:
        if self._mechanism is None:
            self._mechanism = detect(self.mechanisms)  # logs NO_LIMITS_WARNING loudly when nothing works
        return self._mechanism

    def load_scale(self, config: ScalingConfig) -> LoadScale:
        return LoadScale(factor=self.scale, reason=f"local miniature: {self.scale_reason}")

    @contextlib.contextmanager
    def provision(self, config: ScalingConfig) -> Iterator[LocalDeployment]:
        reap_orphans()
        deployment = LocalDeployment(self, config)
        torn_down = False
        with sigterm_raises():
            try:
                deployment.start()
                yield deployment
            except BaseException:
                torn_down = True
                deployment.stop()
                raise
            finally:
                if not torn_down:
                    if self.keep:
                        log.warning("keeping the %s deployment at %s (--keep-deployment)", config.name, deployment.base_url)
                        _log_kept(deployment)
                    else:
                        deployment.stop()


def reap_orphans() -> None:
    """Clean up after scaleperf processes that were killed outright (SIGKILL, power loss): their cgroups
    (killing the servers inside), PostgreSQL servers and work folders."""
    reap_orphan_groups()
    reap_pg_orphans()
    dbtier.reap_orphans()
    for folder in paths.subdir("local").iterdir():
        try:
            owner = int(folder.name.rsplit("-", 2)[1])
        except (IndexError, ValueError):
            continue
        if not psutil.pid_exists(owner):
            shutil.rmtree(folder, ignore_errors=True)


def _log_kept(deployment: LocalDeployment) -> None:
    log.warning("kept deployment: %s", json.dumps(deployment.describe()))
