"""What a configuration is, in words a reader of the report can use: provider, instances, database, scale.

Facts come from the run's metadata (the deployment's own ``describe()``, recorded by the load engine)
and, for what the metadata lacks, from the configuration's entry in ``fixtures/configs.toml``.
"""

from __future__ import annotations

import logging

import numpy as np

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
    "limits": "CPU and memory limits",
    "cfs_period_us": "CFS period (us)",
    "db": "database server",
    "scale_reason": "why this scale",
    "provision_s": "provisioning time (s)",
    "request_share": "requests served per app instance (whole run)",
}
LIST_LABELS = {"instances": "app instance processes"}  # a list under a key whose scalar form has a label already
SKIP = {"base_url", "run_id", "name", "config"}  # facts that say nothing about the shape (config: the catalogue's, above)
NESTED_SKIP = {"port", "pid", "base_url", "command", "name", "kind"}  # inside nested facts: addresses, not shape
GIB = 1024**3


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
    provider = provider_of(result)
    merged: dict = {"provider": provider}
    if provider != "url":  # a URL's deployment is what its user said it is, not the catalogue's shape
        merged |= {k: v for k, v in _catalogue_facts(result.config).items() if k not in SKIP}
    merged |= {k: v for k, v in deployment_facts(result).items() if k not in SKIP}
    merged["scale"] = result.scale
    merged["request_share"] = request_share(result)
    labelled: dict[str, str] = {}
    for key, value in merged.items():
        if value is None or value == "" or (isinstance(value, (dict, list)) and not value):
            continue
        label = LIST_LABELS.get(key) if isinstance(value, list) and key in LIST_LABELS else None
        label = label or LABELS.get(key, key.replace("_", " "))
        if label in labelled:
            continue
        labelled[label] = render(value)
    order = list(dict.fromkeys(LABELS.values()))
    return sorted(labelled.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))


def request_share(result: RunResult) -> str:
    """Each app instance's share of the requests it served over the run, from the target's own counters
    (the load balancer's), e.g. "app-1 25% (199), app-2 25% (198)"; empty when nothing counted them."""
    served = {
        t.component: float(np.nansum(t.requests))
        for t in result.telemetry
        if t.tier == "app" and t.requests is not None and np.isfinite(t.requests).any()
    }
    total = sum(served.values())
    if len(served) < 2 or total <= 0:
        return ""
    return ", ".join(f"{name} {n / total:.0%} ({n:.0f})" for name, n in sorted(served.items()))


def render(value: object, nested: bool = False) -> str:
    """A fact's value in words: nested facts flattened to "key value; ...", sizes in GiB, repeats counted."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        if value.get("how"):  # a load balancer: how it balances (the shares it gave are counted in telemetry)
            return str(value["how"])
        parts = []
        for k, v in value.items():
            if k in NESTED_SKIP or v is None or v == "" or (isinstance(v, (dict, list)) and not v):
                continue
            if k.endswith("_bytes") and isinstance(v, (int, float)):
                parts.append(f"{k.removesuffix('_bytes').replace('_', ' ')} {v / GIB:g} GiB")
            else:
                parts.append(f"{k.replace('_', ' ')} {render(v, nested=True)}")
        return f"({', '.join(parts)})" if nested else "; ".join(parts)
    if isinstance(value, list):
        counted: dict[str, int] = {}
        for item in value:
            text = render(item)
            counted[text] = counted.get(text, 0) + 1
        return ", ".join(f"{n} x ({text})" if n > 1 or isinstance(value[0], dict) else text for text, n in counted.items())
    return str(value)
