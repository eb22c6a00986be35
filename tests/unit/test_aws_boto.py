"""The boto3 adapter's Elastic Beanstalk calls, checked parameter by parameter against the service model
(botocore's Stubber validates requests and responses against it), and waiting through a real client."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from test_aws_support import FakeClock

from scaleperf.aws import environment as envs
from scaleperf.aws.boto import BotoBeanstalk, user_errors
from scaleperf.aws.cloud import waiter_config
from scaleperf.aws.fake import FakeBeanstalk
from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError

TAGS = {"scaleperf:run-id": "r1", "scaleperf:slot": "main"}
TAG_LIST = [{"Key": "scaleperf:run-id", "Value": "r1"}, {"Key": "scaleperf:slot", "Value": "main"}]
ARN = "arn:aws:elasticbeanstalk:us-east-1:123456789012:environment/app/env-1"


@pytest.fixture
def eb():
    client = boto3.client("elasticbeanstalk", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield BotoBeanstalk(client), stub
        stub.assert_no_pending_responses()


def env(status, health="Grey", **kw):
    return {
        "EnvironmentName": "env-1",
        "EnvironmentId": "e-1",
        "ApplicationName": "app",
        "EnvironmentArn": ARN,
        "CNAME": "env-1.us-east-1.elasticbeanstalk.com",
        "Status": status,
        "Health": health,
        **kw,
    }


def test_create_environment_sends_the_documented_option_settings(eb):
    client, stub = eb
    config = load_configs()["horizontal1"]
    options = envs.creation_options(config, security_group="sg-1", properties={"RDS_HOSTNAME": "db.example", "RDS_PORT": "3306"})
    stub.add_response(
        "create_environment",
        env("Launching"),
        {
            "ApplicationName": "app",
            "EnvironmentName": "env-1",
            "Tier": {"Name": "WebServer", "Type": "Standard"},
            "VersionLabel": "v1",
            "SolutionStackName": "64bit Amazon Linux 2023 v4.6.1 running Ruby 3.4",
            "OptionSettings": options,
            "Tags": TAG_LIST,
        },
    )
    state = client.create_environment(
        application="app",
        name="env-1",
        version="v1",
        stack="64bit Amazon Linux 2023 v4.6.1 running Ruby 3.4",
        options=options,
        tags=TAGS,
    )
    assert state.status == "Launching" and state.arn == ARN
    got = {(o["Namespace"], o["OptionName"]): o["Value"] for o in options}
    assert got[("aws:ec2:instances", "InstanceTypes")] == "m7g.medium"
    assert ("aws:autoscaling:launchconfiguration", "InstanceType") not in got  # obsolete
    assert got[("aws:autoscaling:launchconfiguration", "DisableIMDSv1")] == "true"  # a launch template ...
    assert got[("aws:autoscaling:launchconfiguration", "RootVolumeType")] == "gp3"  # ... never a launch configuration
    assert got[("aws:elasticbeanstalk:environment", "EnvironmentType")] == "LoadBalanced"
    assert got[("aws:elasticbeanstalk:environment", "LoadBalancerType")] == "application"
    assert got[("aws:autoscaling:asg", "MinSize")] == got[("aws:autoscaling:asg", "MaxSize")] == "4"
    assert got[("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath")] == "/health"
    assert got[("aws:elasticbeanstalk:application:environment", "RDS_HOSTNAME")] == "db.example"


def test_application_version_and_application_calls(eb):
    client, stub = eb
    stub.add_response(
        "create_application",
        {"Application": {"ApplicationName": "app"}},
        {"ApplicationName": "app", "Description": "scaleperf load test", "Tags": TAG_LIST},
    )
    stub.add_response(
        "create_application_version",
        {"ApplicationVersion": {"ApplicationName": "app", "VersionLabel": "v1"}},
        {
            "ApplicationName": "app",
            "VersionLabel": "v1",
            "SourceBundle": {"S3Bucket": "b", "S3Key": "k.zip"},
            "Process": True,
            "Tags": TAG_LIST,
        },
    )
    stub.add_response("delete_application", {}, {"ApplicationName": "app", "TerminateEnvByForce": True})
    client.create_application("app", TAGS)
    client.create_application_version(application="app", label="v1", bucket="b", key="k.zip", tags=TAGS)
    client.delete_application("app")


def test_update_and_terminate_calls(eb):
    client, stub = eb
    new = load_configs()["horizontal2"]
    options = envs.fleet_options(new)
    stub.add_response("update_environment", env("Updating"), {"EnvironmentName": "env-1", "OptionSettings": options})
    stub.add_response("terminate_environment", env("Terminating"), {"EnvironmentName": "env-1", "TerminateResources": True})
    assert client.update_environment(name="env-1", options=options).status == "Updating"
    assert ("aws:elasticbeanstalk:environment", "LoadBalancerType") not in {(o["Namespace"], o["OptionName"]) for o in options}
    client.terminate_environment("env-1")


def test_describe_calls(eb):
    client, stub = eb
    when = datetime(2026, 1, 1, tzinfo=UTC)
    stub.add_response("describe_environments", {"Environments": [env("Ready", "Green")]}, {"EnvironmentNames": ["env-1"]})
    stub.add_response("describe_environments", {"Environments": [env("Terminated")]}, {"EnvironmentNames": ["env-1"]})
    stub.add_response(
        "describe_events",
        {"Events": [{"EventDate": when, "Severity": "INFO", "Message": "createEnvironment is starting."}]},
        {"EnvironmentName": "env-1", "MaxRecords": 100},
    )
    stub.add_response(
        "describe_environment_resources",
        {"EnvironmentResources": {"Instances": [{"Id": "i-1"}, {"Id": "i-2"}], "LoadBalancers": [{"Name": "arn:lb"}]}},
        {"EnvironmentName": "env-1"},
    )
    stub.add_response("list_tags_for_resource", {"ResourceArn": ARN, "ResourceTags": TAG_LIST}, {"ResourceArn": ARN})
    stub.add_response(
        "list_available_solution_stacks", {"SolutionStacks": ["64bit Amazon Linux 2023 v4.6.1 running Ruby 3.4"]}, {}
    )
    assert client.describe_environment("env-1").health == "Green"
    assert client.describe_environment("env-1") is None
    assert [e.message for e in client.events("env-1", None)] == ["createEnvironment is starting."]
    assert client.resources("env-1").instance_ids == ("i-1", "i-2")
    assert client.tags(ARN) == TAGS
    assert client.solution_stacks() == ["64bit Amazon Linux 2023 v4.6.1 running Ruby 3.4"]


def test_waiting_through_the_client_reports_events_and_health(eb):
    client, stub = eb
    t1, t2 = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC), datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    stub.add_response("describe_environments", {"Environments": [env("Launching")]}, {"EnvironmentNames": ["env-1"]})
    stub.add_response(
        "describe_events", {"Events": [{"EventDate": t1, "Severity": "INFO", "Message": "createEnvironment is starting."}]}
    )
    stub.add_response(
        "describe_environments", {"Environments": [env("Ready", "Green", HealthStatus="Ok")]}, {"EnvironmentNames": ["env-1"]}
    )
    stub.add_response(
        "describe_events",
        {"Events": [{"EventDate": t2, "Severity": "INFO", "Message": "Successfully launched environment: env-1"}]},
        {"EnvironmentName": "env-1", "MaxRecords": 100, "StartTime": t1},
    )
    said, clock = [], FakeClock()
    state = envs.Waiter(client, said.append, clock=clock, sleep=clock.sleep, poll_s=15).ready("env-1", 600, "creating")
    assert state.health == "Green" and clock.sleeps == [15]
    assert said == [
        "env-1: INFO createEnvironment is starting.",
        "env-1: Launching, health Grey",
        "env-1: INFO Successfully launched environment: env-1",
        "env-1: Ready, health Green (Ok)",
    ]


def test_waiter_config_covers_the_timeout():
    assert waiter_config(1800, 30) == {"Delay": 30, "MaxAttempts": 60}
    assert waiter_config(100, 30) == {"Delay": 30, "MaxAttempts": 4}
    w = boto3.client("elasticbeanstalk", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").get_waiter(
        "environment_exists"
    )
    assert w.config.delay * w.config.max_attempts == 400  # why the provider never relies on the default
    assert envs.CREATE_TIMEOUT_S >= 30 * 60


def test_client_errors_become_user_errors():
    from botocore.exceptions import ClientError

    with (
        pytest.raises(ScaleperfError, match="creating x: AWS said InsufficientPrivileges: not allowed"),
        user_errors("creating x"),
    ):
        raise ClientError({"Error": {"Code": "InsufficientPrivileges", "Message": "not allowed"}}, "CreateEnvironment")


def test_newest_matching_platform_is_chosen():
    stacks = [*FakeBeanstalk().solution_stacks(), "64bit Amazon Linux 2023 v4.10.0 running Ruby 3.4"]
    assert envs.pick_stack(stacks, "rails") == "64bit Amazon Linux 2023 v4.10.0 running Ruby 3.4"
    assert envs.pick_stack(stacks, "reference") == "64bit Amazon Linux 2023 v4.7.1 running Python 3.12"
    with pytest.raises(ScaleperfError, match="no Elastic Beanstalk platform"):
        envs.pick_stack(["64bit Amazon Linux 2 v3.9.1 running Ruby 3.2"], "rails")


def test_logged_option_summary_masks_secret_properties():
    opts = envs.property_options({"RDS_PASSWORD": "s3cret", "DATABASE_URL": "postgresql://u:s3cret@h/db", "RDS_PORT": "5432"})
    line = envs.describe_options(opts, frozenset({"s3cret"}))
    assert "s3cret" not in line and "RDS_PORT=5432" in line and line.count("********") == 2
