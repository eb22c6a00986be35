"""A running configuration on AWS, as the suite sees it (a :class:`scaleperf.providers.base.Deployment`)."""

from __future__ import annotations

from collections.abc import Callable

from scaleperf.aws import reset
from scaleperf.aws.stack import Stack
from scaleperf.aws.telemetry import TELEMETRY_SOURCE
from scaleperf.configs import ScalingConfig
from scaleperf.results import Telemetry


class AwsDeployment:
    """A running configuration on AWS (satisfies :class:`scaleperf.providers.base.Deployment`)."""

    def __init__(self, provider, stack: Stack, config: ScalingConfig) -> None:
        self.provider = provider
        self.stack = stack
        self.config = config
        self.base_url = f"http://{stack.cname}"
        self._telemetry_facts: dict = {}

    def describe(self) -> dict:
        """The deployment's facts.  Their ``telemetry`` entry is completed in place when :meth:`telemetry`
        reads CloudWatch after the run, so the facts recorded in a run's metadata say whether CloudWatch had
        published the whole run (each call starts a fresh entry: one per run)."""
        s = self.stack
        self._telemetry_facts = {"source": TELEMETRY_SOURCE, "complete": None}  # None: not read (yet)
        return {
            "provider": "aws",
            "region": self.provider.cloud.region,
            "base_url": self.base_url,
            "environment": s.env,
            "application": s.application,
            "platform": s.platform,
            "health_path": self.provider.health_path,
            "app_kind": s.kind,
            "instance_type": self.config.app_type.name,
            "instances": self.config.app_instances,
            "load_balanced": self.config.load_balanced,
            "database": s.dbs[-1] if s.dbs else None,
            "database_storage": reset.COLD_NOTE if s.restored_at is not None else "seeded in place (warm)",
            "db_engine": s.engine,
            "db_class": self.config.db_class.name,
            "loadgen_workers": len(s.workers.instance_ids) if s.workers else 0,
            "run_id": s.run_id,
            "telemetry": self._telemetry_facts,
        }

    def reset_data(self) -> None:
        self.provider.reset_data(self.stack)

    def start_telemetry(self) -> None:
        self.stack.dirty = True  # the load about to run changes the data

    def telemetry(self, t0: float, t1: float) -> tuple[Telemetry, ...]:
        series, facts = self.provider.telemetry(self.stack, t0, t1)
        self._telemetry_facts.update(facts)
        return series

    def wait_for_workers(self, joined: Callable[[], int], **kw) -> None:
        """Block until every EC2 worker has joined the master (``joined`` = the master's worker count);
        keyword arguments go to :meth:`scaleperf.aws.loadgen.Ec2Workers.wait_joined`."""
        if self.stack.workers is not None:
            self.stack.workers.wait_joined(joined, say=self.provider.say, **kw)
