"""gevent works in all three roles: plain pytest, pytest -n 2 (xdist workers), and with boto3 in the process.

Each case runs a small pytest session in a subprocess over a generated test file that calls
``scaleperf.load.run`` against a local target and checks the gevent role the scaleperf plugin applied.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SESSION_TIMEOUT_S = 180  # a generated session (two short load runs) must finish within this

LOCUSTFILE = """
from locust import FastHttpUser, HttpUser, constant, task

class Fast(FastHttpUser):
    wait_time = constant(0.05)
    @task
    def ping(self):
        self.client.get("/ping")

class Classic(HttpUser):  # requests' blocking sockets: needs gevent's patching to stay concurrent
    wait_time = constant(0.05)
    @task
    def ping(self):
        self.client.get("/ping")
"""

TESTS = """
{preamble}
import sys
sys.path.insert(0, {here!r})
import pytest
from test_load_target import served, target


@pytest.mark.parametrize("case", [1, 2])
def test_load_run_in_this_role(case):
    from gevent import monkey
    from scaleperf import gevent_setup
    from scaleperf.load import profile_from_dict, run

    assert gevent_setup.applied() == {role!r}
    assert monkey.is_module_patched("socket") and monkey.is_module_patched("ssl")
    assert monkey.is_module_patched("threading") is {threads_patched!r}
    phases = [{{"kind": "ramp", "users": 4, "rate": 4}}, {{"kind": "plateau", "duration_s": 2}}]
    profile = profile_from_dict("t", {{"phases": phases}})
    with target() as url:
        result = run(url, {locustfile!r}, profile, progress=False)
        assert len(result.samples) == served(url) > 20
    assert not result.samples.failed.any()
    {after}
"""

BOTO_AFTER = """import boto3  # botocore's ssl set-up must still work after Locust ran in this process
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    assert client.meta.region_name == "us-east-1"
"""


def _session(tmp_path: Path, *, xdist: bool, boto: bool) -> subprocess.CompletedProcess:
    locustfile = tmp_path / "roles_lf.py"
    locustfile.write_text(LOCUSTFILE)
    test_file = tmp_path / "test_generated_roles.py"
    test_file.write_text(
        TESTS.format(
            preamble="import boto3  # imported before anything of Locust" if boto else "",
            here=str(HERE),
            role="xdist-worker" if xdist else "plain",
            threads_patched=not xdist,
            locustfile=str(locustfile),
            after=BOTO_AFTER if boto else "",
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LOCUST_SKIP"))}
    cmd = [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir", str(tmp_path), "-p", "no:cacheprovider"]
    cmd += ["-q", str(test_file), *(["-n", "2"] if xdist else [])]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=SESSION_TIMEOUT_S, env=env, cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("xdist", "boto"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["plain", "xdist", "plain+boto3", "xdist+boto3"],
)
def test_load_runs_in_every_gevent_role(tmp_path, xdist, boto):
    done = _session(tmp_path, xdist=xdist, boto=boto)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout
