"""EC2's rules for deleting security groups, which moto does not enforce: a group goes only when no other
group's rule references it and no network interface uses it.  The interfaces RDS leaves behind after a
deletion linger for a while: ``lingering`` says how many delete attempts of a group fail for that reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import ClientError


@dataclass
class SecurityGroupRules:
    """Wraps a cloud's ``delete_security_group`` (install with :meth:`install`)."""

    cloud: object
    lingering: dict[str, int] = field(default_factory=dict)  # group -> attempts that still find an interface
    attempts: list[str] = field(default_factory=list)

    def install(self) -> SecurityGroupRules:
        self._delete = self.cloud.delete_security_group
        self.cloud.delete_security_group = self.delete
        return self

    def delete(self, group: str) -> None:
        self.attempts.append(group)
        groups = self.cloud.client("ec2").describe_security_groups()["SecurityGroups"]
        for g in groups:
            for perm in g.get("IpPermissions", []):
                if g["GroupId"] != group and any(pair.get("GroupId") == group for pair in perm.get("UserIdGroupPairs", [])):
                    self._refuse(group, f"resource {group} has a dependent object ({g['GroupId']}'s rule references it)")
        if self.lingering.get(group, 0) > 0:
            self.lingering[group] -= 1
            self._refuse(group, f"resource {group} has a dependent object (a network interface still uses it)")
        self._delete(group)

    @staticmethod
    def _refuse(group: str, message: str) -> None:
        raise ClientError({"Error": {"Code": "DependencyViolation", "Message": message}}, "DeleteSecurityGroup")
