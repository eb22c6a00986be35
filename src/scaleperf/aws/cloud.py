"""The seam between the AWS provider's logic and AWS itself.

:class:`Beanstalk` is the part of Elastic Beanstalk the provider uses; :mod:`scaleperf.aws.boto` implements
it with boto3 and :mod:`scaleperf.aws.fake` in memory (moto lacks most of Elastic Beanstalk).  The other
services (S3, RDS, CloudWatch, EC2) go through :class:`scaleperf.aws.boto.BotoCloud`, which tests run
against moto.  Everything a run creates carries the tag ``RUN_TAG`` = run id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

RUN_TAG = "scaleperf:run-id"  # tag key on everything a run creates; the value is the run id
SLOT_TAG = "scaleperf:slot"  # which session (xdist worker) of the run created it
READY, TERMINATED = "Ready", "Terminated"
FAILED_HEALTH = frozenset({"Red"})  # basic health colour that ends a wait as a failure
FAILED_HEALTH_STATUS = frozenset({"Severe"})  # enhanced health status that ends a wait as a failure

OptionSettings = list[dict[str, str]]  # [{"Namespace": ..., "OptionName": ..., "Value": ...}]


@dataclass(frozen=True)
class EnvState:
    """One Elastic Beanstalk environment as DescribeEnvironments reports it."""

    name: str
    env_id: str
    status: str  # Launching | Updating | Ready | Terminating | Terminated | Aborting | LinkingFrom | LinkingTo
    health: str  # Green | Yellow | Red | Grey
    health_status: str = ""  # enhanced health: Ok | Info | Warning | Degraded | Severe | NoData | Pending | Unknown | Suspended
    cname: str = ""
    version_label: str = ""
    arn: str = ""
    application: str = ""


@dataclass(frozen=True)
class EbEvent:
    when: datetime
    severity: str  # TRACE | DEBUG | INFO | WARN | ERROR | FATAL
    message: str


@dataclass(frozen=True)
class EnvResources:
    instance_ids: tuple[str, ...] = ()
    load_balancers: tuple[str, ...] = ()  # ALB ARNs (or classic names)


@dataclass(frozen=True)
class InstanceHealth:
    """One instance of an environment as enhanced health reports it (DescribeInstancesHealth)."""

    instance_id: str
    instance_type: str = ""
    color: str = ""  # Green | Yellow | Red | Grey
    status: str = ""  # Ok | Warning | Degraded | Severe | Pending | NoData | Unknown | ...
    causes: tuple[str, ...] = ()

    def __str__(self) -> str:
        why = f": {'; '.join(self.causes)}" if self.causes else ""
        return f"{self.instance_id} ({self.instance_type or '?'}) {self.color or '?'}/{self.status or '?'}{why}"


@dataclass(frozen=True)
class OptionSpec:
    """What the platform accepts for one option (DescribeConfigurationOptions)."""

    namespace: str
    name: str
    value_type: str = "Scalar"  # Scalar | List | Boolean | Json | CommaSeparatedList ...
    allowed: tuple[str, ...] = ()  # ValueOptions; empty: any value


@dataclass(frozen=True)
class Resource:
    """Something tagged with a run id, as the sweep lists it."""

    kind: str  # eb-environment | eb-application | rds-instance | rds-snapshot | ec2-instance | security-group | s3-object
    #   | eb-bucket-object
    ident: str
    run_id: str
    detail: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.ident} (run {self.run_id}){' ' + self.detail if self.detail else ''}"


class Beanstalk(Protocol):
    """The Elastic Beanstalk operations the provider and the sweep use."""

    def solution_stacks(self) -> list[str]: ...

    def create_application(self, name: str, tags: dict[str, str]) -> None: ...

    def delete_application(self, name: str) -> None: ...

    def applications(self) -> list[tuple[str, str]]:
        """(name, arn) of every application."""
        ...

    def create_application_version(
        self, *, application: str, label: str, bucket: str, key: str, tags: dict[str, str]
    ) -> None: ...

    def create_environment(
        self, *, application: str, name: str, version: str, stack: str, options: OptionSettings, tags: dict[str, str]
    ) -> EnvState: ...

    def update_environment(self, *, name: str, options: OptionSettings, version: str | None = None) -> EnvState: ...

    def terminate_environment(self, name: str) -> None: ...

    def describe_environment(self, name: str) -> EnvState | None:
        """The environment, or None when it does not exist (terminated ones included)."""
        ...

    def environments(self) -> list[EnvState]:
        """Every environment that is not terminated."""
        ...

    def tags(self, arn: str) -> dict[str, str]: ...

    def events(self, name: str, since: datetime | None) -> list[EbEvent]:
        """The environment's events after ``since``, oldest first."""
        ...

    def resources(self, name: str) -> EnvResources: ...

    def instances_health(self, name: str) -> list[InstanceHealth]:
        """Each instance's type, health colour, status and causes (enhanced health)."""
        ...

    def version_status(self, application: str, label: str) -> str:
        """An application version's Status: PROCESSED | FAILED | PROCESSING | BUILDING | UNPROCESSED ('' if unknown)."""
        ...

    def option_specs(self, stack: str, options: OptionSettings) -> list[OptionSpec]:
        """What the platform ``stack`` accepts for each of ``options`` (unknown options are left out)."""
        ...


def waiter_config(timeout_s: float, delay_s: float) -> dict[str, int]:
    """A boto3 ``WaiterConfig`` that polls every ``delay_s`` for about ``timeout_s`` (boto3's defaults
    give up long before an RDS instance or a Beanstalk environment is ready)."""
    delay = max(1, round(delay_s))
    return {"Delay": delay, "MaxAttempts": max(1, -(-round(timeout_s) // delay))}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def tags_for(run_id: str, slot: str) -> dict[str, str]:
    return {RUN_TAG: run_id, SLOT_TAG: slot}
