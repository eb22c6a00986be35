"""``scaleperf aws sweep``: deleting what a crashed run left, and failing while anything tagged remains."""

import boto3
import pytest
from test_aws_support import REGION, World, mocked_aws, rails_app

from scaleperf import cli
from scaleperf.aws import sweep
from scaleperf.aws.boto import tags_for
from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.providers.aws import AwsProvider

CRASHED, OTHER = "20260101-000000-dead", "20260101-000000-live"


@pytest.fixture
def aws(monkeypatch):
    with mocked_aws(monkeypatch):
        yield


def _leave_behind(world, tmp_path, run_id):
    """A run that crashed after provisioning: everything it made is still there."""
    provider = AwsProvider(run_id=run_id, app=rails_app(tmp_path / run_id), **world.provider_kw(tmp_path, keep=True))
    with provider.provision(load_configs()["horizontal1"]):
        pass
    ec2 = world.cloud.client("ec2")
    ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="c7g.large",
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags_for(run_id, "main").items()]}
        ],
    )


def test_sweep_deletes_one_run_and_leaves_the_others(aws, tmp_path):
    world = World()
    _leave_behind(world, tmp_path, CRASHED)
    _leave_behind(world, tmp_path, OTHER)
    found = sweep.find(world.cloud, CRASHED)
    assert [r.kind for r in found] == [
        "eb-environment",
        "ec2-instance",
        "rds-instance",
        "rds-snapshot",
        "eb-application",
        "security-group",
        "security-group",
        "s3-object",
    ]
    deleted = sweep.sweep(world.cloud, CRASHED, say=world.say, waiter=world.waiter(world.eb, world.say))
    assert {r.ident for r in deleted} == {r.ident for r in found}
    assert sweep.find(world.cloud, CRASHED) == []
    assert {r.kind for r in sweep.find(world.cloud, OTHER)} >= {"eb-environment", "rds-instance", "ec2-instance"}
    assert any("nothing tagged remains" in m for m in world.said)
    sweep.sweep(world.cloud, None, say=world.say, waiter=world.waiter(world.eb, world.say))  # every run
    assert sweep.find(world.cloud) == []


def test_sweep_fails_while_anything_tagged_remains(aws, tmp_path):
    world = World()
    _leave_behind(world, tmp_path, CRASHED)

    def refuse(group):
        raise RuntimeError("DependencyViolation: resource has a dependent object")

    world.cloud.delete_security_group = refuse
    with pytest.raises(ScaleperfError, match=r"2 tagged resource\(s\) remain after the sweep: security-group sg-"):
        sweep.sweep(world.cloud, CRASHED, say=world.say, waiter=world.waiter(world.eb, world.say))
    assert any("could not delete the security groups" in m for m in world.said)


def test_cli_sweep_removes_a_runs_database_and_groups(aws, capsys):
    rds, ec2 = boto3.client("rds", region_name=REGION), boto3.client("ec2", region_name=REGION)
    tags = [{"Key": k, "Value": v} for k, v in tags_for(CRASHED, "gw1").items()]
    rds.create_db_instance(
        DBInstanceIdentifier="sp-left-db1",
        DBInstanceClass="db.m5.large",
        Engine="postgres",
        MasterUsername="u",
        MasterUserPassword="p" * 12,
        AllocatedStorage=20,
        Tags=tags,
    )
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    ec2.create_security_group(
        GroupName="sp-left", Description="d", VpcId=vpc, TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}]
    )
    assert cli.main(["aws", "sweep", "--run-id", CRASHED, "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert "rds-instance sp-left-db1" in listed and "security-group sg-" in listed
    assert cli.main(["aws", "sweep", "--run-id", CRASHED]) == 0
    assert "nothing tagged remains" in capsys.readouterr().err
    assert rds.describe_db_instances()["DBInstances"] == [] or all(
        d["DBInstanceStatus"] == "deleted" for d in rds.describe_db_instances()["DBInstances"]
    )
    assert cli.main(["aws", "sweep", "--run-id", CRASHED, "--dry-run"]) == 0
    assert "nothing tagged found" in capsys.readouterr().out
