"""The boto3 adapter: every AWS call the provider, the sweep and the load generators make.

Credentials and region come from boto3's standard chain (environment, shared files, SSO, instance role).
Waiters get realistic timeouts through :func:`scaleperf.aws.cloud.waiter_config`: boto3's defaults give
up after 400 s for Elastic Beanstalk and 30 minutes for RDS.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, WaiterError

from scaleperf.aws.cloud import (
    RUN_TAG,
    SLOT_TAG,
    Beanstalk,
    EbEvent,
    EnvResources,
    EnvState,
    OptionSettings,
    Resource,
    waiter_config,
)
from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

DB_TIMEOUT_S = 40 * 60  # creating or restoring an RDS instance takes 5-20 minutes, a class change up to 30
DB_DELAY_S = 30  # seconds between RDS waiter polls
EC2_TIMEOUT_S = 10 * 60  # EC2 instances start or terminate within a few minutes
EC2_DELAY_S = 10  # seconds between EC2 waiter polls
BUNDLE_PREFIX = "runs"  # S3 keys: runs/<run id>/<slot>/<file>
DB_STORAGE_GIB = 20  # the smallest gp3 volume RDS allows
MISSING_CREDENTIALS = (
    "no AWS credentials found; configure them as for the AWS CLI (`aws configure`, `aws sso login`, or the "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables), then try again. Nothing was created."
)


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


@contextlib.contextmanager
def user_errors(doing: str) -> Iterator[None]:
    """Turn boto3's errors into a ScaleperfError that says what failed."""
    try:
        yield
    except NoCredentialsError as exc:
        raise ScaleperfError(MISSING_CREDENTIALS) from exc
    except WaiterError as exc:
        raise ScaleperfError(f"{doing}: gave up waiting ({exc}); remove what is left with `scaleperf aws sweep`") from exc
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise ScaleperfError(f"{doing}: AWS said {err.get('Code', '?')}: {err.get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise ScaleperfError(f"{doing}: {exc}") from exc


class BotoBeanstalk:
    """:class:`scaleperf.aws.cloud.Beanstalk` through a boto3 ``elasticbeanstalk`` client."""

    def __init__(self, client) -> None:
        self.client = client

    def solution_stacks(self) -> list[str]:
        return list(self.client.list_available_solution_stacks()["SolutionStacks"])

    def create_application(self, name: str, tags: dict[str, str]) -> None:
        self.client.create_application(ApplicationName=name, Description="scaleperf load test", Tags=tag_list(tags))

    def delete_application(self, name: str) -> None:
        self.client.delete_application(ApplicationName=name, TerminateEnvByForce=True)

    def applications(self) -> list[tuple[str, str]]:
        return [(a["ApplicationName"], a.get("ApplicationArn", "")) for a in self.client.describe_applications()["Applications"]]

    def create_application_version(self, *, application: str, label: str, bucket: str, key: str, tags: dict[str, str]) -> None:
        self.client.create_application_version(
            ApplicationName=application,
            VersionLabel=label,
            SourceBundle={"S3Bucket": bucket, "S3Key": key},
            Process=True,  # validate the bundle now, not halfway through environment creation
            Tags=tag_list(tags),
        )

    def create_environment(
        self, *, application: str, name: str, version: str, stack: str, options: OptionSettings, tags: dict[str, str]
    ) -> EnvState:
        out = self.client.create_environment(
            ApplicationName=application,
            EnvironmentName=name,
            Tier={"Name": "WebServer", "Type": "Standard"},
            VersionLabel=version,
            SolutionStackName=stack,
            OptionSettings=options,
            Tags=tag_list(tags),
        )
        return self._state(out)

    def update_environment(self, *, name: str, options: OptionSettings, version: str | None = None) -> EnvState:
        kw = {"VersionLabel": version} if version else {}
        return self._state(self.client.update_environment(EnvironmentName=name, OptionSettings=options, **kw))

    def terminate_environment(self, name: str) -> None:
        self.client.terminate_environment(EnvironmentName=name, TerminateResources=True)

    def describe_environment(self, name: str) -> EnvState | None:
        found = [self._state(e) for e in self.client.describe_environments(EnvironmentNames=[name])["Environments"]]
        found = [e for e in found if e.name == name and e.status != "Terminated"]
        return found[0] if found else None

    def environments(self) -> list[EnvState]:
        return [
            s for s in (self._state(e) for e in self.client.describe_environments()["Environments"]) if s.status != "Terminated"
        ]

    def tags(self, arn: str) -> dict[str, str]:
        return tag_dict(self.client.list_tags_for_resource(ResourceArn=arn).get("ResourceTags"))

    def events(self, name: str, since: datetime | None) -> list[EbEvent]:
        kw = {"StartTime": since} if since else {}
        raw = self.client.describe_events(EnvironmentName=name, MaxRecords=100, **kw)["Events"]
        out = [EbEvent(e["EventDate"], e.get("Severity", "INFO"), e.get("Message", "")) for e in raw]
        return sorted((e for e in out if since is None or e.when > since), key=lambda e: e.when)

    def resources(self, name: str) -> EnvResources:
        r = self.client.describe_environment_resources(EnvironmentName=name)["EnvironmentResources"]
        return EnvResources(
            instance_ids=tuple(i["Id"] for i in r.get("Instances", [])),
            load_balancers=tuple(lb["Name"] for lb in r.get("LoadBalancers", [])),
        )

    @staticmethod
    def _state(e: dict) -> EnvState:
        return EnvState(
            name=e.get("EnvironmentName", ""),
            env_id=e.get("EnvironmentId", ""),
            status=e.get("Status", ""),
            health=e.get("Health", ""),
            health_status=e.get("HealthStatus", ""),
            cname=e.get("CNAME", ""),
            version_label=e.get("VersionLabel", ""),
            arn=e.get("EnvironmentArn", ""),
            application=e.get("ApplicationName", ""),
        )


class BotoCloud:
    """S3, RDS, EC2, CloudWatch and STS through boto3, plus an Elastic Beanstalk (boto3 or a fake)."""

    def __init__(self, session: boto3.Session | None = None, *, beanstalk: Beanstalk | None = None) -> None:
        self.session = session or boto3.Session()
        self._clients: dict[str, object] = {}
        self._eb = beanstalk
        self._account: str | None = None

    # ---------------------------------------------------------------- basics
    def client(self, service: str):
        if service not in self._clients:
            try:
                self._clients[service] = self.session.client(service)
            except NoRegionError as exc:
                raise ScaleperfError("no AWS region configured; set AWS_REGION (or `region` in ~/.aws/config)") from exc
        return self._clients[service]

    @property
    def region(self) -> str:
        if not self.session.region_name:
            raise ScaleperfError("no AWS region configured; set AWS_REGION (or `region` in ~/.aws/config)")
        return self.session.region_name

    @property
    def eb(self) -> Beanstalk:
        if self._eb is None:
            self._eb = BotoBeanstalk(self.client("elasticbeanstalk"))
        return self._eb

    def check_credentials(self) -> str:
        """The account id; a clear ScaleperfError when there are no usable credentials."""
        if self.session.get_credentials() is None:
            raise ScaleperfError(MISSING_CREDENTIALS)
        _ = self.region
        with user_errors("checking AWS credentials"):
            self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account

    @property
    def account(self) -> str:
        return self._account or self.check_credentials()

    # ---------------------------------------------------------------- S3
    def bucket(self) -> str:
        """scaleperf's bundle bucket in this account and region, created on first use (kept between runs)."""
        name = f"scaleperf-{self.account}-{self.region}"
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=name)
        except ClientError:
            kw = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            s3.create_bucket(Bucket=name, **kw)
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
        return name

    def upload(self, bucket: str, key: str, path: Path, tags: dict[str, str]) -> None:
        from urllib.parse import urlencode

        with open(path, "rb") as f:
            self.client("s3").put_object(Bucket=bucket, Key=key, Body=f, Tagging=urlencode(tags))

    def presign(self, bucket: str, key: str, expires_s: int) -> str:
        return self.client("s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s)

    def delete_object(self, bucket: str, key: str) -> None:
        self.client("s3").delete_object(Bucket=bucket, Key=key)

    # ---------------------------------------------------------------- RDS
    def create_db(
        self,
        ident: str,
        *,
        db_class: str,
        engine: str,
        db_name: str,
        user: str,
        password: str,
        security_group: str,
        tags: dict[str, str],
    ) -> None:
        self.client("rds").create_db_instance(
            DBInstanceIdentifier=ident,
            DBInstanceClass=db_class,
            Engine=engine,
            DBName=db_name,
            MasterUsername=user,
            MasterUserPassword=password,
            AllocatedStorage=DB_STORAGE_GIB,
            StorageType="gp3",
            VpcSecurityGroupIds=[security_group],
            PubliclyAccessible=False,
            MultiAZ=False,
            BackupRetentionPeriod=0,  # no automated backups: creation is faster; manual snapshots still work
            Tags=tag_list(tags),
        )

    def describe_db(self, ident: str) -> dict | None:
        try:
            return self.client("rds").describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "DBInstanceNotFound":
                return None
            raise

    def wait_db(self, ident: str, timeout_s: float = DB_TIMEOUT_S) -> dict:
        self.client("rds").get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=ident, WaiterConfig=waiter_config(timeout_s, DB_DELAY_S)
        )
        db = self.describe_db(ident)
        assert db is not None
        return db

    def modify_db_class(self, ident: str, db_class: str) -> None:
        self.client("rds").modify_db_instance(DBInstanceIdentifier=ident, DBInstanceClass=db_class, ApplyImmediately=True)

    def delete_db(self, ident: str) -> None:
        self.client("rds").delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)

    def wait_db_deleted(self, ident: str, timeout_s: float = DB_TIMEOUT_S) -> None:
        self.client("rds").get_waiter("db_instance_deleted").wait(
            DBInstanceIdentifier=ident, WaiterConfig=waiter_config(timeout_s, DB_DELAY_S)
        )

    def snapshot_db(self, ident: str, snapshot: str, tags: dict[str, str]) -> None:
        self.client("rds").create_db_snapshot(DBInstanceIdentifier=ident, DBSnapshotIdentifier=snapshot, Tags=tag_list(tags))

    def wait_snapshot(self, snapshot: str, timeout_s: float = DB_TIMEOUT_S) -> None:
        self.client("rds").get_waiter("db_snapshot_available").wait(
            DBSnapshotIdentifier=snapshot, WaiterConfig=waiter_config(timeout_s, DB_DELAY_S)
        )

    def restore_db(self, ident: str, *, snapshot: str, db_class: str, security_group: str, tags: dict[str, str]) -> None:
        self.client("rds").restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=ident,
            DBSnapshotIdentifier=snapshot,
            DBInstanceClass=db_class,
            VpcSecurityGroupIds=[security_group],
            PubliclyAccessible=False,
            MultiAZ=False,
            Tags=tag_list(tags),
        )

    def delete_snapshot(self, snapshot: str) -> None:
        self.client("rds").delete_db_snapshot(DBSnapshotIdentifier=snapshot)

    # ---------------------------------------------------------------- EC2
    def default_vpc(self) -> tuple[str, list[str]]:
        ec2 = self.client("ec2")
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise ScaleperfError(
                f"no default VPC in {self.region}; create one (`aws ec2 create-default-vpc`) or use another region"
            )
        vpc = vpcs[0]["VpcId"]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        return vpc, [s["SubnetId"] for s in subnets]

    def create_security_group(self, name: str, vpc: str, description: str, tags: dict[str, str]) -> str:
        return self.client("ec2").create_security_group(
            GroupName=name,
            Description=description,
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list({**tags, "Name": name})}],
        )["GroupId"]

    def allow_from_group(self, group: str, port: int, source_group: str, description: str) -> None:
        self.client("ec2").authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "UserIdGroupPairs": [{"GroupId": source_group, "Description": description}],
                }
            ],
        )

    def delete_security_group(self, group: str) -> None:
        self.client("ec2").delete_security_group(GroupId=group)

    def run_instances(
        self, *, count: int, image: str, instance_type: str, subnet: str, groups: list[str], user_data: str, tags: dict[str, str]
    ) -> list[str]:
        out = self.client("ec2").run_instances(
            ImageId=image,
            InstanceType=instance_type,
            MinCount=count,
            MaxCount=count,
            SubnetId=subnet,
            SecurityGroupIds=groups,
            UserData=user_data,
            InstanceInitiatedShutdownBehavior="terminate",
            MetadataOptions={"HttpTokens": "required"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list(tags)}],
        )
        return [i["InstanceId"] for i in out["Instances"]]

    def instances(self, ids: list[str]) -> list[dict]:
        res = self.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
        return [i for r in res for i in r["Instances"]]

    def wait_instances(self, ids: list[str], state: str, timeout_s: float = EC2_TIMEOUT_S) -> None:
        waiter = {"running": "instance_running", "terminated": "instance_terminated"}[state]
        self.client("ec2").get_waiter(waiter).wait(InstanceIds=ids, WaiterConfig=waiter_config(timeout_s, EC2_DELAY_S))

    def terminate_instances(self, ids: list[str]) -> None:
        self.client("ec2").terminate_instances(InstanceIds=ids)

    def image_for(self, arch: str) -> str:
        """The newest Amazon Linux 2023 AMI for ``arch`` (arm64 | x86_64), from AWS's public SSM parameter."""
        name = f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
        with user_errors(f"looking up the Amazon Linux 2023 image ({name})"):
            return self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]

    def interface_groups(self, eni: str) -> list[str]:
        ni = self.client("ec2").describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
        return [g["GroupId"] for g in ni["Groups"]]

    def set_interface_groups(self, eni: str, groups: list[str]) -> None:
        self.client("ec2").modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=groups)

    # ---------------------------------------------------------------- CloudWatch
    def metric(
        self, namespace: str, name: str, dimensions: dict[str, str], t0: float, t1: float, *, period: int, stat: str
    ) -> list[tuple[float, float]]:
        """(epoch seconds, value) of ``stat`` per ``period`` in [t0, t1], oldest first."""
        out = self.client("cloudwatch").get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=datetime.fromtimestamp(t0, UTC),
            EndTime=datetime.fromtimestamp(t1, UTC),
            Period=period,
            Statistics=[stat],
        )
        points = [(p["Timestamp"].timestamp(), float(p[stat])) for p in out["Datapoints"]]
        return sorted(points)

    # ---------------------------------------------------------------- what a run left (the sweep)
    def tagged(self, run_id: str | None = None) -> list[Resource]:
        """Everything carrying RUN_TAG (with value ``run_id`` when given) that is not already gone."""

        def mine(tags: dict[str, str]) -> str | None:
            value = tags.get(RUN_TAG)
            return value if value is not None and (run_id is None or value == run_id) else None

        found: list[Resource] = []
        for env in self.eb.environments():
            rid = mine(self.eb.tags(env.arn)) if env.arn else None
            if rid:
                found.append(Resource("eb-environment", env.name, rid, env.status))
        for name, arn in self.eb.applications():
            rid = mine(self.eb.tags(arn)) if arn else None
            if rid:
                found.append(Resource("eb-application", name, rid))
        rds = self.client("rds")
        for db in rds.describe_db_instances()["DBInstances"]:
            rid = mine(tag_dict(db.get("TagList")))
            if rid and db.get("DBInstanceStatus") != "deleted":
                found.append(Resource("rds-instance", db["DBInstanceIdentifier"], rid, db.get("DBInstanceStatus", "")))
        for snap in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
            rid = mine(tag_dict(snap.get("TagList")))
            if rid:
                found.append(Resource("rds-snapshot", snap["DBSnapshotIdentifier"], rid))
        ec2 = self.client("ec2")
        flt = [{"Name": f"tag:{RUN_TAG}", "Values": [run_id]}] if run_id else [{"Name": "tag-key", "Values": [RUN_TAG]}]
        live = ["pending", "running", "stopping", "stopped", "shutting-down"]
        for r in ec2.describe_instances(Filters=[*flt, {"Name": "instance-state-name", "Values": live}])["Reservations"]:
            for i in r["Instances"]:
                found.append(Resource("ec2-instance", i["InstanceId"], tag_dict(i.get("Tags"))[RUN_TAG], i["State"]["Name"]))
        for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]:
            found.append(Resource("security-group", g["GroupId"], tag_dict(g.get("Tags"))[RUN_TAG], g.get("GroupName", "")))
        found += self._bundles(run_id)
        return found

    def _bundles(self, run_id: str | None) -> list[Resource]:
        name = f"scaleperf-{self.account}-{self.region}"
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=name)
        except ClientError:
            return []
        prefix = f"{BUNDLE_PREFIX}/{run_id}/" if run_id else f"{BUNDLE_PREFIX}/"
        out = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix):
            for obj in page.get("Contents", []):
                rid = obj["Key"].split("/")[1]
                out.append(Resource("s3-object", obj["Key"], rid, extra={"bucket": name}))
        return out

    def delete(self, r: Resource) -> None:
        """Start deleting one resource (see :meth:`wait_deleted`)."""
        if r.kind == "eb-environment":
            self.eb.terminate_environment(r.ident)
        elif r.kind == "eb-application":
            self.eb.delete_application(r.ident)
        elif r.kind == "rds-instance":
            if r.detail != "deleting":
                self.delete_db(r.ident)
        elif r.kind == "rds-snapshot":
            self.delete_snapshot(r.ident)
        elif r.kind == "ec2-instance":
            self.terminate_instances([r.ident])
        elif r.kind == "security-group":
            self.delete_security_group(r.ident)
        elif r.kind == "s3-object":
            self.delete_object(r.extra["bucket"], r.ident)
        else:  # pragma: no cover - every kind listed by tagged() is handled above
            raise ValueError(r.kind)

    def wait_deleted(self, r: Resource) -> None:
        if r.kind == "rds-instance":
            self.wait_db_deleted(r.ident)
        elif r.kind == "ec2-instance":
            self.wait_instances([r.ident], "terminated")


def tags_for(run_id: str, slot: str) -> dict[str, str]:
    return {RUN_TAG: run_id, SLOT_TAG: slot}
