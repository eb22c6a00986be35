"""What a run left on AWS, as the sweep lists and deletes it (a mixin of :class:`scaleperf.aws.boto.BotoCloud`).

Every list call is paginated.  Besides what carries the run tag, the sweep reports the S3 objects a run
leaves in two buckets: scaleperf's bundle bucket (``runs/<run id>/...``) and Elastic Beanstalk's own bucket
(``elasticbeanstalk-<region>-<account>``), where the service keeps files per environment under
``resources/environments/<environment id>/`` (and logs under ``resources/environments/logs/``).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from scaleperf.aws.cloud import RUN_TAG, Resource, tag_dict

BUNDLE_PREFIX = "runs"  # S3 keys of the bundle bucket: runs/<run id>/<slot>/<file>
EB_PREFIX = "resources/environments/"  # Elastic Beanstalk's own bucket: files per environment id
LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


class Inventory:
    """The sweep's listing and deletion; needs ``client``, ``pages``, ``eb``, ``account``, ``region`` and the
    delete calls of the class it is mixed into."""

    def bundle_bucket(self) -> str:
        return f"scaleperf-{self.account}-{self.region}"

    def eb_bucket(self) -> str:
        return f"elasticbeanstalk-{self.region}-{self.account}"

    def tagged(self, run_id: str | None = None) -> list[Resource]:
        """Everything carrying RUN_TAG (with value ``run_id`` when given) that is not already gone, and the
        objects this run's environments left in Elastic Beanstalk's bucket."""

        def mine(tags: dict[str, str]) -> str | None:
            value = tags.get(RUN_TAG)
            return value if value is not None and (run_id is None or value == run_id) else None

        found: list[Resource] = []
        env_ids: dict[str, str] = {}  # environment id -> run id
        for env in self.eb.environments():
            rid = mine(self.eb.tags(env.arn)) if env.arn else None
            if rid:
                found.append(Resource("eb-environment", env.name, rid, env.status))
                env_ids[env.env_id] = rid
        for name, arn in self.eb.applications():
            rid = mine(self.eb.tags(arn)) if arn else None
            if rid:
                found.append(Resource("eb-application", name, rid))
        for db in self.pages("rds", "describe_db_instances", "DBInstances"):
            rid = mine(tag_dict(db.get("TagList")))
            if rid and db.get("DBInstanceStatus") != "deleted":
                found.append(Resource("rds-instance", db["DBInstanceIdentifier"], rid, db.get("DBInstanceStatus", "")))
        for snap in self.pages("rds", "describe_db_snapshots", "DBSnapshots", SnapshotType="manual"):
            rid = mine(tag_dict(snap.get("TagList")))
            if rid:
                found.append(Resource("rds-snapshot", snap["DBSnapshotIdentifier"], rid))
        flt = [{"Name": f"tag:{RUN_TAG}", "Values": [run_id]}] if run_id else [{"Name": "tag-key", "Values": [RUN_TAG]}]
        live = [{"Name": "instance-state-name", "Values": LIVE_STATES}]
        for r in self.pages("ec2", "describe_instances", "Reservations", Filters=[*flt, *live]):
            for i in r["Instances"]:
                found.append(Resource("ec2-instance", i["InstanceId"], tag_dict(i.get("Tags"))[RUN_TAG], i["State"]["Name"]))
        for g in self.pages("ec2", "describe_security_groups", "SecurityGroups", Filters=flt):
            found.append(Resource("security-group", g["GroupId"], tag_dict(g.get("Tags"))[RUN_TAG], g.get("GroupName", "")))
        found += self._bundles(run_id)
        found += self._eb_objects(env_ids)
        return found

    def _objects(self, bucket: str, prefix: str) -> list[dict]:
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            return []
        return self.pages("s3", "list_objects_v2", "Contents", Bucket=bucket, Prefix=prefix)

    def _bundles(self, run_id: str | None) -> list[Resource]:
        bucket = self.bundle_bucket()
        prefix = f"{BUNDLE_PREFIX}/{run_id}/" if run_id else f"{BUNDLE_PREFIX}/"
        return [
            Resource("s3-object", o["Key"], o["Key"].split("/")[1], extra={"bucket": bucket})
            for o in self._objects(bucket, prefix)
        ]

    def _eb_objects(self, env_ids: dict[str, str]) -> list[Resource]:
        if not env_ids:
            return []
        bucket = self.eb_bucket()
        out = []
        for o in self._objects(bucket, EB_PREFIX):
            owner = next((rid for eid, rid in env_ids.items() if eid and f"/{eid}/" in f"/{o['Key']}"), None)
            if owner:
                out.append(Resource("eb-bucket-object", o["Key"], owner, extra={"bucket": bucket}))
        return out

    def bucket_report(self) -> list[str]:
        """One line per bucket scaleperf and Elastic Beanstalk keep: what is still in it (the buckets stay)."""
        lines = []
        buckets = ((self.bundle_bucket(), "scaleperf's bundle bucket"), (self.eb_bucket(), "Elastic Beanstalk's bucket"))
        for bucket, what in buckets:
            objects = self._objects(bucket, "")
            size = sum(o.get("Size", 0) for o in objects)
            lines.append(f"{what} s3://{bucket}: kept, {len(objects)} object(s), {size / 1e6:.1f} MB")
        return lines

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
        elif r.kind in ("s3-object", "eb-bucket-object"):
            self.delete_object(r.extra["bucket"], r.ident)
        else:  # pragma: no cover - every kind listed by tagged() is handled above
            raise ValueError(r.kind)

    def wait_deleted(self, r: Resource) -> None:
        if r.kind == "rds-instance":
            self.wait_db_deleted(r.ident)
        elif r.kind == "ec2-instance":
            self.wait_instances([r.ident], "terminated")
