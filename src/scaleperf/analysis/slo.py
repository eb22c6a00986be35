"""Service-level objectives: thresholds from fixtures/slos.toml, judged on a run's plateau (or ramp).

The file has one table per provider (``local``, ``aws``, ``url``)::

    [local.thresholds]
    "polls.p95" = "< 250 ms"          # <group>.<metric> = "<op> <number> <unit>"
    "all.error_rate" = "< 1 %"
    "all.throughput" = ">= 5 /s"
    "auth.p95" = { threshold = "< 2 s", phases = ["ramp", "plateau"] }

    [local.saturation_min_users]      # minimum saturation point per configuration, deployment users
    single = 100

Groups are the locustfile's endpoint groups (polls, auth, writes, reads) or ``all``; metrics are p50, p95,
p99, mean (units ms or s), error_rate (unit %, or a bare fraction) and throughput (unit /s).  An SLO is
judged on the requests of its group started inside the run's ``plateau`` phases, each phase's warm-up
excluded.  An SLO may name the phases it is judged on instead: ``ramp`` counts the whole ramp (users
arriving, hence logging in), ``plateau`` the plateau after its warm-up.  Logins happen as users arrive,
so the auth group has almost no requests on the plateau alone.

The load generator must be trusted over the judged span (:func:`scaleperf.analysis.generator.problems`);
an overload elsewhere in the run, on the load steps, does not touch the SLOs.
"""

from __future__ import annotations

import math
import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scaleperf.analysis import generator, metrics
from scaleperf.analysis.metrics import format_value
from scaleperf.analysis.slo_decision import CONFIDENCE, Pool, decide, interval, interval_text, pool_of, undecided_hint
from scaleperf.analysis.verdict import INCONCLUSIVE, PASS, SloVerdict
from scaleperf.configs import FIXTURES
from scaleperf.errors import ScaleperfError
from scaleperf.results import RunResult

if TYPE_CHECKING:
    from scaleperf.analysis.slo_support import Support

DEFAULT_PATH = FIXTURES / "slos.toml"  # the committed SLO file
PROVIDERS = ("local", "aws", "url")  # tables the file may hold
GROUPS = metrics.GROUPS  # one set of group names for SLOs and comparisons
LATENCY_METRICS = metrics.LATENCY  # metric -> percentile (None: the mean)
METRICS = metrics.STATISTICS
OPS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
PLATEAU = "plateau"  # the phase kind SLOs are judged on unless they name others
RAMP = "ramp"  # users arriving: the whole phase counts (it has no warm-up)
SLO_PHASES = (RAMP, PLATEAU)  # phase kinds an SLO may name; steps go past saturation on purpose
_THRESHOLD = re.compile(r"^\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|%|/s|rps)?\s*$")
_UNITS = metrics.UNITS


@dataclass(frozen=True)
class Slo:
    """One threshold: ``<group>.<metric> <op> <threshold>`` in canonical units (ms, ratio, req/s)."""

    provider: str
    group: str
    metric: str
    op: str
    threshold: float
    text: str  # as written in the file, e.g. "< 250 ms"
    phases: tuple[str, ...] = (PLATEAU,)  # phase kinds judged, from SLO_PHASES

    @property
    def key(self) -> str:
        return f"{self.group}.{self.metric}"

    @property
    def unit(self) -> str:
        return _UNITS[self.metric]

    @property
    def id(self) -> str:
        """Short stable id, usable as a pytest id: ``polls.p95<250ms``."""
        return f"{self.key}{self.text.replace(' ', '')}"

    @property
    def latency(self) -> bool:
        return self.metric in LATENCY_METRICS

    def holds(self, measured: float) -> bool:
        return OPS[self.op](measured, self.threshold)

    def describe(self) -> str:
        return f"{self.key} {self.op} {format_value(self.threshold, self.unit)}"


# ----------------------------------------------------------------------------------------- loading
def _read(path: Path) -> dict:
    try:
        with Path(path).open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise ScaleperfError(f"{path}: file not found; create it (see fixtures/slos.toml for the format)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScaleperfError(f"{path}: not valid TOML ({exc})") from exc


def _provider_table(path: Path, doc: dict, provider: str) -> dict:
    unknown = set(doc) - set(PROVIDERS)
    if unknown:
        raise ScaleperfError(f"{path}: unknown table [{sorted(unknown)[0]}]; use one of {', '.join(PROVIDERS)}")
    if provider not in PROVIDERS:
        raise ScaleperfError(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    table = doc.get(provider)
    if table is None:
        raise ScaleperfError(f"{path}: no [{provider}] table; add [{provider}.thresholds] for this provider")
    if not isinstance(table, dict):
        raise ScaleperfError(f"{path}: [{provider}] must be a table")
    extra = set(table) - {"thresholds", "saturation_min_users"}
    if extra:
        raise ScaleperfError(f"{path}: [{provider}] unknown key {sorted(extra)[0]!r}; use thresholds or saturation_min_users")
    return table


def parse_threshold(path: Path, provider: str, key: str, text: object) -> Slo:
    """One ``"<group>.<metric>" = "<op> <number> <unit>"`` entry, or ``{ threshold = "...", phases = [...] }``;
    errors name the file and key."""
    where = f"{path}: [{provider}.thresholds] {key!r}"
    group, _, metric = key.partition(".")
    if group not in GROUPS:
        raise ScaleperfError(f"{where}: unknown group {group!r}; use one of {', '.join(GROUPS)}")
    if metric not in METRICS:
        raise ScaleperfError(f"{where}: unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    phases: tuple[str, ...] = (PLATEAU,)
    if isinstance(text, dict):
        phases = _parse_phases(where, text)
        text = text.get("threshold")
    if not isinstance(text, str):
        raise ScaleperfError(f'{where}: value must be a string such as "< 250 ms"')
    m = _THRESHOLD.match(text)
    if not m:
        raise ScaleperfError(f'{where}: cannot read {text!r}; write "<op> <number> <unit>", e.g. "< 250 ms"')
    op, number, unit = m.group(1), float(m.group(2)), m.group(3)
    if metric in LATENCY_METRICS:
        if unit not in ("ms", "s"):
            raise ScaleperfError(f"{where}: a latency needs a unit, ms or s (got {unit or 'none'})")
        value = number * 1000 if unit == "s" else number
    elif metric == "error_rate":
        if unit not in ("%", None):
            raise ScaleperfError(f"{where}: an error rate is in % or a bare fraction (got {unit})")
        value = number / 100 if unit == "%" else number
        if not 0 <= value <= 1:
            raise ScaleperfError(f"{where}: an error rate must lie between 0 and 100 %")
    else:
        if unit not in ("/s", "rps"):
            raise ScaleperfError(f"{where}: throughput needs the unit /s (got {unit or 'none'})")
        value = number
    return Slo(provider=provider, group=group, metric=metric, op=op, threshold=value, text=text.strip(), phases=phases)


def _parse_phases(where: str, entry: dict) -> tuple[str, ...]:
    """The ``phases`` of a table entry (default: the plateau), in SLO_PHASES order."""
    extra = set(entry) - {"threshold", "phases"}
    if extra:
        raise ScaleperfError(f"{where}: unknown key {sorted(extra)[0]!r}; use threshold and phases")
    if "threshold" not in entry:
        raise ScaleperfError(f'{where}: no threshold; write threshold = "< 250 ms"')
    phases = entry.get("phases", [PLATEAU])
    if not isinstance(phases, list) or not phases or not all(isinstance(k, str) for k in phases):
        raise ScaleperfError(f'{where}: phases must be a list such as ["ramp", "plateau"]')
    unknown = [k for k in phases if k not in SLO_PHASES]
    if unknown:
        raise ScaleperfError(f"{where}: unknown phase {unknown[0]!r}; use {' or '.join(SLO_PHASES)}")
    return tuple(k for k in SLO_PHASES if k in phases)


def load_slos(path: Path | str | None, provider: str) -> list[Slo]:
    """The SLOs declared for ``provider`` in ``path`` (default fixtures/slos.toml)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    table = _provider_table(path, _read(path), provider)
    thresholds = table.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise ScaleperfError(f"{path}: [{provider}.thresholds] must be a table")
    return [parse_threshold(path, provider, key, text) for key, text in thresholds.items()]


def saturation_minimum(path: Path | str | None, provider: str, config: str) -> int | None:
    """The minimum saturation point (deployment users) declared for ``config``, or None when none is."""
    path = Path(path) if path is not None else DEFAULT_PATH
    table = _provider_table(path, _read(path), provider).get("saturation_min_users", {})
    if not isinstance(table, dict):
        raise ScaleperfError(f"{path}: [{provider}.saturation_min_users] must be a table of configuration = users")
    if config not in table:
        return None
    value = table[config]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ScaleperfError(f"{path}: [{provider}.saturation_min_users] {config!r} must be a whole number of users >= 0")
    return value


# ---------------------------------------------------------------------------------------- measuring
def metric_of(slo: Slo) -> metrics.Metric:
    return metrics.parse_metric(slo.key)


def measure(result: RunResult, slo: Slo, windows: list[tuple[float, float]]) -> tuple[float, int]:
    """The SLO's metric over ``windows`` (:func:`metrics.value`): (value, number of requests)."""
    return metrics.value(result, metric_of(slo), windows)


def judged_windows(result: RunResult, slo: Slo) -> list[tuple[str, tuple[float, float]]]:
    """(phase label, window) of each phase ``slo`` is judged on, in time order: a ramp whole, a plateau after
    its warm-up; empty windows left out."""
    out = []
    for p in sorted(result.phases, key=lambda p: p.start_s):
        if p.kind not in slo.phases:
            continue
        w = (p.start_s, p.end_s) if p.kind == RAMP else p.window
        if w[1] > w[0]:
            out.append((p.label, w))
    return out


def _untrusted(result: RunResult, windows: list[tuple[float, float]]) -> str | None:
    """Why the replicate cannot contribute to the SLO: incomplete, or the generator not trusted in a judged window."""
    if not result.complete:
        return "the run did not complete"
    found = [p for w in windows for p in generator.problems(result, w[0], w[1])]
    if found:
        return f"the load generator could not be trusted ({'; '.join(dict.fromkeys(found))})"
    return None


def _merge(pools: list[Pool]) -> Pool:
    return Pool(
        np.concatenate([p.latency_ms for p in pools]) if pools else np.zeros(0),
        sum(p.failed for p in pools),
        sum(p.n for p in pools),
        sum(p.span_s for p in pools),
    )


def judge(config: str, runs: list[RunResult], slos: list[Slo], support: Support | None = None) -> list[SloVerdict]:
    """One verdict per SLO over every replicate of ``config``: the requests of each usable replicate's judged
    windows pooled, decided by a distribution-free interval (:func:`interval`, :func:`decide`); each
    replicate's own value is listed beside it, and a replicate that cannot be trusted is left out with why.

    With ``support`` (:mod:`scaleperf.analysis.slo_support`), an SLO its own phases leave undecided may still
    pass on those requests pooled with the load steps that held above the design load (more load, so never
    a kinder sample); such steps never make an SLO fail."""
    verdicts = []
    ordered = sorted(runs, key=lambda r: int(r.meta.get("replicate", 0) or 0))
    for slo in slos:
        subject = f"{config}: {slo.describe()}"
        pools, per_replicate, windows_all, backing, backing_labels = [], [], [], [], {}
        for r in ordered:
            labelled = judged_windows(r, slo)
            windows = [w for _, w in labelled]
            name = f"r{r.meta.get('replicate', '?')}"
            if not windows:
                per_replicate.append(
                    {"replicate": name, "measured": None, "n": 0, "excluded": f"no {' or '.join(slo.phases)} phase"}
                )
                continue
            value, n = measure(r, slo, windows)
            why = _untrusted(r, windows)
            per_replicate.append(
                {"replicate": name, "measured": value if math.isfinite(value) else None, "n": n, "excluded": why}
            )
            windows_all.append([list(w) for w in windows])
            if why is None:
                pools.append(pool_of(r, slo, windows))
                steps = support.windows(r, slo) if support is not None else []  # trusted steps only
                if steps:
                    backing.append(pool_of(r, slo, [w for _, w in steps]))
                    backing_labels[name] = [label for label, _ in steps]
        pool = _merge(pools)
        estimate, lo, hi = interval(slo, pool)
        figures = {
            "config": config,
            "slo": slo.id,
            "group": slo.group,
            "metric": slo.metric,
            "op": slo.op,
            "threshold": slo.threshold,
            "unit": slo.unit,
            "phases": list(slo.phases),
            "windows": windows_all,
            "measured": estimate if math.isfinite(estimate) else None,
            "interval": [lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None],
            "confidence": CONFIDENCE,
            "n_samples": pool.n,
            "replicates": per_replicate,
            "pooled": len(pools),
        }
        each = ", ".join(
            f"{p['replicate']} {format_value(p['measured'], slo.unit)}" + (" (left out)" if p["excluded"] else "")
            for p in per_replicate
        )
        excluded = "; ".join(f"{p['replicate']} left out: {p['excluded']}" for p in per_replicate if p["excluded"])
        spans = ", ".join(f"{label} {a:.0f}-{b:.0f} s" for label, (a, b) in judged_windows(ordered[0], slo)) if ordered else ""
        phases = f"{' and '.join(slo.phases)} ({spans})" if spans else " and ".join(slo.phases)
        requests = "requests" if slo.group == "all" else f"{slo.group} requests"
        if not pools:
            outcome = INCONCLUSIVE
            reason = f"{subject}: inconclusive, no replicate to judge on ({excluded or 'no runs'})"
        elif pool.n == 0:
            outcome = INCONCLUSIVE
            reason = f"{subject}: inconclusive, 0 {requests} on the {phases} of {len(pools)} replicate(s)"
        else:
            outcome = decide(slo, lo, hi)
            shown = (
                f"measured {format_value(estimate, slo.unit)} ({interval_text(lo, hi, slo.unit)}) against "
                f"{slo.op} {format_value(slo.threshold, slo.unit)} over {pool.n} {requests} on the {phases} of "
                f"{len(pools)} replicate{'s' if len(pools) != 1 else ''}"
            )
            if len(per_replicate) > 1:
                shown += f" ({each})"
            with_steps = None
            if outcome == INCONCLUSIVE and backing:
                both = _merge(pools + backing)
                b_est, b_lo, b_hi = interval(slo, both)
                steps_text = "; ".join(f"{k}: {', '.join(v)}" for k, v in backing_labels.items())
                with_steps = {
                    "steps": backing_labels,
                    "measured": b_est if math.isfinite(b_est) else None,
                    "interval": [b_lo if math.isfinite(b_lo) else None, b_hi if math.isfinite(b_hi) else None],
                    "n_samples": both.n,
                    "decided": decide(slo, b_lo, b_hi) == PASS,
                }
                figures["with_steps"] = with_steps
                if with_steps["decided"]:
                    outcome = PASS
                    shown = (
                        f"measured {format_value(b_est, slo.unit)} ({interval_text(b_lo, b_hi, slo.unit)}) against "
                        f"{slo.op} {format_value(slo.threshold, slo.unit)} over {both.n} {requests}: the {phases} "
                        f"({pool.n}, {format_value(estimate, slo.unit)} alone, not enough to decide) pooled with the "
                        f"load steps that held above the design load ({steps_text}), which ran more load and so can "
                        f"only look worse"
                    )
                    estimate, lo, hi, pool = b_est, b_lo, b_hi, both
                    figures.update(
                        measured=estimate if math.isfinite(estimate) else None,
                        interval=[lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None],
                        n_samples=pool.n,
                    )
            reason = f"{subject}: {outcome}, {shown}"
            if outcome == INCONCLUSIVE:
                reason += undecided_hint(slo, pool.n)
                if with_steps is not None:
                    reason += (
                        f"; with the load steps that held above the design load ({with_steps['n_samples']} requests) "
                        f"it is still not shown to hold"
                    )
            if excluded:
                reason += f"; {excluded}"
        verdicts.append(
            SloVerdict(
                kind="slo",
                subject=subject,
                outcome=outcome,
                reason=reason,
                figures=figures,
                config=config,
                slo_id=slo.id,
                group=slo.group,
                metric=slo.metric,
                op=slo.op,
                threshold=slo.threshold,
                unit=slo.unit,
                measured=estimate if math.isfinite(estimate) else None,
                n_samples=pool.n,
                interval=(lo, hi),
                replicates=tuple(per_replicate),
            )
        )
    return verdicts


def evaluate(result: RunResult, slos: list[Slo]) -> list[SloVerdict]:
    """Judge each SLO on one run alone (the same rule as :func:`judge`, over one replicate)."""
    return judge(result.config, [result], slos)
