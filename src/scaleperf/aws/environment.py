"""An Elastic Beanstalk environment for one scaling configuration: its option settings, and waiting for it.

Option settings follow the Elastic Beanstalk general options reference: the instance type
(``aws:autoscaling:launchconfiguration``), single instance or load balanced with an application load
balancer (``aws:elasticbeanstalk:environment``), a fixed fleet of N with MinSize = MaxSize = N so nothing
autoscales during a test (``aws:autoscaling:asg``), ``/health`` as the health check path of the default
process, and the app's settings as environment properties (``aws:elasticbeanstalk:application:environment``).
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

HEALTH_CHECK_PATH = "/health"  # the reference backend's (and the course apps') health endpoint
POLL_S = 15.0  # seconds between DescribeEnvironments calls while waiting
CREATE_TIMEOUT_S = 30 * 60  # environment creation takes 10-30 minutes
UPDATE_TIMEOUT_S = 25 * 60  # a configuration update that replaces instances takes about as long
TERMINATE_TIMEOUT_S = 20 * 60  # termination, including the load balancer and the instances
INSTANCE_PROFILE = "aws-elasticbeanstalk-ec2-role"  # the console's default instance profile for EB instances
SERVICE_ROLE = "aws-elasticbeanstalk-service-role"  # the console's default service role (enhanced health)
PLATFORMS = {  # app kind -> solution stack pattern (newest matching stack wins)
    "rails": r"^64bit Amazon Linux 2023 v[\d.]+ running Ruby 3\.4$",
    "reference": r"^64bit Amazon Linux 2023 v[\d.]+ running Python 3\.1[1-9]$",
}

NS_LAUNCH = "aws:autoscaling:launchconfiguration"
NS_ASG = "aws:autoscaling:asg"
NS_ENV = "aws:elasticbeanstalk:environment"
NS_PROCESS = "aws:elasticbeanstalk:environment:process:default"
NS_PROPS = "aws:elasticbeanstalk:application:environment"
NS_INSTANCES = "aws:ec2:instances"
NS_HEALTH = "aws:elasticbeanstalk:healthreporting:system"


def option(namespace: str, name: str, value: str | int) -> dict[str, str]:
    return {"Namespace": namespace, "OptionName": name, "Value": str(value)}


def fleet_options(config: ScalingConfig, *, was_load_balanced: bool | None = None) -> OptionSettings:
    """Instance type, environment type and fleet size of ``config``.

    ``was_load_balanced`` is None at creation; on an update it says what the environment was, because the
    load balancer type can only be chosen when the load balancer is created."""
    lb = config.load_balanced
    out = [
        option(NS_LAUNCH, "InstanceType", config.app_type.name),
        option(NS_INSTANCES, "SupportedArchitectures", config.app_type.arch),
        option(NS_ENV, "EnvironmentType", "LoadBalanced" if lb else "SingleInstance"),
    ]
    if lb and not was_load_balanced:
        out.append(option(NS_ENV, "LoadBalancerType", "application"))
    if lb:
        out += [option(NS_ASG, "MinSize", config.app_instances), option(NS_ASG, "MaxSize", config.app_instances)]
    return out


def creation_options(
    config: ScalingConfig, *, security_group: str, properties: dict[str, str], instance_profile: str = INSTANCE_PROFILE
) -> OptionSettings:
    """Everything a new environment for ``config`` is created with."""
    return [
        *fleet_options(config),
        option(NS_LAUNCH, "SecurityGroups", security_group),
        option(NS_LAUNCH, "IamInstanceProfile", instance_profile),
        option(NS_LAUNCH, "MonitoringInterval", "1 minute"),  # detailed monitoring: 1-minute CPU in CloudWatch
        option(NS_ENV, "ServiceRole", SERVICE_ROLE),
        option(NS_HEALTH, "SystemType", "enhanced"),
        option(NS_PROCESS, "HealthCheckPath", HEALTH_CHECK_PATH),
        *property_options(properties),
    ]


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


def pick_stack(stacks: list[str], kind: str) -> str:
    """The newest solution stack for the app kind (``rails``: Ruby 3.4 on AL2023; ``reference``: Python)."""
    pattern = re.compile(PLATFORMS[kind])
    found = [s for s in stacks if pattern.match(s)]
    if not found:
        raise ScaleperfError(
            f"no Elastic Beanstalk platform in this region matches {PLATFORMS[kind]!r}; "
            "run `aws elasticbeanstalk list-available-solution-stacks` and choose another region"
        )

    def version(stack: str) -> tuple[int, ...]:
        m = re.search(r" v([\d.]+) running \w+ ([\d.]+)", stack)
        return tuple(int(x) for x in (m.group(2) + "." + m.group(1)).split(".")) if m else ()

    return max(found, key=version)


@dataclass
class Waiter:
    """Polls an environment until it is where it should be, saying what changes on the way."""

    eb: Beanstalk
    say: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_s: float = POLL_S

    def ready(self, name: str, timeout_s: float, doing: str) -> EnvState:
        """Wait until ``name`` is Ready and Green; raise if it ends Red/Severe or the time runs out."""
        state = self._wait(name, timeout_s, doing, want_gone=False)
        assert state is not None
        return state

    def gone(self, name: str, timeout_s: float = TERMINATE_TIMEOUT_S) -> None:
        self._wait(name, timeout_s, "terminating", want_gone=True)

    def _wait(self, name: str, timeout_s: float, doing: str, *, want_gone: bool) -> EnvState | None:
        deadline = self.clock() + timeout_s
        since: datetime | None = None
        last: tuple[str, str, str] | None = None
        errors: list[str] = []
        while True:
            state = self.eb.describe_environment(name)
            for ev in self.eb.events(name, since):
                since = ev.when
                self.say(f"{name}: {ev.severity} {ev.message}")
                if ev.severity in ("ERROR", "FATAL"):
                    errors.append(ev.message)
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
                    detail = f": {errors[-1]}" if errors else ""
                    raise ScaleperfError(
                        f"environment {name} ended {state.health}/{state.health_status or '-'} while {doing}{detail}; "
                        "check the app's logs (Elastic Beanstalk console > Logs) and that it answers "
                        f"{HEALTH_CHECK_PATH} with 200"
                    )
                if state.health == "Green":
                    return state
            if self.clock() >= deadline:
                raise ScaleperfError(
                    f"environment {name} still {state.status}/{state.health} after {timeout_s:.0f} s while {doing}; "
                    "look at its events in the Elastic Beanstalk console, then remove what is left with `scaleperf aws sweep`"
                )
            self.sleep(self.poll_s)
