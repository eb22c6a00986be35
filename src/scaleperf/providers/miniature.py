"""A running miniature of one scaling configuration: its database, app instances and balancer, their CPU and
memory limits, their telemetry, and their teardown. :class:`~scaleperf.providers.local.LocalProvider` makes one
per configuration; see that module for how the tiers are sized.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scaleperf import paths
from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError
from scaleperf.pg import free_port
from scaleperf.providers import dbtier, rails
from scaleperf.providers.app import AppSpec, render_command
from scaleperf.providers.balancer import Backend, Balancer, choose
from scaleperf.providers.limits import (
    LimitGroup,
    Limits,
    Mechanism,
)
from scaleperf.providers.procs import _http_status, _listening, _spawn, golden_env
from scaleperf.providers.signals import signals_deferred
from scaleperf.providers.sizing import InstancePlan, plan_instances
from scaleperf.providers.telemetry import Component, Sampler
from scaleperf.results import Telemetry

if TYPE_CHECKING:
    from scaleperf.providers.local import LocalProvider

log = logging.getLogger(__name__)

APP_STOP_TIMEOUT_S = 10.0  # SIGTERM, then SIGKILL
HEALTH_POLL_S = 0.1  # how often start-up polls /health
LB_ALLOTTED_CPUS = 1.0  # the balancer is unlimited; its cpu_pct is percent of one core


class LocalDeployment:
    """A running miniature: app instances, the database, the balancer, and their telemetry sampler."""

    def __init__(self, provider: LocalProvider, config: ScalingConfig) -> None:
        self.provider = provider
        self.config = config
        self.scale = provider.scale
        self.mechanism: Mechanism = provider.mechanism()
        self.base_url = ""
        self.workdir = paths.subdir("local") / f"{config.name}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        self.plans = plan_instances(config, self.scale)
        self.db_limits = Limits(cpus=config.db_class.vcpus * self.scale, memory_bytes=config.db_class.memory_mib * 2**20)
        self.app: AppSpec = provider.app
        self.balancer_kind = choose(provider.balancer, config.app_instances)
        if self.balancer_kind == "reuseport" and self.app.kind != "reference":
            raise ScaleperfError(
                f"{config.name} has {config.app_instances} app instances and only the reference backend can share a port; "
                "install HAProxy (Debian: apt-get install haproxy) to balance your own app"
            )
        self.secret = rails.new_secret()  # one SECRET_KEY_BASE for every instance: tokens verify anywhere
        self.groups: list[LimitGroup] = []
        self.db_group: LimitGroup | None = None
        self.app_groups: list[LimitGroup] = []
        self.lb_group: LimitGroup | None = None
        self.db: dbtier.DbTier | None = None
        self.apps: list[tuple[InstancePlan, subprocess.Popen, int]] = []
        self.fronts: list[subprocess.Popen] = []  # nginx in front of each Rails instance, when installed
        self.balancer: Balancer | None = None
        self.sampler: Sampler | None = None
        self.started_at = 0.0
        self.provision_s = 0.0

    # -- start ----------------------------------------------------------------------------------
    def start(self) -> LocalDeployment:
        t_start = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        gold = dbtier.golden_for(self.app, self.provider.users, self.provider.ruby)
        self._start_db(gold)
        self._start_apps()
        self._start_balancer()
        for group in self.app_groups:
            group.enforce()  # start-up ran unthrottled; from here on each instance has its share
        self.sampler = Sampler(self._components(), requests=self.balancer.request_counts if self.balancer else None)
        self.started_at = time.time()
        self.provision_s = time.monotonic() - t_start
        log.info(
            "local %s ready at %s in %.1fs (scale %.4f, limits %s, balancer %s)",
            self.config.name,
            self.base_url,
            self.provision_s,
            self.scale,
            self.mechanism.name,
            self.balancer_kind,
        )
        return self

    def _group(self, component: str, limits: Limits, *, unlimited_at_first: bool) -> LimitGroup:
        group = LimitGroup(self.mechanism, f"{self.config.name}-{component}", limits, self.provider.cfs_period_us)
        self.groups.append(group)  # registered before creation: teardown removes whatever got made
        group.create(cpu_unlimited_at_first=unlimited_at_first)
        return group

    def _start_db(self, gold: dbtier.Golden) -> None:
        self.db_group = self._group("db", self.db_limits, unlimited_at_first=False)
        memory = self.db_limits.memory_bytes or 0
        self.db = dbtier.DbTier(self.app, gold, name=f"local-{self.config.name}", memory_bytes=memory, users=self.provider.users)
        self.db.start()
        assert self.db.pid is not None
        self.db_group.add(self.db.pid)

    def _start_apps(self) -> None:
        assert self.db is not None
        shared_port = free_port() if self.balancer_kind == "reuseport" else 0
        for plan in self.plans:
            port = shared_port or free_port()
            group = self._group(plan.name, Limits(cpus=plan.cpus, memory_bytes=plan.memory_bytes), unlimited_at_first=True)
            self.app_groups.append(group)
            log_path = self.workdir / f"{plan.name}.log"
            if self.app.kind == "rails":
                proc = self._start_rails(plan, group, port, log_path)
            else:
                cmd = self._command(plan, port)
                env = {**golden_env(), "HELPDESK_BCRYPT12_MS": str(self.provider.bcrypt12_ms())}
                proc = _spawn(group.wrap(cmd), log_path, env=env, cwd=None)
            group.track(proc.pid)
            self.apps.append((plan, proc, port))
        for plan, proc, port in self.apps:
            self._wait_healthy(plan, proc, port)

    def _command(self, plan: InstancePlan, port: int) -> list[str]:
        assert self.db is not None
        f = self.db.facts
        cmd = render_command(
            self.app.command,
            port=port,
            database_url=self.db.url,
            pool_size=plan.pool_size,
            workers=plan.workers,
            threads=rails.THREADS,
            db_host=f.host,
            db_port=f.port,
            db_name=f.name,
            db_user=f.user,
            db_password=f.password,
        )
        if self.balancer_kind == "reuseport":
            cmd.append("--reuse-port")
        return cmd + self.provider.extra_args

    def _start_rails(self, plan: InstancePlan, group: LimitGroup, port: int, log_path: Path) -> subprocess.Popen:
        """puma on a private port, nginx on the instance's port in front of it (when installed), one group for both."""
        assert self.db is not None and self.app.path is not None and self.provider.ruby is not None
        puma_port = free_port() if self.provider.nginx else port
        extra = {"PIDFILE": str(self.workdir / f"{plan.name}-puma.pid"), "PORT": str(puma_port)}
        env = rails.app_env(
            self.app.path, self.db.facts, workers=plan.workers, threads=rails.THREADS, secret=self.secret, extra=extra
        )
        cmd = rails.puma_command(self.app.path, self.provider.ruby, port=puma_port, workers=plan.workers, threads=rails.THREADS)
        proc = _spawn(group.wrap(cmd), log_path, env=env, cwd=self.app.path)
        if self.provider.nginx:
            front = rails.write_nginx(self.workdir, plan.name, listen=port, upstream=puma_port, workers=plan.workers)
            nginx = _spawn(group.wrap(front), self.workdir / f"{plan.name}-nginx.log", env=None, cwd=None)
            group.track(nginx.pid)
            self.fronts.append(nginx)
        return proc

    def _wait_healthy(self, plan: InstancePlan, proc: subprocess.Popen, port: int) -> None:
        url = f"http://127.0.0.1:{port}{self.app.health_path}"
        log_path = self.workdir / f"{plan.name}.log"
        what = f"app instance {plan.name} ({self.provider.app_label})"
        timeout = self.provider.start_timeout_s
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ScaleperfError(
                    f"{what} exited at start with code {proc.returncode}; last lines of its log ({log_path}):\n"
                    f"{rails.tail(log_path)}"
                )
            # Instances sharing a port (SO_REUSEPORT) answer for each other: each must also be listening itself.
            shared = self.balancer_kind == "reuseport"
            status = _http_status(url)
            if status == 200 and (not shared or _listening(proc.pid, port)):
                return
            time.sleep(HEALTH_POLL_S)
        answered = f"it answered HTTP {status}" if status else "nothing answered"
        hint = " (Rails 7.1+ apps answer /up: pass --health-path /up)" if self.app.kind == "rails" else ""
        if status in (301, 302, 307, 308):
            hint = (
                " (a redirect: the miniature speaks plain HTTP, as an Elastic Beanstalk environment without a certificate "
                "does; turn off config.force_ssl in production, or exclude the health path from it)"
            )
        raise ScaleperfError(
            f"{what} did not answer {url} with 200 within {timeout:.0f}s: {answered}{hint}; "
            f"last lines of its log ({log_path}):\n{rails.tail(log_path)}"
        )

    def _start_balancer(self) -> None:
        port = self.apps[0][2] if self.balancer_kind in ("direct", "reuseport") else free_port()
        backends = [Backend(plan.name, p) for plan, _proc, p in self.apps]
        self.balancer = Balancer(self.balancer_kind, port, backends, self.workdir, health_path=self.app.health_path)
        if self.balancer_kind == "haproxy":
            # No limit (an ALB is not part of the CPU budget); the group accounts its CPU and reaps it if we die.
            self.lb_group = self._group("lb", Limits(cpus=None), unlimited_at_first=False)
            self.balancer.start(wrap=self.lb_group.wrap)
            if self.balancer.pid is not None:
                self.lb_group.track(self.balancer.pid)
        else:
            self.balancer.start()
        self.base_url = f"http://127.0.0.1:{port}"
        if _http_status(self.base_url + self.app.health_path) != 200:
            raise ScaleperfError(f"the endpoint {self.base_url}{self.app.health_path} does not answer after start")

    def _components(self) -> list[Component]:
        comps = [
            Component(group.component.removeprefix(f"{self.config.name}-"), "app", group.usage, plan.cpus)
            for group, plan in zip(self.app_groups, self.plans, strict=True)
        ]
        if self.db_group is not None:
            comps.append(Component("db", "db", self.db_group.usage, self.db_limits.cpus or 1.0))
        if self.lb_group is not None:
            comps.append(Component("lb", "lb", self.lb_group.usage, LB_ALLOTTED_CPUS, throttling_known=False))
        known = self.mechanism.limits
        return [Component(c.name, c.tier, c.usage, c.allotted_cpus, c.throttling_known and known) for c in comps]

    # -- the Deployment protocol ------------------------------------------------------------------
    def describe(self) -> dict:
        balancer = self.balancer.describe() if self.balancer else {"kind": self.balancer_kind}
        return {
            "provider": "local",
            "base_url": self.base_url,
            "config": self.config.describe(),
            "scale": self.scale,
            "scale_reason": self.provider.scale_reason,
            "limits": {"mechanism": self.mechanism.name, "detail": self.mechanism.detail, "warning": self.mechanism.warning},
            "cfs_period_us": self.provider.cfs_period_us,
            "balancer": balancer,  # the requests each instance served are in the run's telemetry
            "instances": [
                {
                    "name": plan.name,
                    "port": port,
                    "pid": proc.pid,
                    "workers": plan.workers,
                    "pool_size": plan.pool_size,
                    "threads": rails.THREADS if self.app.kind == "rails" else None,
                    "cpus": plan.cpus,
                    "memory_bytes": plan.memory_bytes,
                    "command": self.app.command or "bundle exec puma",
                }
                for plan, proc, port in self.apps
            ],
            "app": self.provider.app_facts(),
            "db": {
                "instance_class": self.config.db_class.name,
                "cpus": self.db_limits.cpus,
                "memory_bytes": self.db_limits.memory_bytes,
                **(self.db.describe() if self.db else {"engine": self.app.db_engine}),
            },
            "provision_s": round(self.provision_s, 2),
        }

    def reset_data(self) -> None:
        """Put every table back to the golden state (connections of the app pools stay valid)."""
        if self.db is None:
            raise ScaleperfError("the deployment is not running; provision it first")
        self.db.reset()

    def start_telemetry(self) -> None:
        if self.sampler is not None:
            self.sampler.start()

    def telemetry(self, t0: float, t1: float) -> tuple[Telemetry, ...]:
        if self.sampler is None:
            return ()
        return self.sampler.telemetry(t0, t1)

    # -- teardown -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop everything this deployment started; every step runs even when an earlier one fails."""
        steps = [("telemetry", self._stop_sampler), ("balancer", self._stop_balancer), ("apps", self._stop_apps)]
        steps += [("database", self._stop_db), ("cgroups", self._remove_groups), ("files", self._remove_files)]
        with signals_deferred():
            for what, step in steps:
                try:
                    step()
                except Exception:
                    log.exception("teardown of %s failed; continuing", what)

    def _stop_sampler(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()

    def _stop_balancer(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()

    def _stop_apps(self) -> None:
        procs = self.fronts + [proc for _plan, proc, _port in self.apps]
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
        deadline = time.monotonic() + APP_STOP_TIMEOUT_S
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _stop_db(self) -> None:
        if self.db is not None:
            self.db.stop()

    def _remove_groups(self) -> None:
        for group in self.groups:
            group.remove()  # kills anything still inside (server workers, postgres backends)

    def _remove_files(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
