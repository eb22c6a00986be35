"""An in-memory Elastic Beanstalk for tests: the environment state machine moto does not have, and the
service's rules (:mod:`scaleperf.aws.fake_rules`) that moto does not know.

Each ``describe_environment`` call is one tick of the clock: a created environment stays ``Launching``
for ``launch_polls`` ticks and then becomes ``Ready``/``Green`` (or ends ``Red``/``Severe`` when told to,
or when its instances cannot be launched), an update goes ``Updating`` -> ``Ready``, a termination
``Terminating`` -> ``Terminated``.  After a creation or an update the health may stay Red/Severe for
``settle_polls`` ticks, as a real environment does while the load balancer's health checks catch up.
Events are worded as the real service words them.  :mod:`scaleperf.aws.fake_wire` serves it to a real
boto3 client.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from scaleperf.aws import fake_rules as rules
from scaleperf.aws.cloud import READY, TERMINATED, EbEvent, EnvResources, EnvState, InstanceHealth, OptionSettings, OptionSpec
from scaleperf.aws.fake_rules import FakeEbError

__all__ = ["ACCOUNT", "STACKS", "FakeBeanstalk", "FakeEbError", "serve"]

ACCOUNT = "123456789012"  # the account moto uses, so ARNs look alike
STACKS = (
    "64bit Amazon Linux 2023 v4.7.1 running Python 3.12",
    "64bit Amazon Linux 2023 v4.7.1 running Python 3.11",
    "64bit Amazon Linux 2023 v4.5.2 running Python 3.11",
    "64bit Amazon Linux 2023 v4.6.1 running Ruby 3.4",
    "64bit Amazon Linux 2023 v4.4.0 running Ruby 3.3",
    "64bit Amazon Linux 2 v3.9.1 running Ruby 3.2",
)
SEVERE_EVENT = "Environment health has transitioned from Ok to Severe. ELB health is failing or not available for all instances."


@dataclass
class _Env:
    state: EnvState
    options: dict[tuple[str, str], str]
    tags: dict[str, str]
    lb_type: str | None  # None: single instance
    ticks_left: int = 0
    next_status: str = READY
    end_health: str = "Green"
    end_health_status: str = "Ok"
    unsettled: int = 0  # describes left with a transient Red/Severe after reaching Ready
    failure: str | None = None


@dataclass
class FakeBeanstalk:
    region: str = "us-east-1"
    launch_polls: int = 2  # describes an environment spends Launching
    update_polls: int = 2  # describes an update spends Updating
    terminate_polls: int = 1  # describes a termination spends Terminating
    settle_polls: int = 0  # describes a Ready environment stays Red/Severe after a creation or update
    create_outcome: str = "Green"  # "Green" | "Red" | "Severe" | "hang" (never leaves Launching)
    new_account: bool = False  # created on or after 1 October 2024: no launch configurations at all
    version_outcome: str = "PROCESSED"  # what processing an application version ends in
    stacks: tuple[str, ...] = STACKS
    read_bundle: Callable[[str, str], bytes] | None = None  # (bucket, key) -> the source bundle, to read its commands
    calls: list[tuple[str, dict]] = field(default_factory=list)
    commands: dict[tuple[str, str], list[rules.Command]] = field(default_factory=dict)  # per (application, version)
    _apps: dict[str, dict] = field(default_factory=dict)
    _versions: dict[tuple[str, str], dict] = field(default_factory=dict)
    _envs: dict[str, _Env] = field(default_factory=dict)
    _events: dict[str, list[EbEvent]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    # ------------------------------------------------------------------ helpers
    def _tick(self) -> datetime:
        self._now += timedelta(seconds=10)
        return self._now

    def _event(self, env: str, message: str, severity: str = "INFO") -> None:
        self._events.setdefault(env, []).append(EbEvent(self._tick(), severity, message))

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:elasticbeanstalk:{self.region}:{ACCOUNT}:{kind}/{name}"

    @staticmethod
    def _check_options(options: OptionSettings) -> dict[tuple[str, str], str]:
        out = {}
        for o in options:
            if set(o) != {"Namespace", "OptionName", "Value"} or not o["Namespace"].startswith("aws:"):
                raise FakeEbError(f"InvalidParameterValue: malformed option setting {o}")
            out[(o["Namespace"], o["OptionName"])] = o["Value"]
        rules.check_known(out)
        return out

    def options(self, name: str) -> dict[tuple[str, str], str]:
        """The option settings an environment has now (test helper)."""
        return dict(self._envs[name].options)

    def _live(self, name: str) -> _Env:
        env = self._envs.get(name)
        if env is None or env.state.status == TERMINATED:
            raise FakeEbError(f"InvalidParameterValue: No Environment found for EnvironmentName = '{name}'.")
        return env

    # ------------------------------------------------------------------ applications and versions
    def solution_stacks(self) -> list[str]:
        return list(self.stacks)

    def option_specs(self, stack: str, options: OptionSettings) -> list[OptionSpec]:
        if stack not in self.stacks:
            raise FakeEbError(f"InvalidParameterValue: No Solution Stack named '{stack}' found.")
        return rules.option_specs(options)

    def create_application(self, name: str, tags: dict[str, str]) -> None:
        self.calls.append(("create_application", {"name": name}))
        if name in self._apps:
            raise FakeEbError(f"InvalidParameterValue: Application {name} already exists.")
        self._apps[name] = {"arn": self._arn("application", name), "tags": dict(tags)}

    def delete_application(self, name: str) -> None:
        self.calls.append(("delete_application", {"name": name}))
        if name not in self._apps:
            raise FakeEbError(f"InvalidParameterValue: No Application named '{name}' found.")
        if any(e.state.application == name and e.state.status != TERMINATED for e in self._envs.values()):
            raise FakeEbError(f"InvalidParameterValue: Unable to delete application {name} because it has running environments")
        del self._apps[name]
        self._versions = {k: v for k, v in self._versions.items() if k[0] != name}

    def applications(self) -> list[tuple[str, str]]:
        return [(n, a["arn"]) for n, a in self._apps.items()]

    def create_application_version(self, *, application: str, label: str, bucket: str, key: str, tags: dict[str, str]) -> None:
        self.calls.append(("create_application_version", {"application": application, "label": label, "bucket": bucket}))
        if application not in self._apps:
            raise FakeEbError(f"InvalidParameterValue: No Application named '{application}' found.")
        status = self.version_outcome
        if self.read_bundle is not None:
            try:
                self.commands[(application, label)] = rules.effective_commands(self.read_bundle(bucket, key))
            except Exception:  # not a zip, or an unreadable configuration file: processing fails
                status = "FAILED"
        self._versions[(application, label)] = {"bucket": bucket, "key": key, "status": status}

    def version_status(self, application: str, label: str) -> str:
        return self._versions.get((application, label), {}).get("status", "")

    # ------------------------------------------------------------------ environments
    def create_environment(
        self, *, application: str, name: str, version: str, stack: str, options: OptionSettings, tags: dict[str, str]
    ) -> EnvState:
        self.calls.append(("create_environment", {"name": name, "options": options, "stack": stack}))
        if (application, version) not in self._versions:
            raise FakeEbError(f"InvalidParameterValue: No Application Version named '{version}' found.")
        if stack not in self.stacks:
            raise FakeEbError(f"InvalidParameterValue: No Solution Stack named '{stack}' found.")
        if name in self._envs and self._envs[name].state.status != TERMINATED:
            raise FakeEbError(f"InvalidParameterValue: Environment {name} already exists.")
        opts = self._check_options(options)
        env_id = f"e-{next(self._ids):010d}"
        state = EnvState(
            name=name,
            env_id=env_id,
            status="Launching",
            health="Grey",
            health_status="Pending",
            cname=f"{name}.{self.region}.elasticbeanstalk.com",
            version_label=version,
            arn=self._arn("environment", f"{application}/{name}"),
            application=application,
        )
        balanced = opts.get((rules.NS_ENV, "EnvironmentType"), "LoadBalanced") == "LoadBalanced"
        lb_type = opts.get((rules.NS_ENV, "LoadBalancerType"), "classic") if balanced else None
        env = _Env(state=state, options=opts, tags=dict(tags), lb_type=lb_type, ticks_left=self.launch_polls)
        env.failure = rules.launch_failure(opts, new_account=self.new_account)
        if self.create_outcome == "hang":
            env.ticks_left = 10**9
        elif self.create_outcome == "Red" or env.failure:
            env.end_health, env.end_health_status = "Red", "Severe"
        elif self.create_outcome == "Severe":
            env.end_health, env.end_health_status = "Yellow", "Severe"
        env.unsettled = self.settle_polls
        self._envs[name] = env
        self._events[name] = []
        self._event(name, "createEnvironment is starting.")
        self._event(name, f"Created security group named: awseb-{env_id}-stack-AWSEBSecurityGroup")
        return state

    def update_environment(self, *, name: str, options: OptionSettings, version: str | None = None) -> EnvState:
        self.calls.append(("update_environment", {"name": name, "options": options, "version": version}))
        env = self._live(name)
        if env.state.status != READY:
            raise FakeEbError(
                f"InvalidParameterValue: Environment named {name} is in an invalid state for this operation. Must be Ready."
            )
        new = self._check_options(options)
        wanted_lb = new.get((rules.NS_ENV, "LoadBalancerType"))
        if wanted_lb is not None and wanted_lb != (env.lb_type or "classic"):
            raise FakeEbError(
                "ConfigurationValidationException: Configuration validation exception: Invalid option specification "
                "(Namespace: 'aws:elasticbeanstalk:environment', OptionName: 'LoadBalancerType'): "
                "You can't change the load balancer type of a running environment; choose it when creating the environment."
            )
        kind = new.get((rules.NS_ENV, "EnvironmentType"))
        if kind == "LoadBalanced" and env.lb_type is None:
            env.lb_type = "classic"  # the creation-only LoadBalancerType was never chosen: the API's default
        elif kind == "SingleInstance":
            env.lb_type = None
        env.options.update(new)
        env.state = replace(env.state, status="Updating", version_label=version or env.state.version_label)
        env.ticks_left, env.next_status = self.update_polls, READY
        env.end_health, env.end_health_status = "Green", "Ok"
        env.unsettled = self.settle_polls
        self._event(name, "Environment update is starting.")
        return env.state

    def terminate_environment(self, name: str) -> None:
        self.calls.append(("terminate_environment", {"name": name}))
        env = self._live(name)
        env.state = replace(env.state, status="Terminating")
        env.ticks_left, env.next_status, env.unsettled = self.terminate_polls, TERMINATED, 0
        self._event(name, "terminateEnvironment is starting.")

    def describe_environment(self, name: str) -> EnvState | None:
        env = self._envs.get(name)
        if env is None:
            return None
        if env.state.status in ("Launching", "Updating", "Terminating"):
            if env.ticks_left > 0:
                env.ticks_left -= 1
            else:
                self._finish(name, env)
        elif env.state.status == READY and env.unsettled > 0:
            env.unsettled -= 1
            if env.unsettled == 0:
                env.state = replace(env.state, health=env.end_health, health_status=env.end_health_status)
                self._event(name, "Environment health has transitioned from Severe to Ok.")
        return None if env.state.status == TERMINATED else env.state

    def _finish(self, name: str, env: _Env) -> None:
        was = env.state.status
        if was == "Terminating":
            env.state = replace(env.state, status=TERMINATED, health="Grey")
            self._event(name, "terminateEnvironment completed successfully.")
            return
        failed = env.end_health_status == "Severe"
        if env.unsettled > 0 and not failed:
            env.state = replace(env.state, status=READY, health="Red", health_status="Severe")
            self._event(name, SEVERE_EVENT, "WARN")
        else:
            env.state = replace(env.state, status=READY, health=env.end_health, health_status=env.end_health_status)
        if failed:
            if env.failure:
                self._event(name, env.failure, "ERROR")
            self._event(name, "Environment health has transitioned from Pending to Severe. ELB health is failing.", "WARN")
            self._event(
                name,
                "Create environment operation is complete, but with errors. "
                "For more information, see troubleshooting documentation.",
                "ERROR",
            )
        elif was == "Launching":
            self._event(name, "Successfully launched environment: " + name)
        else:
            self._event(name, "Environment update completed successfully.")

    def environments(self) -> list[EnvState]:
        return [e.state for e in self._envs.values() if e.state.status != TERMINATED]

    def tags(self, arn: str) -> dict[str, str]:
        for e in self._envs.values():
            if e.state.arn == arn:
                return dict(e.tags)
        for a in self._apps.values():
            if a["arn"] == arn:
                return dict(a["tags"])
        raise FakeEbError(f"ResourceNotFoundException: {arn}")

    def events(self, name: str, since: datetime | None) -> list[EbEvent]:
        return [e for e in self._events.get(name, []) if since is None or e.when > since]

    def resources(self, name: str) -> EnvResources:
        env = self._envs[name]
        ids = tuple(f"i-{env.state.env_id[2:]}{n:07x}" for n in range(self._count(env)))
        suffix = f"awseb-{name}/{env.state.env_id[2:]}"
        lbs = {
            None: (),
            "classic": (f"awseb-{env.state.env_id}-AWSEBLoa",),
            "application": (f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT}:loadbalancer/app/{suffix}",),
            "network": (f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT}:loadbalancer/net/{suffix}",),
        }[env.lb_type]
        return EnvResources(instance_ids=ids, load_balancers=lbs)

    @staticmethod
    def _count(env: _Env) -> int:
        if env.lb_type is None or env.failure:
            return 0 if env.failure else 1
        return int(env.options.get(("aws:autoscaling:asg", "MinSize"), "1"))

    def instances_health(self, name: str) -> list[InstanceHealth]:
        env = self._envs[name]
        bad = env.state.health in ("Red", "Yellow")
        causes = ("Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",) if bad else ()
        return [
            InstanceHealth(i, rules.instance_type(env.options), env.state.health, env.state.health_status, causes)
            for i in self.resources(name).instance_ids
        ]


def serve(fake: FakeBeanstalk, client) -> None:
    """Answer a real boto3 ``elasticbeanstalk`` client's calls from ``fake`` (see :mod:`scaleperf.aws.fake_wire`)."""
    from scaleperf.aws.fake_wire import serve as wire

    wire(fake, client)
