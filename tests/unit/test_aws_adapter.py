"""The preflight's and the read-back's AWS calls, checked against the service models with botocore's Stubber
(moto lacks them), and every list call read to its last page."""

import boto3
import pytest
from botocore.stub import Stubber

from scaleperf.aws.boto import BotoBeanstalk, BotoCloud
from scaleperf.aws.cloud import OptionSpec

KEYS = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
STACK = "64bit Amazon Linux 2023 v4.7.1 running Python 3.12"


@pytest.fixture
def eb():
    client = boto3.client("elasticbeanstalk", **KEYS)
    with Stubber(client) as stub:
        yield BotoBeanstalk(client), stub
        stub.assert_no_pending_responses()


def _cloud(service):
    cloud = BotoCloud(boto3.Session(**KEYS))
    client = boto3.client(service, **KEYS)
    cloud._clients[service] = client
    return cloud, Stubber(client)


def test_option_specs_ask_describe_configuration_options_for_the_stack(eb):
    client, stub = eb
    stub.add_response(
        "describe_configuration_options",
        {
            "Options": [
                {
                    "Namespace": "aws:elasticbeanstalk:environment",
                    "Name": "LoadBalancerType",
                    "ValueType": "Scalar",
                    "ValueOptions": ["classic", "application", "network"],
                },
            ]
        },
        {
            "SolutionStackName": STACK,
            "Options": [{"Namespace": "aws:elasticbeanstalk:environment", "OptionName": "LoadBalancerType"}],
        },
    )
    opts = [{"Namespace": "aws:elasticbeanstalk:environment", "OptionName": "LoadBalancerType", "Value": "application"}]
    assert client.option_specs(STACK, opts) == [
        OptionSpec("aws:elasticbeanstalk:environment", "LoadBalancerType", "Scalar", ("classic", "application", "network"))
    ]


def test_version_status_and_instance_health_pages(eb):
    client, stub = eb
    stub.add_response(
        "describe_application_versions",
        {"ApplicationVersions": [{"ApplicationName": "app", "VersionLabel": "v1", "Status": "FAILED"}]},
        {"ApplicationName": "app", "VersionLabels": ["v1"]},
    )
    attrs = ["HealthStatus", "Color", "Causes", "InstanceType"]
    stub.add_response(
        "describe_instances_health",
        {
            "InstanceHealthList": [
                {
                    "InstanceId": "i-1",
                    "InstanceType": "m7g.medium",
                    "Color": "Red",
                    "HealthStatus": "Severe",
                    "Causes": ["ELB health check failed"],
                }
            ],
            "NextToken": "t",
        },
        {"EnvironmentName": "env-1", "AttributeNames": attrs},
    )
    stub.add_response(
        "describe_instances_health",
        {"InstanceHealthList": [{"InstanceId": "i-2", "InstanceType": "m7g.medium", "Color": "Green", "HealthStatus": "Ok"}]},
        {"EnvironmentName": "env-1", "AttributeNames": attrs, "NextToken": "t"},
    )
    assert client.version_status("app", "v1") == "FAILED"
    health = client.instances_health("env-1")
    assert [h.instance_id for h in health] == ["i-1", "i-2"] and "ELB health check failed" in str(health[0])


def test_environments_are_read_to_the_last_page(eb):
    client, stub = eb
    env = {"EnvironmentName": "env-a", "Status": "Ready", "Health": "Green"}
    stub.add_response("describe_environments", {"Environments": [env], "NextToken": "t"}, {})
    stub.add_response("describe_environments", {"Environments": [{**env, "EnvironmentName": "env-b"}]}, {"NextToken": "t"})
    assert [e.name for e in client.environments()] == ["env-a", "env-b"]


def test_vcpu_quota_falls_back_to_the_default_and_engine_versions_page():
    cloud, stub = _cloud("service-quotas")
    with stub:
        stub.add_client_error(
            "get_service_quota", "NoSuchResourceException", expected_params={"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"}
        )
        stub.add_response(
            "get_aws_default_service_quota",
            {"Quota": {"QuotaCode": "L-1216C47A", "Value": 5.0}},
            {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"},
        )
        assert cloud.vcpu_quota() == 5.0
    cloud, stub = _cloud("rds")
    with stub:
        stub.add_response(
            "describe_db_engine_versions",
            {"DBEngineVersions": [{"EngineVersion": "8.0.39"}], "Marker": "m"},
            {"Engine": "mysql", "EngineVersion": "8.0"},
        )
        stub.add_response(
            "describe_db_engine_versions",
            {"DBEngineVersions": [{"EngineVersion": "8.0.40"}]},
            {"Engine": "mysql", "EngineVersion": "8.0", "Marker": "m"},
        )
        assert cloud.engine_versions("mysql", "8.0") == ["8.0.39", "8.0.40"]
