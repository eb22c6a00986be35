"""Ports for deployments' servers: parallel provisioning (xdist workers, threads) never gets one port twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scaleperf import ports

PROCESSES = 4  # as many xdist workers provisioning at once
PORTS_EACH = 250  # enough that kernel-chosen ports collide across processes unless reserved (about 1000 of ~28000)

# One xdist worker provisioning: every port a local deployment (and its embedded database) asks for, in turn.
PROVISION = """
import json, sys
from scaleperf.providers import miniature
print(json.dumps([miniature.free_port() for _ in range({n})]))
"""


@pytest.mark.slow
def test_parallel_provisioning_never_hands_one_port_to_two_servers(tmp_path):
    env = {**os.environ, "SCALEPERF_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", PROVISION.format(n=PORTS_EACH)], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(PROCESSES)
    ]
    handed = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        handed += json.loads(out)
    assert len(handed) == PROCESSES * PORTS_EACH
    assert len(set(handed)) == len(handed)


def test_threads_reserving_at_once_get_distinct_ports_that_a_server_can_bind(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEPERF_HOME", str(tmp_path))
    got: list[int] = []
    barrier = threading.Barrier(8, timeout=30)

    def provision() -> None:
        barrier.wait()
        got.extend(ports.reserve() for _ in range(25))

    threads = [threading.Thread(target=provision) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 200 and len(set(got)) == 200
    with socket.socket() as server:
        server.bind(("127.0.0.1", got[-1]))  # free for the server it was reserved for
        server.listen()


def test_a_reservation_lapses_after_its_time(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEPERF_HOME", str(tmp_path))
    first = ports.reserve()
    registry = json.loads((tmp_path / ports.REGISTRY).read_text())
    assert str(first) in registry
    registry = {k: v - ports.RESERVED_S - 1 for k, v in registry.items()}
    (tmp_path / ports.REGISTRY).write_text(json.dumps(registry))
    ports.reserve()
    assert str(first) not in json.loads((tmp_path / ports.REGISTRY).read_text())


# One xdist worker's share of a session: provision its configuration, say on which ports it serves, wait for the
# other one, tear down.
PROVISION_CONFIG = """
import json, sys, urllib.request
from pathlib import Path
sys.path.insert(0, {here!r})
from test_local_provider import write_users
from scaleperf.configs import load_configs
from scaleperf.providers.local import LocalProvider

provider = LocalProvider(users=write_users(Path({users!r})), extra_args=("--bcrypt-cost", "4"))
with provider.provision(load_configs()[{name!r}]) as dep:
    facts = dep.describe()
    urllib.request.urlopen(dep.base_url + "/health", timeout=5).read()
    ports = [facts["db"]["port"], *(i["port"] for i in facts["instances"]), int(dep.base_url.rsplit(":", 1)[1])]
    print(json.dumps(sorted(set(ports))), flush=True)
    sys.stdin.readline()  # both are up at once
"""


@pytest.mark.slow
def test_two_configurations_provisioned_at_once_serve_on_ports_of_their_own(tmp_path):
    here = str(Path(__file__).resolve().parent)
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", PROVISION_CONFIG.format(here=here, users=str(tmp_path / f"{name}.tsv"), name=name)], **pipes
        )
        for name in ("single", "vertical")
    }
    errors = {}
    try:
        served = {name: json.loads(proc.stdout.readline() or "null") for name, proc in procs.items()}
    finally:
        for name, proc in procs.items():
            errors[name] = proc.communicate(input="\n", timeout=180)[1][-2000:]
    assert None not in served.values(), errors
    assert all(proc.returncode == 0 for proc in procs.values())
    assert not set(served["single"]) & set(served["vertical"])
