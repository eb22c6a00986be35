"""Where the load comes from: ``--loadgen`` parsed into a plain spec.

* (none): one in-process Locust runner;
* ``local:N``: a Locust master in-process and N worker processes on this machine;
* ``hosts:a,b``: a master that waits for workers the user started by hand on machines ``a`` and ``b``
  (``python -m scaleperf.load.worker -f locustfiles/helpdesk.py --worker --master-host <this machine>``);
* ``ec2:N[:TYPE]``: N EC2 worker instances next to the deployment (the AWS provider starts them).
"""

from __future__ import annotations

from dataclasses import dataclass

from scaleperf.errors import ScaleperfError

DEFAULT_EC2_TYPE = "c7g.large"  # 2 Graviton vCPUs: one Locust worker process per instance stays under 90% CPU
ALL_INTERFACES = "0.0.0.0"  # remote workers must reach the master
MASTER_PORT = 5557  # Locust's default, so `locust --worker --master-host HOST` finds the master


@dataclass(frozen=True)
class LoadgenSpec:
    kind: str  # "inprocess" | "local" | "hosts" | "ec2"
    count: int = 0
    hosts: tuple[str, ...] = ()
    instance_type: str = DEFAULT_EC2_TYPE

    @property
    def local_workers(self) -> int:
        return self.count if self.kind == "local" else 0

    @property
    def expect_workers(self) -> int:
        return self.count if self.kind in ("hosts", "ec2") else 0

    @property
    def master_bind(self) -> str:
        return ALL_INTERFACES if self.kind in ("hosts", "ec2") else "127.0.0.1"

    @property
    def master_port(self) -> int | None:
        """The port remote workers are told to join; None lets the engine take a free one for local workers."""
        return MASTER_PORT if self.kind in ("hosts", "ec2") else None


def parse(value: str | None) -> LoadgenSpec:
    if not value:
        return LoadgenSpec("inprocess")
    kind, _, rest = value.partition(":")
    try:
        if kind == "local":
            spec = LoadgenSpec("local", count=int(rest))
        elif kind == "hosts":
            hosts = tuple(h.strip() for h in rest.split(",") if h.strip())
            spec = LoadgenSpec("hosts", count=len(hosts), hosts=hosts)
        elif kind == "ec2":
            count, _, itype = rest.partition(":")
            spec = LoadgenSpec("ec2", count=int(count), instance_type=itype or DEFAULT_EC2_TYPE)
        else:
            raise ValueError(kind)
    except ValueError:
        raise ScaleperfError(f"--loadgen {value!r} not understood; use local:N, hosts:a,b or ec2:N[:TYPE]") from None
    if spec.count < 1:
        raise ScaleperfError(f"--loadgen {value!r}: need at least one worker")
    return spec
