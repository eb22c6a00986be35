"""The boto3 adapter: every AWS call the provider, the sweep and the load generators make.

Credentials and region come from boto3's standard chain (environment, shared files, SSO, instance role).
Waiters get realistic timeouts through :func:`scaleperf.aws.cloud.waiter_config`: boto3's defaults give
up after 400 s for Elastic Beanstalk and 30 minutes for RDS.
"""

from __future__ import annotations

import logging
from pathlib import Path

import boto3
from botocore.exceptions import ClientError, NoRegionError

from scaleperf.aws.account import AccountReads
from scaleperf.aws.boto_eb import BotoBeanstalk
from scaleperf.aws.boto_ec2 import Ec2Calls
from scaleperf.aws.cloud import Beanstalk, tag_list, tags_for, waiter_config
from scaleperf.aws.errors import MISSING_CREDENTIALS, user_errors
from scaleperf.aws.inventory import BUNDLE_PREFIX, Inventory
from scaleperf.errors import ScaleperfError

__all__ = ["BUNDLE_PREFIX", "BotoBeanstalk", "BotoCloud", "tags_for", "user_errors"]

log = logging.getLogger(__name__)

DB_TIMEOUT_S = 40 * 60  # creating or restoring an RDS instance takes 5-20 minutes, a class change up to 30
DB_DELAY_S = 30  # seconds between RDS waiter polls
DB_STORAGE_GIB = 20  # the smallest gp3 volume RDS allows


class BotoCloud(Ec2Calls, AccountReads, Inventory):
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
        name = self.bundle_bucket()
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
        engine_version: str,
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
            EngineVersion=engine_version,  # a major version: RDS picks its default minor version
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
