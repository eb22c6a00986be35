"""Locust workers on EC2, next to the deployment (``--loadgen ec2:N[:TYPE]``), or on hosts of the user's own.

The Locust master stays in the pytest process; the workers connect to it.  So the master must be
reachable from the workers: the suite runs on an EC2 instance in the deployment's region and the workers
connect to its private address.  :func:`locate_master` asks the instance metadata service where this
machine is, and stops with a message that says how to proceed when it is not on EC2 (the provider asks
before it creates anything).

Each worker's user data installs the pinned Locust (and numpy) versions, downloads the locustfile with
scaleperf's package from a presigned S3 URL, and runs scaleperf's worker entry point
(``python -m scaleperf.load.worker ... --worker``: ``locust --worker`` with the raw-sample recorder loaded,
whatever the locustfile imports) as a systemd service that reconnects until the master is there.  Workers
on the user's own machines (``--loadgen hosts:a,b``) are started with the same command.  A run-scoped
security group opens the master port to the workers' group only; it is attached to this machine's network
interface for the run and removed afterwards.  A worker shuts itself down (and so terminates) after
``MAX_LIFETIME_MIN`` whatever happens.
"""

from __future__ import annotations

import io
import json
import logging
import shlex
import tarfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from scaleperf.errors import ScaleperfError
from scaleperf.loadgen import MASTER_PORT

log = logging.getLogger(__name__)

IMDS_URL = "http://169.254.169.254"  # EC2 instance metadata service (IMDSv2)
IMDS_TIMEOUT_S = 1.0  # off EC2 nothing answers; do not wait long for it
JOIN_TIMEOUT_S = 15 * 60  # booting, installing Locust and joining takes 2-5 minutes
JOIN_POLL_S = 5.0  # seconds between checks of the master's worker count
MAX_LIFETIME_MIN = 6 * 60  # a worker powers itself off (and terminates) after this many minutes
BUNDLE_URL_TTL_S = 6 * 3600  # the presigned download URL of the worker bundle expires after this
WORKER_DIR = "/opt/scaleperf"  # where user data installs the worker on the instance
PINNED = ("locust", "numpy")  # packages installed on workers at exactly the versions installed here
WORKER_MODULE = "scaleperf.load.worker"  # locust with the raw-sample recorder loaded before the locustfile


@dataclass(frozen=True)
class MasterLocation:
    """Where this machine (the Locust master) is on EC2."""

    instance_id: str
    private_ip: str
    region: str
    vpc_id: str
    subnet_id: str
    mac: str


def _imds(url: str, path: str, token: str, timeout: float) -> str:
    req = urllib.request.Request(f"{url}/latest/{path}", headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read().decode()


def locate_master(region: str, url: str = IMDS_URL, timeout: float = IMDS_TIMEOUT_S) -> MasterLocation:
    """This machine's EC2 identity; a ScaleperfError saying how to proceed when it is not on EC2 in ``region``."""
    try:
        req = urllib.request.Request(
            f"{url}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            token = resp.read().decode()
        doc = json.loads(_imds(url, "dynamic/instance-identity/document", token, timeout))
        mac = _imds(url, "meta-data/mac", token, timeout).strip()
        net = f"meta-data/network/interfaces/macs/{mac}"
        where = MasterLocation(
            instance_id=doc["instanceId"],
            private_ip=doc["privateIp"],
            region=doc["region"],
            vpc_id=_imds(url, f"{net}/vpc-id", token, timeout).strip(),
            subnet_id=_imds(url, f"{net}/subnet-id", token, timeout).strip(),
            mac=mac,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ScaleperfError(
            "--loadgen ec2:N needs the suite itself to run on an EC2 instance in the deployment's region "
            f"({region}): the workers connect to the Locust master at its private address, and this machine is not "
            f"on EC2 (no instance metadata at {url}: {exc}). Start the suite from an EC2 instance in {region} "
            "(docs/aws.md), or use --loadgen hosts:a,b with workers that can reach this machine, or leave --loadgen out. "
            "Nothing was created."
        ) from exc
    if where.region != region:
        raise ScaleperfError(
            f"this EC2 instance is in {where.region} but the deployment is in {region}; run the suite from an instance "
            f"in {region} (or set AWS_REGION={where.region}). Nothing was created."
        )
    return where


def pinned_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in PINNED}


def worker_command(locustfile: str, master_host: str, master_port: int = MASTER_PORT, python: str = "python") -> str:
    """The command that starts one Locust worker, on EC2 and on the user's own machines alike."""
    return f"{python} -m {WORKER_MODULE} -f {locustfile} --worker --master-host {master_host} --master-port {master_port}"


def worker_bundle(locustfile: Path, package_root: Path | None = None) -> bytes:
    """A tar.gz with the locustfile and the scaleperf package (its raw-sample recorder), as workers unpack it."""
    locustfile = Path(locustfile)
    if not locustfile.is_file():
        raise ScaleperfError(f"locustfile {locustfile} not found; pass --locustfile")
    root = Path(package_root) if package_root else Path(__file__).resolve().parents[1]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(locustfile, arcname=f"locustfiles/{locustfile.name}")
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if "__pycache__" not in rel.parts and rel.parts[0] != "aws":
                tar.add(path, arcname=f"scaleperf/{rel.as_posix()}")
    return buf.getvalue()


def user_data(
    *,
    master_host: str,
    bundle_url: str,
    locustfile_name: str,
    versions: dict[str, str],
    env: dict[str, str] | None = None,
    master_port: int = MASTER_PORT,
    max_lifetime_min: int = MAX_LIFETIME_MIN,
) -> str:
    """The cloud-init shell script a worker instance runs at first boot (Amazon Linux 2023)."""
    pins = " ".join(shlex.quote(f"{name}=={version}") for name, version in sorted(versions.items()))
    for k, v in (env or {}).items():
        if not k.replace("_", "").isalnum() or any(c in v for c in '"\\\n%'):
            raise ScaleperfError(f"environment variable {k}={v!r} cannot be passed to the workers; use plain names and values")
    env_lines = "".join(f'Environment="{k}={v}"\n' for k, v in sorted((env or {}).items()))
    locustfile = f"{WORKER_DIR}/app/locustfiles/{locustfile_name}"
    return f"""#!/bin/bash
# scaleperf Locust worker: installs pinned versions, joins the master at {master_host}:{master_port}.
set -euxo pipefail
shutdown -h +{max_lifetime_min}
dnf install -y python3.11 python3.11-pip
python3.11 -m venv {WORKER_DIR}/venv
{WORKER_DIR}/venv/bin/pip install --no-cache-dir {pins}
mkdir -p {WORKER_DIR}/app
curl -fsSL --retry 10 --retry-all-errors -o {WORKER_DIR}/worker.tar.gz {shlex.quote(bundle_url)}
tar -xzf {WORKER_DIR}/worker.tar.gz -C {WORKER_DIR}/app
cat > /etc/systemd/system/scaleperf-worker.service <<'UNIT'
[Unit]
Description=scaleperf Locust worker
After=network-online.target
[Service]
WorkingDirectory={WORKER_DIR}/app
Environment=PYTHONPATH={WORKER_DIR}/app
{env_lines}ExecStart={worker_command(locustfile, master_host, master_port, python=f"{WORKER_DIR}/venv/bin/python")}
Restart=always
RestartSec=5
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now scaleperf-worker.service
"""


def hosts_instructions(hosts: tuple[str, ...], master_host: str, locustfile: str, master_port: int = MASTER_PORT) -> list[str]:
    """What to run on each of the user's own worker machines (``--loadgen hosts:a,b``)."""
    versions = pinned_versions()
    pins = " ".join(f"{n}=={v}" for n, v in sorted(versions.items()))
    return [
        f"waiting for {len(hosts)} Locust worker(s) on {', '.join(hosts)}; on each, with Python 3.11+, scaleperf's src/ on "
        f"PYTHONPATH and `pip install {pins}`, run:",
        f"  {worker_command(locustfile, master_host, master_port)}",
        f"(port {master_port} of this machine must be reachable from them)",
    ]


@dataclass
class Ec2Workers:
    """N Locust worker instances of one session, and the security groups that let them reach the master."""

    cloud: object  # scaleperf.aws.boto.BotoCloud
    master: MasterLocation
    tags: dict[str, str]
    name: str  # prefix of the security groups' names
    instance_ids: list[str] = field(default_factory=list)
    worker_group: str | None = None
    master_group: str | None = None
    master_eni: str | None = None
    master_groups_before: list[str] | None = None

    def start(
        self, *, count: int, instance_type: str, image: str, bundle_url: str, locustfile_name: str, env: dict[str, str]
    ) -> None:
        """Create the groups, open the master port to the workers, and launch ``count`` instances."""
        c = self.cloud
        self.worker_group = c.create_security_group(
            f"{self.name}-workers", self.master.vpc_id, "scaleperf Locust workers", self.tags
        )
        self.master_group = c.create_security_group(
            f"{self.name}-master", self.master.vpc_id, "scaleperf Locust master port", self.tags
        )
        c.allow_from_group(self.master_group, MASTER_PORT, self.worker_group, "Locust workers of this run")
        self.master_eni = self._master_eni()
        self.master_groups_before = c.interface_groups(self.master_eni)
        c.set_interface_groups(self.master_eni, [*self.master_groups_before, self.master_group])
        data = user_data(
            master_host=self.master.private_ip,
            bundle_url=bundle_url,
            locustfile_name=locustfile_name,
            versions=pinned_versions(),
            env=env,
        )
        self.instance_ids = c.run_instances(
            count=count,
            image=image,
            instance_type=instance_type,
            subnet=self.master.subnet_id,
            groups=[self.worker_group],
            user_data=data,
            tags={**self.tags, "Name": f"{self.name}-worker"},
        )
        log.info("started %d Locust worker instance(s): %s", count, ", ".join(self.instance_ids))

    def _master_eni(self) -> str:
        inst = self.cloud.instances([self.master.instance_id])[0]
        for ni in inst.get("NetworkInterfaces", []):
            if ni.get("MacAddress") == self.master.mac or ni.get("PrivateIpAddress") == self.master.private_ip:
                return ni["NetworkInterfaceId"]
        raise ScaleperfError(
            f"cannot find the network interface of this instance ({self.master.instance_id}) to open the master port"
        )

    def wait_joined(
        self,
        joined: Callable[[], int],
        *,
        timeout_s: float = JOIN_TIMEOUT_S,
        poll_s: float = JOIN_POLL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        say: Callable[[str], None] = log.info,
    ) -> None:
        """Return once ``joined()`` (the master's worker count) reaches the number of instances."""
        want = len(self.instance_ids)
        deadline = clock() + timeout_s
        seen = -1
        while True:
            have = joined()
            if have != seen:
                say(f"{have} of {want} EC2 Locust workers joined the master at {self.master.private_ip}:{MASTER_PORT}")
                seen = have
            if have >= want:
                return
            dead = [
                i["InstanceId"]
                for i in self.cloud.instances(self.instance_ids)
                if i["State"]["Name"] not in ("pending", "running")
            ]
            if dead or clock() >= deadline:
                why = (
                    f"instance(s) {', '.join(dead)} stopped" if dead else f"only {have} of {want} joined within {timeout_s:.0f} s"
                )
                raise ScaleperfError(
                    f"EC2 Locust workers did not all join the master at {self.master.private_ip}:{MASTER_PORT}: {why}. "
                    f"See what they printed with `aws ec2 get-console-output --instance-id {self.instance_ids[0]}`; "
                    "check that they can reach this machine and the internet (pip, S3). Everything of this run is being removed."
                )
            sleep(poll_s)

    def stop(self) -> None:
        """Terminate the workers and remove the groups (each step tolerant of what is already gone)."""
        c = self.cloud
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.instance_ids:
            ids = list(self.instance_ids)
            steps += [
                ("terminate workers", lambda: c.terminate_instances(ids)),
                ("wait for workers", lambda: c.wait_instances(ids, "terminated")),
            ]
        if self.master_eni and self.master_groups_before is not None:
            eni, before = self.master_eni, list(self.master_groups_before)
            steps.append(("restore this machine's security groups", lambda: c.set_interface_groups(eni, before)))
        for group in (self.master_group, self.worker_group):
            if group:
                steps.append((f"delete security group {group}", lambda g=group: c.delete_security_group(g)))
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # keep going: the rest must still be removed
                log.warning("while removing load generators, %s failed: %s", what, exc)
        self.instance_ids, self.master_group, self.worker_group, self.master_eni = [], None, None, None
