"""--loadgen parsing."""

import pytest

from scaleperf import loadgen
from scaleperf.errors import ScaleperfError


def test_default_is_one_in_process_runner():
    spec = loadgen.parse(None)
    assert spec.kind == "inprocess" and spec.local_workers == 0 and spec.expect_workers == 0 and spec.master_bind == "127.0.0.1"


def test_local_workers_and_remote_hosts():
    assert loadgen.parse("local:3").local_workers == 3
    hosts = loadgen.parse("hosts:a.example, b.example")
    assert hosts.hosts == ("a.example", "b.example") and hosts.expect_workers == 2 and hosts.master_bind == "0.0.0.0"
    ec2 = loadgen.parse("ec2:4:c7g.xlarge")
    assert ec2.expect_workers == 4 and ec2.instance_type == "c7g.xlarge"
    assert loadgen.parse("ec2:2").instance_type == loadgen.DEFAULT_EC2_TYPE


def test_remote_workers_are_told_the_port_the_master_listens_on():
    # Remote workers (started by hand or by EC2 user data) join Locust's default port; local ones take a free one.
    assert loadgen.parse("hosts:a").master_port == loadgen.parse("ec2:1").master_port == loadgen.MASTER_PORT == 5557
    assert loadgen.parse("local:2").master_port is None and loadgen.parse(None).master_port is None


@pytest.mark.parametrize("bad", ["local:x", "cloud:2", "local:0", "hosts:"])
def test_bad_values_say_what_is_accepted(bad):
    with pytest.raises(ScaleperfError, match="loadgen"):
        loadgen.parse(bad)
