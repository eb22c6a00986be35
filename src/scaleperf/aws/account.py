"""Read-only questions about the account that the preflight asks (a mixin of :class:`scaleperf.aws.boto.BotoCloud`):
the Elastic Beanstalk roles (IAM), the on-demand vCPU quota (Service Quotas), RDS engine versions.  The
only call here that creates anything is :meth:`AccountReads.create_roles`, behind its own explicit option."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

VCPU_QUOTA = ("ec2", "L-1216C47A")  # Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances, in vCPUs
INSTANCE_ROLE_POLICIES = (  # what the EB CLI attaches to aws-elasticbeanstalk-ec2-role
    "arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier",
    "arn:aws:iam::aws:policy/AWSElasticBeanstalkWorkerTier",
    "arn:aws:iam::aws:policy/AWSElasticBeanstalkMulticontainerDocker",
)
SERVICE_ROLE_POLICIES = (  # what the EB CLI attaches to aws-elasticbeanstalk-service-role
    "arn:aws:iam::aws:policy/service-role/AWSElasticBeanstalkEnhancedHealth",
    "arn:aws:iam::aws:policy/AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy",
)


def _trust(service: str, external_id: str | None = None) -> str:
    statement: dict = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class AccountReads:
    """Needs ``client`` from the class it is mixed into."""

    def instance_profile_exists(self, name: str) -> bool:
        return self._exists(lambda: self.client("iam").get_instance_profile(InstanceProfileName=name))

    def role_exists(self, name: str) -> bool:
        return self._exists(lambda: self.client("iam").get_role(RoleName=name))

    @staticmethod
    def _exists(call) -> bool:
        try:
            call()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return False
            raise
        return True

    def create_roles(self, instance_profile: str, service_role: str) -> list[str]:
        """Create the instance profile (with its role) and the service role as the EB CLI does; returns what it made."""
        iam = self.client("iam")
        made = []
        if not self.role_exists(instance_profile):
            iam.create_role(RoleName=instance_profile, AssumeRolePolicyDocument=_trust("ec2.amazonaws.com"))
            for arn in INSTANCE_ROLE_POLICIES:
                iam.attach_role_policy(RoleName=instance_profile, PolicyArn=arn)
            made.append(f"role {instance_profile}")
        if not self.instance_profile_exists(instance_profile):
            iam.create_instance_profile(InstanceProfileName=instance_profile)
            iam.add_role_to_instance_profile(InstanceProfileName=instance_profile, RoleName=instance_profile)
            made.append(f"instance profile {instance_profile}")
        if not self.role_exists(service_role):
            trust = _trust("elasticbeanstalk.amazonaws.com", external_id="elasticbeanstalk")
            iam.create_role(RoleName=service_role, AssumeRolePolicyDocument=trust)
            for arn in SERVICE_ROLE_POLICIES:
                iam.attach_role_policy(RoleName=service_role, PolicyArn=arn)
            made.append(f"role {service_role}")
        return made

    def vcpu_quota(self) -> float:
        """The account's on-demand standard-instance vCPU quota in this region (applied value, else AWS's default)."""
        sq = self.client("service-quotas")
        service, code = VCPU_QUOTA
        try:
            return float(sq.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchResourceException":
                raise
        return float(sq.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])

    def engine_versions(self, engine: str, version: str) -> list[str]:
        """The RDS engine versions available for ``engine`` starting with ``version`` (a major version: "8.0", "17")."""
        pages = self.client("rds").get_paginator("describe_db_engine_versions").paginate(Engine=engine, EngineVersion=version)
        return [v["EngineVersion"] for page in pages for v in page["DBEngineVersions"]]
