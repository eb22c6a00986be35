"""Can a run's setup be trusted to tell configurations apart?

On the local miniature each tier gets the CPU its configuration buys through a limit mechanism
(:mod:`scaleperf.providers.limits`), recorded in the run's metadata as the deployment's ``limits``.  With
mechanism ``none`` every tier shares every core: a saturation point or a difference between configurations
then measures the machine, not the configuration.  Such verdicts are inconclusive unless the caller accepts
an unlimited setup explicitly (a quick look).
"""

from __future__ import annotations

from scaleperf.results import RunResult

DEPLOYMENT_KEYS = ("deployment", "provider_facts", "target")  # where the load engine keeps Deployment.describe()
NO_LIMITS = "none"


def limits_mechanism(result: RunResult) -> str | None:
    """The CPU limit mechanism the run's deployment recorded (``cgroup2``, ``systemd``, ``none``...), or None."""
    for key in DEPLOYMENT_KEYS:
        facts = result.meta.get(key)
        if isinstance(facts, dict):
            limits = facts.get("limits")
            if isinstance(limits, dict) and limits.get("mechanism"):
                return str(limits["mechanism"])
            if isinstance(limits, str):
                return limits
    return None


def _unlimited(runs: list[RunResult]) -> list[str]:
    return sorted({f"{r.config} r{r.meta.get('replicate', '?')}" for r in runs if limits_mechanism(r) == NO_LIMITS})


def accepted_note(runs: list[RunResult], *, accept_unlimited: bool) -> str:
    """The clause a verdict judged on an accepted unlimited setup carries ("" otherwise)."""
    unlimited = _unlimited(runs) if accept_unlimited else []
    return f"; CPU limits were 'none' for {', '.join(unlimited)}, accepted for a quick look" if unlimited else ""


def untrusted(runs: list[RunResult], *, accept_unlimited: bool = False) -> str | None:
    """Why ``runs`` cannot carry a saturation or comparison verdict, or None when they can."""
    if accept_unlimited:
        return None
    unlimited = _unlimited(runs)
    if unlimited:
        return (
            f"CPU limits were 'none' for {', '.join(unlimited)}: every tier shared every core, so the configuration's "
            "size did not set its capacity; run where cgroups or systemd-run can limit CPU, or pass "
            "--accept-unlimited for a quick look"
        )
    return None
