"""EC2 and CloudWatch calls of the boto3 adapter (a mixin of :class:`scaleperf.aws.boto.BotoCloud`).

Security groups are deleted through :meth:`Ec2Calls.delete_security_group`, which callers retry on
``DependencyViolation`` (see :mod:`scaleperf.aws.groups`); :meth:`Ec2Calls.revoke_group_references` removes a
group's rules that name other groups, so groups that reference each other can go in any order.
"""

from __future__ import annotations

from datetime import UTC, datetime

from scaleperf.aws.cloud import tag_list, waiter_config
from scaleperf.aws.errors import user_errors
from scaleperf.errors import ScaleperfError

EC2_TIMEOUT_S = 10 * 60  # EC2 instances start or terminate within a few minutes
EC2_DELAY_S = 10  # seconds between EC2 waiter polls


class Ec2Calls:
    """EC2 and CloudWatch through ``self.client(service)`` (provided by the class this is mixed into)."""

    region: str

    def client(self, service: str):  # pragma: no cover - provided by BotoCloud
        raise NotImplementedError

    def pages(self, service: str, operation: str, key: str, **kw) -> list[dict]:
        """Every item of a paginated list call (botocore's paginator follows the tokens)."""
        out: list[dict] = []
        for page in self.client(service).get_paginator(operation).paginate(**kw):
            out += page.get(key, [])
        return out

    def default_vpc(self) -> tuple[str, list[str]]:
        ec2 = self.client("ec2")
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise ScaleperfError(
                f"no default VPC in {self.region}; create one (`aws ec2 create-default-vpc`) or use another region"
            )
        vpc = vpcs[0]["VpcId"]
        subnets = self.pages("ec2", "describe_subnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc]}])
        return vpc, [s["SubnetId"] for s in subnets]

    def subnet_zones(self, subnets: list[str]) -> dict[str, str]:
        """subnet id -> its availability zone."""
        return {s["SubnetId"]: s["AvailabilityZone"] for s in self.subnets(subnets)}

    def subnets(self, ids: list[str]) -> list[dict]:
        """The subnets ``ids`` as DescribeSubnets reports them (SubnetId, AvailabilityZone, VpcId, ...)."""
        return self.pages("ec2", "describe_subnets", "Subnets", SubnetIds=ids)

    def offered_zones(self, instance_type: str) -> set[str]:
        """The availability zones of this region that offer ``instance_type`` (DescribeInstanceTypeOfferings)."""
        found = self.pages(
            "ec2",
            "describe_instance_type_offerings",
            "InstanceTypeOfferings",
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": [instance_type]}],
        )
        return {o["Location"] for o in found}

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

    def revoke_group_references(self, group: str) -> int:
        """Remove ``group``'s ingress rules that name other security groups; returns how many went."""
        ec2 = self.client("ec2")
        found = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
        rules = [p for g in found for p in g.get("IpPermissions", []) if p.get("UserIdGroupPairs")]
        if rules:
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=rules)
        return len(rules)

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
        res = self.pages("ec2", "describe_instances", "Reservations", InstanceIds=ids)
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
