"""What one session created on AWS, so that teardown removes exactly that (in reverse order of creation).

A session keeps one Elastic Beanstalk environment per shape (single instance, load balanced): the shape and
the load balancer's type can only be chosen when an environment is created, so configurations of the other
shape get their own environment, created when first needed and kept until the session ends.  The
database, its security groups, the application and its version are shared by both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from scaleperf.aws.cloud import tags_for
from scaleperf.aws.environment import Network
from scaleperf.aws.loadgen import Ec2Workers
from scaleperf.configs import ScalingConfig

SHAPE_SUFFIX = {"single": "si", "balanced": "lb"}  # environment name suffix per shape


def short(run_id: str) -> str:
    return hashlib.sha256(run_id.encode()).hexdigest()[:8]


@dataclass
class EnvRecord:
    """One environment of the session: its name, where it answers, what runs on it, what it was told."""

    name: str
    cname: str = ""
    config: ScalingConfig | None = None
    properties: dict[str, str] = field(default_factory=dict)  # environment properties it has now


@dataclass
class Stack:
    run_id: str
    slot: str
    kind: str = "reference"
    engine: str = "postgres"
    bucket: str | None = None
    key: str | None = None
    application: str | None = None
    version: str | None = None  # the application version label
    platform: str | None = None  # the solution stack
    network: Network | None = None
    envs: dict[str, EnvRecord] = field(default_factory=dict)  # shape -> environment
    current: str | None = None  # the shape the load runs against
    groups: list[str] = field(default_factory=list)  # app group, db group
    dbs: list[str] = field(default_factory=list)  # every DB instance made; the last is current
    snapshot: str | None = None
    workers: Ec2Workers | None = None
    secrets: dict[str, str] = field(default_factory=dict)  # generated password and Rails key
    dirty: bool = False  # a load ran against the current database since it was seeded or restored
    restored_at: float | None = None  # when the current database was restored from the snapshot (None: seeded fresh)

    @property
    def tags(self) -> dict[str, str]:
        return tags_for(self.run_id, self.slot)

    @property
    def name(self) -> str:
        return f"sp-{short(self.run_id)}-{self.slot}"

    def env_name(self, shape: str) -> str:
        return f"{self.name}-{SHAPE_SUFFIX[shape]}"

    @property
    def record(self) -> EnvRecord | None:
        return self.envs.get(self.current) if self.current else None

    @property
    def env(self) -> str | None:
        return self.record.name if self.record else None

    @property
    def cname(self) -> str:
        return self.record.cname if self.record else ""

    @property
    def config(self) -> ScalingConfig | None:
        return self.record.config if self.record else None

    def created(self) -> list[str]:
        out = [f"s3://{self.bucket}/{self.key}"] if self.key else []
        out += [f"application {self.application}"] if self.application else []
        out += [f"security group {g}" for g in self.groups]
        out += [f"database {d}" for d in self.dbs]
        out += [f"environment {r.name}" for r in self.envs.values()]
        out += [f"snapshot {self.snapshot}"] if self.snapshot else []
        out += [f"worker {i}" for i in (self.workers.instance_ids if self.workers else [])]
        return out
