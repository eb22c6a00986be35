"""An Elastic Beanstalk environment for one scaling configuration: its option settings, waiting for it, and
checking that what runs is what was asked for.

Option settings follow the Elastic Beanstalk general options reference:

* the instance type in ``aws:ec2:instances InstanceTypes`` (``aws:autoscaling:launchconfiguration
  InstanceType`` is obsolete; when both are set InstanceTypes wins), with its architecture;
* launch templates, always: ``DisableIMDSv1=true`` and ``RootVolumeType=gp3`` make Elastic Beanstalk use an
  EC2 launch template, because launch configurations do not support instance types released after 2022
  (m7g) and accounts created since October 2024 cannot create launch configurations at all;
* the shape at creation only: ``EnvironmentType`` and, when load balanced, ``LoadBalancerType=application``
  (the API's default is classic, and the type can only be chosen when the environment is created), so a
  session keeps one environment per shape and never flips one in place;
* a fixed fleet of N with MinSize = MaxSize = N (nothing autoscales during a test), the app's health path
  for the default process, and the app's settings as environment properties.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from scaleperf.aws.cloud import FAILED_HEALTH, FAILED_HEALTH_STATUS, READY, Beanstalk, EnvState, OptionSettings
from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

HEALTH_CHECK_PATH = "/health"  # the reference backend's health endpoint (Rails 7.1+ answers /up)
POLL_S = 15.0  # seconds between DescribeEnvironments calls while waiting
CREATE_TIMEOUT_S = 30 * 60  # environment creation takes 10-30 minutes
UPDATE_TIMEOUT_S = 25 * 60  # a configuration update that replaces instances takes about as long
TERMINATE_TIMEOUT_S = 20 * 60  # termination, including the load balancer and the instances
HEALTH_GRACE_S = 120.0  # a Red/Severe that lasts this long after Ready is a failure; shorter is the ALB catching up
INSTANCE_PROFILE = "aws-elasticbeanstalk-ec2-role"  # the console's default instance profile for EB instances
SERVICE_ROLE = "aws-elasticbeanstalk-service-role"  # the console's default service role (enhanced health)
SHAPES = ("single", "balanced")  # one environment per shape: SingleInstance, LoadBalanced (application LB)

NS_LAUNCH = "aws:autoscaling:launchconfiguration"
NS_ASG = "aws:autoscaling:asg"
NS_ENV = "aws:elasticbeanstalk:environment"
NS_PROCESS = "aws:elasticbeanstalk:environment:process:default"
NS_PROPS = "aws:elasticbeanstalk:application:environment"
NS_INSTANCES = "aws:ec2:instances"
NS_VPC = "aws:ec2:vpc"
NS_HEALTH = "aws:elasticbeanstalk:healthreporting:system"


def option(namespace: str, name: str, value: str | int) -> dict[str, str]:
    return {"Namespace": namespace, "OptionName": name, "Value": str(value)}


def shape(config: ScalingConfig) -> str:
    return "balanced" if config.load_balanced else "single"


def fleet_options(config: ScalingConfig) -> OptionSettings:
    """Instance type and fleet size of ``config``: what may change on a running environment of its shape."""
    out = [
        option(NS_INSTANCES, "InstanceTypes", config.app_type.name),
        option(NS_INSTANCES, "SupportedArchitectures", config.app_type.arch),
    ]
    if config.load_balanced:
        out += [option(NS_ASG, "MinSize", config.app_instances), option(NS_ASG, "MaxSize", config.app_instances)]
    return out


@dataclass(frozen=True)
class Network:
    """Where the environment goes: the VPC and subnets in availability zones that offer the instance types."""

    vpc: str
    subnets: tuple[str, ...]


def creation_options(
    config: ScalingConfig,
    *,
    security_group: str,
    properties: dict[str, str],
    health_path: str = HEALTH_CHECK_PATH,
    network: Network | None = None,
    instance_profile: str = INSTANCE_PROFILE,
) -> OptionSettings:
    """Everything a new environment for ``config`` is created with, the creation-only settings included."""
    out = [
        option(NS_ENV, "EnvironmentType", "LoadBalanced" if config.load_balanced else "SingleInstance"),
        *([option(NS_ENV, "LoadBalancerType", "application")] if config.load_balanced else []),
        *fleet_options(config),
        option(NS_LAUNCH, "DisableIMDSv1", "true"),  # with RootVolumeType=gp3: a launch template, never a launch configuration
        option(NS_LAUNCH, "RootVolumeType", "gp3"),
        option(NS_LAUNCH, "SecurityGroups", security_group),
        option(NS_LAUNCH, "IamInstanceProfile", instance_profile),
        option(NS_LAUNCH, "MonitoringInterval", "1 minute"),  # detailed monitoring: 1-minute CPU in CloudWatch
        option(NS_ENV, "ServiceRole", SERVICE_ROLE),
        option(NS_HEALTH, "SystemType", "enhanced"),
        option(NS_PROCESS, "HealthCheckPath", health_path),
    ]
    if network is not None:
        subnets = ",".join(network.subnets)
        out += [option(NS_VPC, "VPCId", network.vpc), option(NS_VPC, "Subnets", subnets)]
        out += [option(NS_VPC, "AssociatePublicIpAddress", "true")]
        if config.load_balanced:
            out.append(option(NS_VPC, "ELBSubnets", subnets))
    return [*out, *property_options(properties)]


def property_options(properties: dict[str, str]) -> OptionSettings:
    return [option(NS_PROPS, k, v) for k, v in properties.items()]


def describe_options(options: OptionSettings, secrets: frozenset[str] = frozenset()) -> str:
    """One line per option for logs, with environment properties' secret values hidden."""
    lines = []
    for o in options:
        value = o["Value"]
        if o["Namespace"] == NS_PROPS and (value in secrets or any(s and s in value for s in secrets)):
            value = "********"
        lines.append(f"{o['Namespace']} {o['OptionName']}={value}")
    return "; ".join(lines)


def lb_type(name: str) -> str:
    """The kind of a load balancer as DescribeEnvironmentResources names it: an ARN (application, network) or
    a classic load balancer's plain name."""
    m = re.search(r":loadbalancer/(app|net)/", name)
    return {"app": "application", "net": "network"}[m.group(1)] if m else "classic"


def verify_fleet(eb: Beanstalk, name: str, config: ScalingConfig) -> None:
    """Read the environment's real instances (type, count) and load balancer back; stop when they differ."""
    res = eb.resources(name)
    health = eb.instances_health(name)
    problems = []
    if len(res.instance_ids) != config.app_instances:
        problems.append(f"{len(res.instance_ids)} instance(s) instead of {config.app_instances}")
    wrong = sorted({h.instance_type for h in health if h.instance_type and h.instance_type != config.app_type.name})
    if wrong:
        problems.append(f"instance type {', '.join(wrong)} instead of {config.app_type.name}")
    kinds = [lb_type(lb) for lb in res.load_balancers]
    want = ["application"] if config.load_balanced else []
    if kinds != want:
        problems.append(f"load balancer {', '.join(kinds) or 'none'} instead of {', '.join(want) or 'none'}")
    if problems:
        raise ScaleperfError(
            f"environment {name} does not run {config.name} as configured: {'; '.join(problems)}. Its option settings did "
            "not take effect; look at the environment's configuration in the Elastic Beanstalk console, then remove it "
            "with `scaleperf aws sweep`"
        )


def pick_stack(stacks: list[str], kind: str, version: str | None = None) -> str:
    """The newest solution stack for the app: ``reference`` on Python 3.11+, a Rails app on Ruby ``version``
    (major.minor; default 3.4), both on Amazon Linux 2023."""
    if kind == "reference":
        pattern = r"^64bit Amazon Linux 2023 v[\d.]+ running Python 3\.1[1-9]$"
    else:
        pattern = rf"^64bit Amazon Linux 2023 v[\d.]+ running Ruby {re.escape(version or '3.4')}$"
    found = [s for s in stacks if re.match(pattern, s)]
    if not found:
        offered = sorted({m.group(1) for s in stacks if (m := re.search(r"running Ruby ([\d.]+)$", s))})
        which = f"Ruby {version or '3.4'}" if kind != "reference" else "Python 3.11 or newer"
        raise ScaleperfError(
            f"no Elastic Beanstalk platform in this region runs {which} on Amazon Linux 2023"
            + (f" (Ruby platforms offered: {', '.join(offered)}); set the app's Ruby to one of them" if offered else "")
            + "; `aws elasticbeanstalk list-available-solution-stacks` lists them"
        )

    def key(stack: str) -> tuple[int, ...]:
        m = re.search(r" v([\d.]+) running \w+ ([\d.]+)", stack)
        return tuple(int(x) for x in (m.group(2) + "." + m.group(1)).split(".")) if m else ()

    return max(found, key=key)


@dataclass
class Waiter:
    """Polls an environment until it is where it should be, saying what changes on the way.

    Right after a creation, an update or a scale-out, Red/Severe is normal for a while: the load balancer's
    targets need several health checks.  Only a Red/Severe that lasts ``grace_s`` is a failure, and then the
    message names the instances and what Elastic Beanstalk's events report."""

    eb: Beanstalk
    say: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_s: float = POLL_S
    grace_s: float = HEALTH_GRACE_S
    health_path: str = HEALTH_CHECK_PATH

    def ready(self, name: str, timeout_s: float, doing: str) -> EnvState:
        """Wait until ``name`` is Ready and Green; raise if it stays Red/Severe or the time runs out."""
        state = self._wait(name, timeout_s, doing, want_gone=False)
        assert state is not None
        return state

    def gone(self, name: str, timeout_s: float = TERMINATE_TIMEOUT_S) -> None:
        self._wait(name, timeout_s, "terminating", want_gone=True)

    def _wait(self, name: str, timeout_s: float, doing: str, *, want_gone: bool) -> EnvState | None:
        deadline = self.clock() + timeout_s
        since: datetime | None = None
        last: tuple[str, str, str] | None = None
        problems: list[str] = []
        bad_since: float | None = None
        while True:
            state = self.eb.describe_environment(name)
            for ev in self.eb.events(name, since):
                since = ev.when
                self.say(f"{name}: {ev.severity} {ev.message}")
                if ev.severity in ("WARN", "ERROR", "FATAL"):
                    problems.append(ev.message)
            if state is None:
                if want_gone:
                    return None
                raise ScaleperfError(
                    f"environment {name} disappeared while {doing}; see its events in the Elastic Beanstalk console"
                )
            now = (state.status, state.health, state.health_status)
            if now != last:
                self.say(
                    f"{name}: {state.status}, health {state.health}"
                    + (f" ({state.health_status})" if state.health_status else "")
                )
                last = now
            if not want_gone and state.status == READY:
                if state.health in FAILED_HEALTH or state.health_status in FAILED_HEALTH_STATUS:
                    bad_since = self.clock() if bad_since is None else bad_since
                    if self.clock() - bad_since >= self.grace_s:
                        raise self._failed(name, state, doing, problems)
                elif state.health == "Green":
                    return state
                else:
                    bad_since = None
            if self.clock() >= deadline:
                raise ScaleperfError(
                    f"environment {name} still {state.status}/{state.health} after {timeout_s:.0f} s while {doing}; "
                    "look at its events in the Elastic Beanstalk console, then remove what is left with `scaleperf aws sweep`"
                )
            self.sleep(self.poll_s)

    def _failed(self, name: str, state: EnvState, doing: str, problems: list[str]) -> ScaleperfError:
        try:
            instances = "; ".join(str(h) for h in self.eb.instances_health(name) if h.color != "Green") or "none reported"
        except Exception as exc:  # the health report is a courtesy: the failure is the news
            instances = f"not readable ({exc})"
        events = " | ".join(problems[-3:]) or "no warnings or errors"
        return ScaleperfError(
            f"environment {name} stayed {state.health}/{state.health_status or '-'} for {self.grace_s:.0f} s while {doing}. "
            f"Instances: {instances}. Events: {events}. Check the app's logs (Elastic Beanstalk console > Logs) and "
            f"that it answers {self.health_path} with 200"
        )
