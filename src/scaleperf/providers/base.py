"""The seam between scaling configurations and running deployments.

A provider turns a :class:`~scaleperf.configs.ScalingConfig` into a running :class:`Deployment`
(``with provider.provision(config) as deployment: ...``) and tears it down on exit, whatever happened.
Adding a way to deploy means adding a module with one class that satisfies :class:`Provider`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from scaleperf.configs import ScalingConfig
from scaleperf.results import Telemetry


@dataclass(frozen=True)
class LoadScale:
    """How the provider wants the load sized: local users = deployment users x ``factor``."""

    factor: float = 1.0
    reason: str = "deployment scale"


@runtime_checkable
class Deployment(Protocol):
    """A running target. ``base_url`` is what the load generator hits."""

    base_url: str
    config: ScalingConfig

    def describe(self) -> dict:
        """Facts for the report and the results' metadata (JSON-serialisable): provider, instances,
        limits, load balancer, scale, ... Never secrets."""
        ...

    def reset_data(self) -> None:
        """Put the target's data back to the seeded starting state."""
        ...

    def telemetry(self, t0: float, t1: float) -> tuple[Telemetry, ...]:
        """Target-side series for the wall-clock window [t0, t1] (``time.time()`` seconds),
        with ``t`` relative to ``t0``. Empty when the provider has none."""
        ...

    def start_telemetry(self) -> None:
        """Begin sampling (a no-op where telemetry is pulled afterwards, as from CloudWatch)."""
        ...


@runtime_checkable
class Provider(Protocol):
    name: str

    def load_scale(self, config: ScalingConfig) -> LoadScale:
        """How to size the load for ``config`` (the local miniature shrinks it)."""
        ...

    def provision(self, config: ScalingConfig) -> AbstractContextManager[Deployment]:
        """Create (or reuse) the deployment; tear it down on exit unless told to keep it."""
        ...


class TelemetrySource(Protocol):
    """Target-side telemetry read after each run for a deployment someone else made (the ``url`` provider's
    CloudWatch reader for an Elastic Beanstalk CNAME)."""

    facts: dict  # what is attached, or why nothing is: the deployment's ``telemetry`` fact before a run

    def __call__(self, t0: float, t1: float) -> tuple[tuple[Telemetry, ...], dict]:
        """The series for the window [t0, t1], and facts about this read (added to ``facts`` for the run)."""
        ...


@dataclass
class StaticDeployment:
    """A deployment that already exists (the ``url`` provider): nothing to create or tear down.

    With a ``telemetry_source``, the facts carry a ``telemetry`` entry; each :meth:`describe` starts a fresh
    copy of it (one per run), which :meth:`telemetry` completes in place after the run, as the aws provider's
    deployment does, so a run's recorded facts say how its telemetry was read."""

    base_url: str
    config: ScalingConfig
    facts: dict = field(default_factory=dict)
    telemetry_source: TelemetrySource | None = None
    _telemetry_facts: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def describe(self) -> dict:
        out = {"provider": "url", "base_url": self.base_url, **self.facts}
        if self.telemetry_source is not None:
            self._telemetry_facts = dict(self.telemetry_source.facts)
            out["telemetry"] = self._telemetry_facts
        return out

    def reset_data(self) -> None:  # data belongs to whoever made the deployment
        return None

    def telemetry(self, t0: float, t1: float) -> tuple[Telemetry, ...]:
        if self.telemetry_source is None:
            return ()
        series, facts = self.telemetry_source(t0, t1)
        self._telemetry_facts.update(facts)
        return series

    def start_telemetry(self) -> None:
        return None
