"""Shared set-up of the AWS tests (no tests here): moto for S3/RDS/EC2/CloudWatch/STS, the in-memory Elastic Beanstalk,
and a clock that moves only when waited on (so timeouts are reached without waiting)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from scaleperf.aws.boto import BotoBeanstalk, BotoCloud
from scaleperf.aws.environment import INSTANCE_PROFILE, SERVICE_ROLE, Waiter
from scaleperf.aws.fake import FakeBeanstalk, serve

REGION = "us-east-1"
# What boto3 reads from the environment under moto: fake credentials, the test region, no instance metadata lookups.
MOTO_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # AWS's managed policies, which the Elastic Beanstalk roles attach
}
XDIST_ENVIRONMENT = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT")  # what pytest-xdist sets in its workers


@contextmanager
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in place of AWS for one test (each test file's ``aws`` fixture enters this).  The test runs as a
    plain session even when the unit tests themselves run under pytest -n (the provider refuses some options
    under xdist)."""
    for name, value in MOTO_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in XDIST_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@dataclass
class FakeClock:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    interrupt_after: int | None = None  # raise KeyboardInterrupt at this sleep (Ctrl-C while waiting)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.interrupt_after is not None and len(self.sleeps) == self.interrupt_after:
            raise KeyboardInterrupt
        self.now += seconds


def rails_app(root: Path) -> Path:
    app = root / "shop"
    (app / "config").mkdir(parents=True)
    (app / "Gemfile").write_text('source "https://rubygems.org"\ngem "rails", "~> 8.0"\n')
    (app / "config.ru").write_text("run Rails.application\n")
    (app / "config" / "database.yml").write_text("production:\n  host: <%= ENV['RDS_HOSTNAME'] %>\n")
    (app / "log").mkdir()
    (app / "log" / "production.log").write_text("old log lines\n")
    return app


class World:
    """One moto account with an in-memory Elastic Beanstalk behind a real boto3 client: the provider goes
    through the boto3 adapter, and botocore validates every Elastic Beanstalk request against the model."""

    def __init__(self, *, roles: bool = True, engine_versions: tuple[str, ...] = ("8.0.40", "17.4"), **fake_kw) -> None:
        self.session = boto3.Session(region_name=REGION)
        self.eb = FakeBeanstalk(region=REGION, read_bundle=self._read_bundle, **fake_kw)
        client = self.session.client("elasticbeanstalk", aws_access_key_id="x", aws_secret_access_key="x")
        serve(self.eb, client)
        self.cloud = BotoCloud(self.session, beanstalk=BotoBeanstalk(client))
        # moto has no DescribeDBEngineVersions: the versions RDS would list (the adapter's call is Stubber-tested)
        self.cloud.engine_versions = lambda engine, major: [v for v in engine_versions if v.startswith(major + ".")]
        if roles:
            self.cloud.create_roles(INSTANCE_PROFILE, SERVICE_ROLE)
        self.clock = FakeClock()
        self.said: list[str] = []

    def _read_bundle(self, bucket: str, key: str) -> bytes:
        return self.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    def factory(self) -> BotoCloud:
        return self.cloud

    def waiter(self, eb, say) -> Waiter:
        return Waiter(eb, say, clock=self.clock, sleep=self.clock.sleep, poll_s=15)

    def say(self, message: str) -> None:
        self.said.append(message)

    def provider_kw(self, tmp_path: Path, **kw) -> dict:
        return {
            "cloud_factory": self.factory,
            "waiter": self.waiter,
            "say": self.say,
            "work_dir": tmp_path,
            "slot": "main",
            "clock": self.clock,
            "sleep": self.clock.sleep,
            **kw,
        }
