"""What a configuration is, in words a reader of the report can use: provider, instances, database, scale.

Facts come from the run's metadata (the deployment's own ``describe()``, recorded by the load engine)
and, for what the metadata lacks, from the configuration's entry in ``fixtures/configs.toml``.
"""

from __future__ import annotations

import logging

from scaleperf.errors import ScaleperfError
from scaleperf.report.redact import scrub
from scaleperf.results import RunResult

log = logging.getLogger(__name__)

DEPLOYMENT_KEYS = ("deployment", "provider_facts", "target")  # where the load engine may keep Deployment.describe()
# Labels for the facts people look for first; any other fact follows under its own key.
LABELS = {
    "provider": "provider",
    "description": "configuration",
    "instances": "app instances",
    "app_instances": "app instances",
    "instance_type": "app instance type",
    "app_instance_type": "app instance type",
    "app_vcpus_each": "vCPUs per app instance",
    "db_class": "database class",
    "db_instance_class": "database class",
    "db_vcpus": "database vCPUs",
    "db_engine": "database engine",
    "load_balanced": "load balanced",
    "load_balancer": "load balancer",
    "balancer": "load balancer",
    "scale": "load scale (local users / deployment users)",
    "cpu_scale": "CPU scale",
    "limit": "CPU limit mechanism",
    "limit_mechanism": "CPU limit mechanism",
    "cpu_limit": "CPU limit mechanism",
    "region": "region",
}
SKIP = {"base_url", "run_id", "name"}  # facts that say nothing about the configuration's shape


def deployment_facts(result: RunResult) -> dict:
    """The deployment's self-description recorded in the run's metadata (secrets masked)."""
    for key in DEPLOYMENT_KEYS:
        value = result.meta.get(key)
        if isinstance(value, dict):
            return scrub(value)  # type: ignore[return-value]
    return {}


def provider_of(result: RunResult) -> str:
    """``local``, ``aws`` or ``url``: the provider the run's target came from (``local`` when unrecorded)."""
    return str(result.meta.get("provider") or deployment_facts(result).get("provider") or "local")


def _catalogue_facts(config: str) -> dict:
    try:
        from scaleperf.configs import load_configs

        configs = load_configs()
    except ScaleperfError as exc:
        log.warning("configurations unreadable, the report describes %s from its metadata only: %s", config, exc)
        return {}
    c = configs.get(config)
    return c.describe() if c is not None else {}


def facts(result: RunResult) -> list[tuple[str, str]]:
    """(label, value) pairs describing the configuration of ``result``, the most useful first."""
    merged: dict = {"provider": provider_of(result)}
    merged |= {k: v for k, v in _catalogue_facts(result.config).items() if k not in SKIP}
    merged |= {k: v for k, v in deployment_facts(result).items() if k not in SKIP}
    merged["scale"] = result.scale
    labelled: dict[str, str] = {}
    for key, value in merged.items():
        if value is None or value == "" or (isinstance(value, (dict, list)) and not value):
            continue
        label = LABELS.get(key, key.replace("_", " "))
        if label in labelled:
            continue
        labelled[label] = f"{value:g}" if isinstance(value, float) else str(value)
    order = list(dict.fromkeys(LABELS.values()))
    return sorted(labelled.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
