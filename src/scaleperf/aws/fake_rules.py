"""The Elastic Beanstalk rules the in-memory fake enforces, as the service documents them.

* ``aws:autoscaling:launchconfiguration InstanceType`` is obsolete: ``aws:ec2:instances InstanceTypes``
  replaces it, and when both are set the first entry of InstanceTypes is the type the instances get.
* An environment uses an EC2 launch template when ``DisableIMDSv1`` is true, ``RootVolumeType`` is gp3
  (or io2) or Spot is enabled; otherwise an Auto Scaling launch configuration.  Launch configurations do not
  support instance types released after 2022, and accounts created on or after 1 October 2024 cannot
  create launch configurations at all: either way environment creation fails (asynchronously, with ERROR
  events, as the real service reports a failed CloudFormation stack).
* ``LoadBalancerType`` can only be chosen when an environment is created (default ``classic``); an update
  that changes it is rejected, and an environment turned from SingleInstance to LoadBalanced gets the
  default (classic) load balancer.
* Unknown options are rejected (``ConfigurationValidationException``), environment properties excepted.
* A container command cannot be both ``leader_only`` and have a ``test``: leader_only wins and the test is
  ignored (:func:`effective_commands`).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

from scaleperf.aws.cloud import OptionSpec

NS_LAUNCH = "aws:autoscaling:launchconfiguration"
NS_INSTANCES = "aws:ec2:instances"
NS_ENV = "aws:elasticbeanstalk:environment"
NS_PROPS = "aws:elasticbeanstalk:application:environment"
DEFAULT_INSTANCE_TYPE = "t3.micro"  # what EB launches when no type is given (x86_64)
# Families added after 2022, which launch configurations do not support (m7g: 2023; c7g is older but arrived
# in several Regions only after 2022, so it is refused here too, as the safe assumption).
POST_2022_FAMILIES = ("m7g", "c7g", "r7g", "c7gn", "m7i", "m7i-flex", "c7i", "r7i", "m7a", "c7a", "r7a", "m8g", "c8g", "r8g")
OPTIONS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {  # what the fake platform knows: type, allowed values
    (NS_LAUNCH, "InstanceType"): ("Scalar", ()),
    (NS_LAUNCH, "SecurityGroups"): ("List", ()),
    (NS_LAUNCH, "IamInstanceProfile"): ("Scalar", ()),
    (NS_LAUNCH, "MonitoringInterval"): ("Scalar", ("1 minute", "5 minute")),
    (NS_LAUNCH, "DisableIMDSv1"): ("Boolean", ("true", "false")),
    (NS_LAUNCH, "RootVolumeType"): ("Scalar", ("standard", "gp2", "gp3", "io1", "io2")),
    (NS_INSTANCES, "InstanceTypes"): ("CommaSeparatedList", ()),
    (NS_INSTANCES, "SupportedArchitectures"): ("CommaSeparatedList", ("x86_64", "arm64", "i386")),
    (NS_INSTANCES, "EnableSpot"): ("Boolean", ("true", "false")),
    (NS_ENV, "EnvironmentType"): ("Scalar", ("SingleInstance", "LoadBalanced")),
    (NS_ENV, "LoadBalancerType"): ("Scalar", ("classic", "application", "network")),
    (NS_ENV, "ServiceRole"): ("Scalar", ()),
    ("aws:autoscaling:asg", "MinSize"): ("Scalar", ()),
    ("aws:autoscaling:asg", "MaxSize"): ("Scalar", ()),
    ("aws:ec2:vpc", "VPCId"): ("Scalar", ()),
    ("aws:ec2:vpc", "Subnets"): ("List", ()),
    ("aws:ec2:vpc", "ELBSubnets"): ("List", ()),
    ("aws:ec2:vpc", "AssociatePublicIpAddress"): ("Boolean", ("true", "false")),
    ("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath"): ("Scalar", ()),
    ("aws:elasticbeanstalk:healthreporting:system", "SystemType"): ("Scalar", ("basic", "enhanced")),
}


class FakeEbError(Exception):
    """What boto3 would raise as a ClientError: ``"<Code>: <message>"``."""


def option_specs(options: list[dict[str, str]]) -> list[OptionSpec]:
    out = []
    for o in options:
        key = (o["Namespace"], o["OptionName"])
        if key in OPTIONS:
            out.append(OptionSpec(key[0], key[1], *OPTIONS[key]))
        elif key[0] == NS_PROPS:
            out.append(OptionSpec(key[0], key[1], "Scalar", ()))
    return out


def check_known(options: dict[tuple[str, str], str]) -> None:
    for (ns, name), value in options.items():
        if ns == NS_PROPS:
            continue
        if (ns, name) not in OPTIONS:
            raise FakeEbError(
                f"ConfigurationValidationException: Invalid option specification (Namespace: '{ns}', OptionName: '{name}'): "
                "Unknown configuration setting."
            )
        allowed = OPTIONS[(ns, name)][1]
        if allowed and OPTIONS[(ns, name)][0] != "CommaSeparatedList" and value not in allowed:
            raise FakeEbError(
                f"ConfigurationValidationException: Invalid option value: '{value}' (Namespace: '{ns}', OptionName: '{name}')"
            )


def instance_type(options: dict[tuple[str, str], str]) -> str:
    """The type the instances get: InstanceTypes' first entry wins over the obsolete InstanceType."""
    types = options.get((NS_INSTANCES, "InstanceTypes"), "")
    if types.strip():
        return types.split(",")[0].strip()
    return options.get((NS_LAUNCH, "InstanceType"), DEFAULT_INSTANCE_TYPE)


def uses_launch_template(options: dict[tuple[str, str], str]) -> bool:
    return (
        options.get((NS_LAUNCH, "DisableIMDSv1"), "").lower() == "true"
        or options.get((NS_LAUNCH, "RootVolumeType"), "") in ("gp3", "io2")
        or options.get((NS_INSTANCES, "EnableSpot"), "").lower() == "true"
    )


def launch_failure(options: dict[tuple[str, str], str], *, new_account: bool) -> str | None:
    """Why the instances cannot be launched (None when they can), worded as the failed stack's events."""
    if uses_launch_template(options):
        return None
    if new_account:
        return (
            "Creating Auto Scaling launch configuration failed. Reason: accounts created on or after October 1, 2024 "
            "cannot create new launch configurations; use launch templates."
        )
    kind = instance_type(options)
    if kind.split(".")[0] in POST_2022_FAMILIES:
        return (
            f"Creating Auto Scaling launch configuration failed. Reason: The specified instance type {kind} "
            "is not supported by launch configurations; use launch templates."
        )
    return None


@dataclass(frozen=True)
class Command:
    """A container command as Elastic Beanstalk runs it."""

    name: str
    command: str
    leader_only: bool
    test: str | None  # the test it honours (None: none, or ignored)
    ignored_test: str | None = None  # a test that leader_only made the service ignore


def effective_commands(bundle: bytes) -> list[Command]:
    """The container commands of a source bundle's ``.ebextensions/*.config`` files, in the order they run
    (files by name, commands by name), with each test as the service treats it."""
    out: list[Command] = []
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(".ebextensions/") and n.endswith(".config"))
        for name in names:
            doc = _parse(zf.read(name).decode())
            for cmd_name, spec in sorted((doc.get("container_commands") or {}).items()):
                leader = str(spec.get("leader_only", "false")).lower() == "true"
                test = spec.get("test")
                out.append(
                    Command(cmd_name, str(spec.get("command", "")), leader, None if leader else test, test if leader else None)
                )
    return out


def _parse(text: str) -> dict:
    """A configuration file: JSON, or the YAML subset of nested ``key: value`` maps."""
    if text.lstrip().startswith("{"):
        return json.loads(text)
    root: dict = {}
    stack: list[tuple[int, dict]] = [(-1, root)]
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        key, _, value = raw.strip().partition(":")
        while stack[-1][0] >= indent:
            stack.pop()
        value = value.strip()
        if not value or value in (">-", "|"):
            child: dict = {}
            stack[-1][1][key] = child
            stack.append((indent, child))
        else:
            stack[-1][1][key] = value.strip("'\"")
    return root
