"""--provider url with an Elastic Beanstalk CNAME: the environment's CloudWatch telemetry when credentials allow,
and a fact saying why not otherwise, never an error.  No network: CloudWatch through moto, Elastic Beanstalk
through the in-memory fake behind a real boto3 client, CloudFormation through botocore's Stubber."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from test_aws_support import FakeClock, mocked_aws

from scaleperf.aws import telemetry as cloudwatch
from scaleperf.aws.boto import BotoBeanstalk, BotoCloud
from scaleperf.aws.fake import STACKS, FakeBeanstalk, serve
from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.providers import url
from scaleperf.providers.url_cloudwatch import EbHost, attach, eb_host

REGION = "eu-west-1"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()
NS_ENV = "aws:elasticbeanstalk:environment"
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


# ---------------------------------------------------------------- the CNAME


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://team-single.eu-west-1.elasticbeanstalk.com", EbHost("team-single.eu-west-1.elasticbeanstalk.com", "eu-west-1")),
        ("https://Team.US-EAST-1.ElasticBeanstalk.com:443/x?y", EbHost("team.us-east-1.elasticbeanstalk.com", "us-east-1")),
        ("http://gov.us-gov-west-1.elasticbeanstalk.com.", EbHost("gov.us-gov-west-1.elasticbeanstalk.com", "us-gov-west-1")),
        ("http://old-app.elasticbeanstalk.com", EbHost("old-app.elasticbeanstalk.com", None)),
    ],
)
def test_an_elastic_beanstalk_cname_and_its_region(given: str, expected: EbHost) -> None:
    assert eb_host(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "http://127.0.0.1:8000",
        "http://a.example",
        "http://elasticbeanstalk.com",
        "http://notelasticbeanstalk.com",
        "http://team.eu-west-1.elasticbeanstalk.com.example",
        "http://a.b.eu-west-1.elasticbeanstalk.com",  # EB gives one label before the region
        "http://team.not-a-region.elasticbeanstalk.com",
        "http://.eu-west-1.elasticbeanstalk.com",
        "http://my-alb-1.eu-west-1.elb.amazonaws.com",
    ],
)
def test_other_hosts_are_no_elastic_beanstalk_cname(given: str) -> None:
    assert eb_host(given) is None


# ---------------------------------------------------------------- an account


class Account:
    """One moto account (CloudWatch), the in-memory Elastic Beanstalk behind a real boto3 client, and a stubbed
    CloudFormation client (moto's needs extra packages) for the lookup of an environment's own database."""

    def __init__(self, region: str = REGION) -> None:
        self.session = boto3.Session(region_name=region)
        self.eb = FakeBeanstalk(region=region)
        client = self.session.client("elasticbeanstalk")
        serve(self.eb, client)
        self.cloud = BotoCloud(self.session, beanstalk=BotoBeanstalk(client))
        cfn = self.session.client("cloudformation")
        self.cloud._clients["cloudformation"] = cfn
        self.cfn = Stubber(cfn)
        self.cfn.activate()
        self.asked: list[str | None] = []
        self.clock = FakeClock()
        self.said: list[str] = []
        self.eb.create_application("team", {})
        self.eb.create_application_version(application="team", label="v1", bucket="b", key="k", tags={})

    def cloud_for(self, region: str | None) -> BotoCloud:
        self.asked.append(region)
        return self.cloud

    def environment(self, name: str, *, instances: int = 2, lb: str = "application") -> tuple[str, ...]:
        options = [
            {"Namespace": NS_ENV, "OptionName": "EnvironmentType", "Value": "LoadBalanced"},
            {"Namespace": NS_ENV, "OptionName": "LoadBalancerType", "Value": lb},
            {"Namespace": "aws:autoscaling:asg", "OptionName": "MinSize", "Value": str(instances)},
        ]
        state = self.eb.create_environment(application="team", name=name, version="v1", stack=STACKS[0], options=options, tags={})
        return state.env_id, state.cname

    def database(self, env_id: str, ident: str | None) -> None:
        """What CloudFormation answers for the environment's AWSEBRDSDatabase (None: it has none)."""
        asked = {"StackName": f"awseb-{env_id}-stack", "LogicalResourceId": "AWSEBRDSDatabase"}
        if ident is None:
            self.cfn.add_client_error(
                "describe_stack_resource",
                service_error_code="ValidationError",
                service_message=f"Resource AWSEBRDSDatabase does not exist for stack awseb-{env_id}-stack",
                expected_params=asked,
            )
            return
        detail = {
            "StackName": f"awseb-{env_id}-stack",
            "LogicalResourceId": "AWSEBRDSDatabase",
            "PhysicalResourceId": ident,
            "ResourceType": "AWS::RDS::DBInstance",
            "LastUpdatedTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
            "ResourceStatus": "CREATE_COMPLETE",
        }
        self.cfn.add_response("describe_stack_resource", {"StackResourceDetail": detail}, asked)

    def attach(self, target: str):
        return attach(target, cloud_for=self.cloud_for, clock=self.clock, sleep=self.clock.sleep, say=self.said.append)

    def provider(self, target: str, **kw) -> url.UrlProvider:
        return url.UrlProvider(f"single={target}", selected=["single"], cloudwatch=self.attach, **kw)


def publish(namespace: str, metric: str, dims: dict[str, str], values: list[float]) -> None:
    cw = boto3.client("cloudwatch", region_name=REGION)
    for minute, value in enumerate(values):
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    "Timestamp": datetime.fromtimestamp(T0 + 60 * minute, UTC),  # a period is stamped by its start
                    "Value": value,
                }
            ],
        )


@pytest.fixture
def aws(monkeypatch):
    with mocked_aws(monkeypatch):
        yield


@pytest.fixture
def no_aws_calls(monkeypatch):
    """Fail the test if anything would call AWS."""

    def refuse(self, service):
        raise AssertionError(f"an AWS {service} client was asked for")

    monkeypatch.setattr(BotoCloud, "client", refuse)


def run(provider: url.UrlProvider, t1: float = T0 + 180):
    """Provision ``single``, take its facts as the load engine does before a run, read telemetry after it."""
    with provider.provision(load_configs()["single"]) as dep:
        facts = dep.describe()
        series = {t.component: t for t in dep.telemetry(T0, t1)}
    return facts, series


# ---------------------------------------------------------------- attached


def test_an_environment_found_by_its_cname_gets_its_cloudwatch_series(aws) -> None:
    account = Account()
    env_id, cname = account.environment("team-single", instances=2)
    account.database(env_id, "awseb-e-stack-awsebrdsdatabase-abc")
    res = account.eb.resources("team-single")
    for n, iid in enumerate(res.instance_ids):
        publish("AWS/EC2", "CPUUtilization", {"InstanceId": iid}, [10.0 * (n + 1) + m for m in range(3)])
    publish("AWS/ApplicationELB", "RequestCount", {"LoadBalancer": res.load_balancers[0].split(":loadbalancer/")[1]}, [600.0] * 3)
    publish("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "awseb-e-stack-awsebrdsdatabase-abc"}, [55.0] * 3)

    facts, tel = run(account.provider(f"http://{cname.upper()}"))  # DNS names are case-insensitive

    assert account.asked == [REGION]  # the region named by the CNAME
    assert set(tel) == {"app-1", "app-2", "lb", "db"}
    assert tel["app-2"].tier == "app" and np.allclose(tel["app-2"].cpu_pct, [20, 21, 22])
    assert np.allclose(tel["app-1"].t, [0, 60, 120])
    assert tel["lb"].tier == "lb" and np.allclose(tel["lb"].requests, [10, 10, 10])  # per second
    assert np.allclose(tel["db"].cpu_pct, [55, 55, 55])
    assert account.clock.sleeps == []  # CloudWatch had the whole window: no waiting
    assert facts["telemetry"] == {
        "attached": True,
        "source": cloudwatch.TELEMETRY_SOURCE,
        "environment": "team-single",
        "region": REGION,
        "read_from_elastic_beanstalk": {
            "application": "team",
            "environment_id": env_id,
            "database": "awseb-e-stack-awsebrdsdatabase-abc",
        },
        "complete": True,  # completed in place after the run, as the aws provider's deployment does
        "waited_s": 0,
    }
    flat = repr(facts)
    assert "t3.micro" not in flat and "m7g" not in flat and "instance_type" not in flat  # nothing claimed about sizes
    account.cfn.assert_no_pending_responses()


def test_an_environment_without_a_database_of_its_own_gets_no_db_series_and_says_so(aws) -> None:
    account = Account()
    env_id, cname = account.environment("team-single", instances=1)
    account.database(env_id, None)
    (iid,) = account.eb.resources("team-single").instance_ids
    publish("AWS/EC2", "CPUUtilization", {"InstanceId": iid}, [30.0, 31.0, 32.0])
    publish("AWS/ApplicationELB", "RequestCount", {"LoadBalancer": "app/awseb-team-single/0000000001"}, [60.0] * 3)

    facts, tel = run(account.provider(f"http://{cname}"))

    assert set(tel) == {"app-1", "lb"}
    assert facts["telemetry"]["attached"] is True and facts["telemetry"]["read_from_elastic_beanstalk"]["database"] is None
    assert "no database of its own" in facts["telemetry"]["db_not_read"]


def test_a_classic_load_balancer_is_read_where_cloudwatch_counts_it(aws) -> None:
    account = Account()
    env_id, cname = account.environment("team-classic", instances=1, lb="classic")
    account.database(env_id, None)
    (iid,) = account.eb.resources("team-classic").instance_ids
    (name,) = account.eb.resources("team-classic").load_balancers
    publish("AWS/EC2", "CPUUtilization", {"InstanceId": iid}, [30.0, 31.0, 32.0])
    publish("AWS/ELB", "RequestCount", {"LoadBalancerName": name}, [120.0] * 3)

    facts, tel = run(account.provider(f"http://{cname}"))

    assert np.allclose(tel["lb"].requests, [2, 2, 2]) and facts["telemetry"]["complete"] is True


def test_a_network_load_balancer_counts_no_requests_and_the_facts_say_it_was_left_out(aws) -> None:
    account = Account()
    env_id, cname = account.environment("team-net", instances=1, lb="network")
    account.database(env_id, None)
    (iid,) = account.eb.resources("team-net").instance_ids
    publish("AWS/EC2", "CPUUtilization", {"InstanceId": iid}, [30.0, 31.0, 32.0])

    facts, tel = run(account.provider(f"http://{cname}"))

    assert set(tel) == {"app-1"} and account.clock.sleeps == []  # nothing waited for that will never come
    assert "loadbalancer/net/" in facts["telemetry"]["not_read"] and facts["telemetry"]["complete"] is True


def test_a_series_cloudwatch_never_finishes_is_waited_for_then_recorded_as_incomplete(aws) -> None:
    account = Account()
    env_id, cname = account.environment("team-single", instances=1)
    account.database(env_id, None)
    (iid,) = account.eb.resources("team-single").instance_ids
    publish("AWS/EC2", "CPUUtilization", {"InstanceId": iid}, [30.0, 31.0])  # the run's last minute never comes

    facts, tel = run(account.provider(f"http://{cname}"), t1=T0 + 150)

    assert sum(account.clock.sleeps) == pytest.approx(cloudwatch.TELEMETRY_WAIT_S)  # the injected clock: no real wait
    assert np.isnan(tel["app-1"].cpu_pct[2]) and np.isnan(tel["lb"].requests).all()
    note = facts["telemetry"]
    assert note["complete"] is False and "app-1" in note["gave_up"] and "lb" in note["gave_up"]
    assert any("gave up waiting for CloudWatch" in m for m in account.said)


def test_cloudwatch_refusing_the_read_leaves_the_run_without_telemetry_and_says_why(aws, monkeypatch) -> None:
    account = Account()
    env_id, cname = account.environment("team-single", instances=1)
    account.database(env_id, None)

    def denied(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "GetMetricStatistics")

    monkeypatch.setattr(account.cloud, "metric", denied)
    facts, tel = run(account.provider(f"http://{cname}"))

    assert tel == {}
    assert facts["telemetry"]["attached"] is False and "AccessDenied" in facts["telemetry"]["why"]


# ---------------------------------------------------------------- not attached, never an error


def test_without_credentials_nothing_is_attached_nothing_is_called_and_the_facts_say_why(
    monkeypatch, tmp_path: Path, no_aws_calls
) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "BOTO_CONFIG"):
        monkeypatch.setenv(name, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # and no instance metadata lookup
    provider = url.UrlProvider("single=http://team-single.eu-west-1.elasticbeanstalk.com", selected=["single"])

    facts, tel = run(provider)  # boto3's own chain, as a user's session finds it

    assert tel == {}
    assert facts["telemetry"]["attached"] is False and "no AWS credentials" in facts["telemetry"]["why"]


def test_an_old_cname_without_a_configured_region_is_left_alone_and_said(monkeypatch, tmp_path: Path, no_aws_calls) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    provider = url.UrlProvider("single=http://old-app.elasticbeanstalk.com", selected=["single"])

    facts, tel = run(provider)

    assert tel == {}
    assert facts["telemetry"]["attached"] is False and "AWS_REGION" in facts["telemetry"]["why"]


def test_an_eb_cname_no_environment_has_is_a_clear_fact_not_an_error(aws) -> None:
    account = Account()
    account.environment("team-single")

    facts, tel = run(account.provider(f"http://someone-else.{REGION}.elasticbeanstalk.com"))

    assert tel == {}
    why = facts["telemetry"]["why"]
    assert facts["telemetry"]["attached"] is False
    assert f"no Elastic Beanstalk environment in {REGION} has the CNAME someone-else.{REGION}.elasticbeanstalk.com" in why


def test_no_permission_to_look_is_a_fact_not_an_error() -> None:
    keys = {"region_name": REGION, "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    session = boto3.Session(**keys)
    client = session.client("elasticbeanstalk")
    with Stubber(client) as stub:
        stub.add_client_error(
            "describe_environments", service_error_code="AccessDenied", service_message="not authorized", expected_params={}
        )
        cloud = BotoCloud(session, beanstalk=BotoBeanstalk(client))
        source = attach(f"http://team.{REGION}.elasticbeanstalk.com", cloud_for=lambda region: cloud, say=lambda m: None)
    assert source is not None and source(T0, T0 + 60) == ((), {})
    assert source.facts["attached"] is False and "AWS said AccessDenied: not authorized" in source.facts["why"]


def test_a_url_that_is_no_eb_cname_attempts_nothing(no_aws_calls) -> None:
    asked: list = []
    assert attach("http://127.0.0.1:8000", cloud_for=asked.append) is None
    assert asked == []
    facts, tel = run(url.UrlProvider("single=http://127.0.0.1:8000", selected=["single"]))  # the provider's own attach
    assert "telemetry" not in facts and tel == {}


# ---------------------------------------------------------------- --url-telemetry


def test_off_never_looks_and_says_it_was_turned_off() -> None:
    asked: list[str] = []
    provider = url.UrlProvider(
        f"single=http://team.{REGION}.elasticbeanstalk.com", selected=["single"], telemetry="off", cloudwatch=asked.append
    )
    facts, tel = run(provider)
    assert asked == [] and tel == {}
    assert facts["telemetry"] == {"attached": False, "why": "turned off with --url-telemetry off (ini: scaleperf_url_telemetry)"}


def test_the_environment_is_looked_up_once_per_url() -> None:
    asked: list[str] = []
    provider = url.UrlProvider(f"http://team.{REGION}.elasticbeanstalk.com", selected=["single"], cloudwatch=asked.append)
    run(provider)
    run(provider)  # the next replicate
    assert asked == [f"http://team.{REGION}.elasticbeanstalk.com"]


def test_the_settings_choose_the_mode_and_a_wrong_one_is_refused() -> None:
    class Settings:
        targets_file = None
        target_url = f"single=http://team.{REGION}.elasticbeanstalk.com"
        url_telemetry = "off"

    assert url.from_settings(Settings(), ["single"]).telemetry == "off"
    Settings.url_telemetry = "sometimes"
    with pytest.raises(ScaleperfError, match="--url-telemetry must be one of auto, off"):
        url.from_settings(Settings(), ["single"])
