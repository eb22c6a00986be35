"""CloudWatch telemetry for a ``--provider url`` target that is an Elastic Beanstalk environment's CNAME.

A URL whose host is ``<prefix>.<region>.elasticbeanstalk.com`` (or the older ``<prefix>.elasticbeanstalk.com``,
whose region is the session's default) names an environment CloudWatch keeps metrics for.  When AWS
credentials are available (found as the AWS CLI finds them), the environment is looked up by its CNAME in
that region, and after each run CloudWatch is read for the run's window as the aws provider reads it
(:func:`scaleperf.aws.telemetry.read_environment`): each instance's CPU (``app-1`` ...), the load balancer's
requests (``lb``), and the database's CPU (``db``) when Elastic Beanstalk made the database with the
environment (it is then a resource of the environment's CloudFormation stack; a database made apart from the
environment is named nowhere scaleperf can read without the environment's secrets, so it is left out).

Nothing here stops a run: without credentials, a region, the permission to look, or a matching environment,
the deployment's facts say why no telemetry is attached, and the run goes on without it.  Only names are
read from Elastic Beanstalk; nothing is claimed about the environment's instance types or sizes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from scaleperf.aws.telemetry import TELEMETRY_SOURCE, TELEMETRY_WAIT_S, read_environment
from scaleperf.errors import ScaleperfError
from scaleperf.results import Telemetry

log = logging.getLogger(__name__)

MODES = ("auto", "off")  # --url-telemetry: attach CloudWatch when it can be, or never
EB_SUFFIX = ".elasticbeanstalk.com"
REGION_LABEL = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")  # us-east-1, ap-southeast-2, us-gov-west-1
EB_DATABASE = "AWSEBRDSDatabase"  # the logical id of a database Elastic Beanstalk creates with an environment
NO_DATABASE = (
    "the environment has no database of its own (none in its CloudFormation stack); a database made apart from "
    "it is not named anywhere scaleperf reads, so no db series is attached"
)


@dataclass(frozen=True)
class EbHost:
    """An Elastic Beanstalk CNAME: the host as DescribeEnvironments reports it (lower case), and its region
    (None for the older form without one)."""

    host: str
    region: str | None


def eb_host(url: str) -> EbHost | None:
    """The Elastic Beanstalk CNAME ``url`` points at, or None when its host is not one."""
    host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    if not host.endswith(EB_SUFFIX):
        return None
    labels = host[: -len(EB_SUFFIX)].split(".")
    if not all(labels):
        return None
    if len(labels) == 1:
        return EbHost(host, None)
    if len(labels) == 2 and REGION_LABEL.fullmatch(labels[1]):
        return EbHost(host, labels[1])
    return None


def default_cloud(region: str | None):
    """scaleperf's boto3 adapter in ``region`` (None: the configured default), credentials from boto3's chain."""
    import boto3

    from scaleperf.aws.boto import BotoCloud

    return BotoCloud(boto3.Session(region_name=region))


@dataclass
class EbCloudWatch:
    """A :class:`scaleperf.providers.base.TelemetrySource` for one Elastic Beanstalk environment; with no
    ``cloud``, one that attaches nothing and whose facts say why."""

    facts: dict
    cloud: object | None = None
    environment: str = ""
    database: str | None = None
    wait_s: float = TELEMETRY_WAIT_S
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    say: Callable[[str], None] = field(default=log.info, repr=False)

    def __call__(self, t0: float, t1: float) -> tuple[tuple[Telemetry, ...], dict]:
        if self.cloud is None:
            return (), {}
        try:
            return read_environment(
                self.cloud,
                self.environment,
                self.database,
                t0,
                t1,
                wait_s=self.wait_s,
                clock=self.clock,
                sleep=self.sleep,
                say=self.say,
            )
        except ScaleperfError as exc:
            self.say(f"no CloudWatch telemetry for this run of {self.environment}: {exc}")
            return (), {"attached": False, "why": str(exc)}


def turned_off(url: str) -> EbCloudWatch | None:
    """What ``--url-telemetry off`` leaves: a fact saying so for an Elastic Beanstalk URL, nothing otherwise."""
    if eb_host(url) is None:
        return None
    return EbCloudWatch({"attached": False, "why": "turned off with --url-telemetry off (ini: scaleperf_url_telemetry)"})


def attach(
    url: str,
    *,
    cloud_for: Callable[[str | None], object] = default_cloud,
    wait_s: float = TELEMETRY_WAIT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = log.info,
) -> EbCloudWatch | None:
    """CloudWatch for the environment whose CNAME ``url`` is; None when it is not an Elastic Beanstalk CNAME
    (nothing is attempted).  Never raises for want of credentials, region, permission or environment: the
    source's facts say why nothing is attached instead."""
    from scaleperf.aws.errors import user_errors

    where = eb_host(url)
    if where is None:
        return None

    def nothing(why: str) -> EbCloudWatch:
        say(f"no CloudWatch telemetry for {url}: {why}")
        return EbCloudWatch({"attached": False, "why": why})

    try:
        with user_errors(f"looking for the Elastic Beanstalk environment of {where.host}"):
            cloud = cloud_for(where.region)
            if cloud.session.get_credentials() is None:
                return nothing(
                    "no AWS credentials found (scaleperf looks where the AWS CLI does); with credentials that may read "
                    "the environment, its CloudWatch metrics are attached"
                )
            region = cloud.session.region_name
            if not region:
                return nothing(
                    f"{where.host} names no region (an older Elastic Beanstalk CNAME) and no default AWS region is "
                    "configured; set AWS_REGION to the environment's region"
                )
            host = where.host
            env = next((e for e in cloud.eb.environments() if e.cname.rstrip(".").lower() == host), None)
            if env is None:
                return nothing(
                    f"no Elastic Beanstalk environment in {region} has the CNAME {host} (in the account of these "
                    "credentials); the run is measured without target-side telemetry"
                )
            database, why_not = coupled_database(cloud, env.env_id)
    except ScaleperfError as exc:
        return nothing(str(exc))
    facts: dict = {
        "attached": True,
        "source": TELEMETRY_SOURCE,
        "environment": env.name,
        "region": region,
        "read_from_elastic_beanstalk": {"application": env.application, "environment_id": env.env_id, "database": database},
        "complete": None,  # None: not read (yet); each run's read completes it
    }
    if why_not:
        facts["db_not_read"] = why_not
    say(f"CloudWatch telemetry attached for {url}: Elastic Beanstalk environment {env.name} in {region}")
    return EbCloudWatch(facts, cloud, env.name, database, wait_s=wait_s, clock=clock, sleep=sleep, say=say)


def coupled_database(cloud, env_id: str) -> tuple[str | None, str]:
    """The RDS instance Elastic Beanstalk made with environment ``env_id`` (its CloudFormation stack's
    ``AWSEBRDSDatabase``), or None and why it is not read."""
    from botocore.exceptions import BotoCoreError, ClientError

    from scaleperf.aws.errors import error_code

    try:
        found = cloud.client("cloudformation").describe_stack_resource(
            StackName=f"awseb-{env_id}-stack", LogicalResourceId=EB_DATABASE
        )
    except ClientError as exc:
        if error_code(exc) == "ValidationError":  # no such resource in the stack (or no such stack)
            return None, NO_DATABASE
        err = exc.response.get("Error", {})
        return None, f"could not look for the environment's database: AWS said {err.get('Code', '?')}: {err.get('Message', '')}"
    except BotoCoreError as exc:
        return None, f"could not look for the environment's database: {exc}"
    ident = found["StackResourceDetail"].get("PhysicalResourceId") or None
    return ident, "" if ident else NO_DATABASE
