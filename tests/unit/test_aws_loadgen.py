"""EC2 load generators: user data, the run's security groups, joining, teardown, and finding the master."""

import io
import subprocess
import sys
import tarfile
import textwrap
from importlib import metadata

import boto3
import pytest
from test_aws_support import REGION, FakeClock, World, mocked_aws, rails_app

from scaleperf.aws import loadgen
from scaleperf.aws.boto import BotoCloud
from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.providers.aws import AwsProvider

RUN = "20260101-000000-lg"
TAGS = {"scaleperf:run-id": RUN, "scaleperf:slot": "main"}
AMI = "ami-12c6146b"  # one of the images moto knows


@pytest.fixture
def aws(monkeypatch):
    with mocked_aws(monkeypatch):
        yield


def _master(cloud: BotoCloud) -> loadgen.MasterLocation:
    """An instance standing in for the machine the suite runs on."""
    vpc, subnets = cloud.default_vpc()
    image = AMI
    inst = cloud.client("ec2").run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t4g.small", SubnetId=subnets[0]
    )["Instances"][0]
    ni = inst["NetworkInterfaces"][0]
    return loadgen.MasterLocation(inst["InstanceId"], inst["PrivateIpAddress"], REGION, vpc, subnets[0], ni["MacAddress"])


def test_user_data_pins_versions_and_joins_the_master():
    data = loadgen.user_data(
        master_host="10.0.1.23",
        bundle_url="https://b.s3.amazonaws.com/w.tgz?X-Amz-Signature=abc&x=1",
        locustfile_name="helpdesk.py",
        versions=loadgen.pinned_versions(),
        env={"HELPDESK_SEED": "7"},
    )
    assert data.startswith("#!/bin/bash\n")
    pins = f"pip install --no-cache-dir locust=={metadata.version('locust')} numpy=={metadata.version('numpy')}\n"
    assert pins in data
    # scaleperf's worker entry point: the raw-sample recorder loads whatever the locustfile imports
    assert (
        "\nExecStart=/opt/scaleperf/venv/bin/python -m scaleperf.load.worker -f /opt/scaleperf/app/locustfiles/helpdesk.py "
        "--worker --master-host 10.0.1.23 --master-port 5557\n"
    ) in data
    assert "bin/locust" not in data
    assert "'https://b.s3.amazonaws.com/w.tgz?X-Amz-Signature=abc&x=1'" in data  # quoted: the & stays in the URL
    assert f"shutdown -h +{loadgen.MAX_LIFETIME_MIN}" in data and "Restart=always" in data
    assert 'Environment="HELPDESK_SEED=7"' in data
    assert "\nEnvironment=PYTHONPATH=/opt/scaleperf/app\n" in data and "\nWorkingDirectory=/opt/scaleperf/app\n" in data
    with pytest.raises(ScaleperfError, match="cannot be passed"):
        loadgen.user_data(
            master_host="h", bundle_url="u", locustfile_name="l.py", versions={}, env={"A": 'x"\nExecStart=/bin/sh'}
        )
    assert len(data.encode()) < 16 * 1024  # EC2's user data limit


def test_worker_bundle_carries_the_locustfile_and_the_recorder_package(tmp_path):
    lf = tmp_path / "helpdesk.py"
    lf.write_text("from locust import HttpUser\n")
    with tarfile.open(fileobj=io.BytesIO(loadgen.worker_bundle(lf)), mode="r:gz") as tar:
        names = tar.getnames()
    assert "locustfiles/helpdesk.py" in names and "scaleperf/__init__.py" in names and "scaleperf/results.py" in names
    assert not any(n.startswith("scaleperf/aws/") for n in names)
    with pytest.raises(ScaleperfError, match="not found"):
        loadgen.worker_bundle(tmp_path / "missing.py")


def test_the_worker_bundle_starts_scaleperfs_worker_entry_point(tmp_path):
    """Unpacked as on an instance, the bundle alone (with the pinned packages) runs ``python -m scaleperf.load.worker``."""
    lf = tmp_path / "helpdesk.py"
    lf.write_text("from locust import HttpUser\n")
    app = tmp_path / "app"
    with tarfile.open(fileobj=io.BytesIO(loadgen.worker_bundle(lf)), mode="r:gz") as tar:
        tar.extractall(app, filter="data")
    script = (
        "import runpy, sys, scaleperf\n"
        "assert scaleperf.__file__.startswith(sys.argv[1]), scaleperf.__file__\n"
        "sys.argv = [sys.argv[0], '--version']\n"
        "runpy.run_module('scaleperf.load.worker', run_name='__main__')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(app)],
        cwd=app,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(app)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"locust {metadata.version('locust')}" in out.stdout


def test_workers_get_a_run_scoped_group_and_are_removed(aws):
    cloud = BotoCloud(boto3.Session(region_name=REGION))
    master = _master(cloud)
    ec2 = cloud.client("ec2")
    before = cloud.interface_groups(loadgen.Ec2Workers(cloud, master, TAGS, "x")._master_eni())
    workers = loadgen.Ec2Workers(cloud=cloud, master=master, tags=TAGS, name="sp-test")
    image = AMI
    workers.start(
        count=2,
        instance_type="c7g.large",
        image=image,
        bundle_url="https://example.invalid/w.tgz",
        locustfile_name="helpdesk.py",
        env={},
    )
    assert len(workers.instance_ids) == 2
    insts = cloud.instances(workers.instance_ids)
    assert all({"Key": "scaleperf:run-id", "Value": RUN} in i["Tags"] for i in insts)
    assert all(
        i["InstanceType"] == "c7g.large" and [g["GroupId"] for g in i["SecurityGroups"]] == [workers.worker_group] for i in insts
    )
    rule = ec2.describe_security_groups(GroupIds=[workers.master_group])["SecurityGroups"][0]["IpPermissions"]
    assert rule[0]["FromPort"] == rule[0]["ToPort"] == loadgen.MASTER_PORT
    assert [p["GroupId"] for p in rule[0]["UserIdGroupPairs"]] == [workers.worker_group] and not rule[0].get("IpRanges")
    assert workers.master_group in cloud.interface_groups(workers.master_eni)
    ids, eni = list(workers.instance_ids), workers.master_eni
    workers.stop()
    assert {i["State"]["Name"] for i in cloud.instances(ids)} == {"terminated"}
    assert cloud.interface_groups(eni) == before
    assert [r for r in cloud.tagged(RUN) if r.kind == "security-group"] == []


def test_a_worker_that_never_joins_times_out_with_a_clear_message(aws):
    cloud = BotoCloud(boto3.Session(region_name=REGION))
    workers = loadgen.Ec2Workers(cloud=cloud, master=_master(cloud), tags=TAGS, name="sp-test")
    image = AMI
    workers.start(count=2, instance_type="c7g.large", image=image, bundle_url="u", locustfile_name="helpdesk.py", env={})
    counts = iter([0, 1, 1, 1, 1, 1, 1])
    clock, said = FakeClock(), []
    with pytest.raises(ScaleperfError, match=r"only 1 of 2 joined within 60 s.*get-console-output --instance-id i-"):
        workers.wait_joined(lambda: next(counts), timeout_s=60, poll_s=20, clock=clock, sleep=clock.sleep, say=said.append)
    assert said[0].startswith("0 of 2 EC2 Locust workers joined") and said[1].startswith("1 of 2")
    workers.wait_joined(lambda: 2, timeout_s=0, clock=clock, sleep=clock.sleep, say=said.append)  # all joined: returns
    workers.stop()


def _provider_with_workers(world, tmp_path, master):
    lf = tmp_path / "helpdesk.py"
    lf.write_text("from locust import HttpUser\n")
    world.cloud.image_for = lambda arch: AMI
    return AwsProvider(
        run_id=RUN,
        app=rails_app(tmp_path),
        loadgen="ec2:2:c7g.large",
        locustfile=lf,
        locate=lambda region: master,
        **world.provider_kw(tmp_path, reuse=False),
    )


class Spy:
    """The cloud, noting every attribute the provider uses (a method it calls, ``eb`` for Elastic Beanstalk)."""

    def __init__(self, cloud) -> None:
        self._cloud = cloud
        self.used: list[str] = []

    def __getattr__(self, name):
        self.used.append(name)
        return getattr(self._cloud, name)


def _dead_port() -> int:
    import socket

    with socket.socket() as s:  # a port on loopback with nothing listening
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_off_ec2_the_provider_stops_before_creating_anything(aws, tmp_path):
    world = World()
    spy = Spy(world.cloud)
    lf = tmp_path / "helpdesk.py"
    lf.write_text("from locust import HttpUser\n")
    imds = f"http://127.0.0.1:{_dead_port()}"
    provider = AwsProvider(
        run_id=RUN,
        app=rails_app(tmp_path),
        loadgen="ec2:2",
        locustfile=lf,
        locate=lambda region: loadgen.locate_master(region, url=imds, timeout=1),
        **{**world.provider_kw(tmp_path), "cloud_factory": lambda: spy},
    )
    with (
        pytest.raises(ScaleperfError, match=r"not on EC2.*Nothing was created"),
        provider.provision(load_configs()["single"]),
    ):
        pass
    assert set(spy.used) <= {"check_credentials", "region"}  # no bucket, upload, group, database, instance ...
    assert world.eb.calls == []  # ... and no Elastic Beanstalk call
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []
    assert world.cloud.tagged(RUN) == []
    assert not any("creating" in m or "uploaded" in m for m in world.said)


@pytest.mark.parametrize(("count", "refused"), [("4", True), ("", True), ("1", False)])
def test_ec2_workers_are_refused_under_pytest_xdist(monkeypatch, tmp_path, count, refused):
    def factory():
        raise AssertionError("the cloud was contacted")

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    if count:
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", count)
    else:
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    lf = tmp_path / "helpdesk.py"
    lf.write_text("from locust import HttpUser\n")
    provider = AwsProvider(run_id=RUN, loadgen="ec2:2", locustfile=lf, cloud_factory=factory, work_dir=tmp_path)
    if refused:
        with (
            pytest.raises(ScaleperfError, match=r"cannot run under pytest -n.*5557.*one after another.*local:N.*hosts:a,b"),
            provider.provision(load_configs()["single"]),
        ):
            pass
    else:  # one xdist worker is one session: nothing shares the port, the check passes on to the cloud
        with pytest.raises(AssertionError, match="contacted"), provider.provision(load_configs()["single"]):
            pass
    # Other load generators still run in parallel sessions.
    local = AwsProvider(run_id=RUN, loadgen="local:2", cloud_factory=factory, work_dir=tmp_path)
    with pytest.raises(AssertionError, match="contacted"), local.provision(load_configs()["single"]):
        pass


def test_provider_tears_down_workers_that_never_join(aws, tmp_path):
    world = World()
    master = _master(world.cloud)
    before = cloud_groups(world, master)
    provider = _provider_with_workers(world, tmp_path, master)
    with pytest.raises(ScaleperfError, match="did not all join"), provider.provision(load_configs()["single"]) as dep:
        assert dep.describe()["loadgen_workers"] == 2
        kinds = [r.kind for r in world.cloud.tagged(RUN)]
        assert kinds.count("ec2-instance") == 2 and kinds.count("security-group") == 4
        dep.wait_for_workers(lambda: 0, timeout_s=0)
    assert world.cloud.tagged(RUN) == []
    assert cloud_groups(world, master) == before  # this machine's groups are as they were


def cloud_groups(world, master):
    eni = world.cloud.instances([master.instance_id])[0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
    return world.cloud.interface_groups(eni)


def test_ctrl_c_while_workers_boot_removes_everything(aws, tmp_path):
    world = World()
    provider = _provider_with_workers(world, tmp_path, _master(world.cloud))
    clock = FakeClock(interrupt_after=1)
    with pytest.raises(KeyboardInterrupt), provider.provision(load_configs()["single"]) as dep:
        dep.wait_for_workers(lambda: 0, timeout_s=600, clock=clock, sleep=clock.sleep)
    assert world.cloud.tagged(RUN) == []


IMDS = textwrap.dedent(
    """
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    DOC = {"instanceId": "i-0abc", "privateIp": "10.0.1.23", "region": sys.argv[1]}
    PATHS = {"/latest/dynamic/instance-identity/document": json.dumps(DOC), "/latest/meta-data/mac": "0a:1b:2c:3d:4e:5f",
             "/latest/meta-data/network/interfaces/macs/0a:1b:2c:3d:4e:5f/vpc-id": "vpc-1",
             "/latest/meta-data/network/interfaces/macs/0a:1b:2c:3d:4e:5f/subnet-id": "subnet-1"}
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def reply(self, code, body):
            self.send_response(code); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
        def do_PUT(self):
            ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            self.reply(200 if ok else 400, b"tok")
        def do_GET(self):
            if self.headers.get("X-aws-ec2-metadata-token") != "tok":
                return self.reply(401, b"")
            body = PATHS.get(self.path)
            self.reply(200 if body else 404, (body or "").encode())
    s = HTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
    """
)


@pytest.fixture
def imds():
    procs = []

    def start(region):
        p = subprocess.Popen([sys.executable, "-c", IMDS, region], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        return f"http://127.0.0.1:{p.stdout.readline().strip()}"

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_master_is_located_through_instance_metadata(imds):
    where = loadgen.locate_master(REGION, url=imds(REGION), timeout=5)
    assert where == loadgen.MasterLocation("i-0abc", "10.0.1.23", REGION, "vpc-1", "subnet-1", "0a:1b:2c:3d:4e:5f")


def test_master_in_another_region_is_refused(imds):
    with pytest.raises(ScaleperfError, match="in eu-west-1 but the deployment is in us-east-1"):
        loadgen.locate_master(REGION, url=imds("eu-west-1"), timeout=5)


def test_off_ec2_the_suite_says_how_to_proceed():
    port = _dead_port()
    with pytest.raises(
        ScaleperfError, match=r"not on EC2.*Start the suite from an EC2 instance in us-east-1.*hosts:a,b.*Nothing was created"
    ):
        loadgen.locate_master(REGION, url=f"http://127.0.0.1:{port}", timeout=1)


def test_hosts_mode_tells_what_to_run_on_each_machine():
    lines = loadgen.hosts_instructions(("a.example", "b.example"), "10.0.0.5", "locustfiles/helpdesk.py")
    assert "a.example, b.example" in lines[0] and f"locust=={metadata.version('locust')}" in lines[0]
    assert lines[1].strip() == (
        "python -m scaleperf.load.worker -f locustfiles/helpdesk.py --worker --master-host 10.0.0.5 --master-port 5557"
    )
    ec2 = loadgen.user_data(master_host="10.0.0.5", bundle_url="u", locustfile_name="helpdesk.py", versions={})
    assert lines[1].strip().removeprefix("python ").replace("-f locustfiles/", "-f /opt/scaleperf/app/locustfiles/") in ec2
