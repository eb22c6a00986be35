"""Could the load generator be trusted over one window of a run?

The load engine's self-checks (:mod:`scaleperf.load.selfcheck`) judge the whole run: ``checks["saturated"]``
is set when the generator fell behind anywhere, for example only on the last load steps, far past the
plateau.  Analysis asks a narrower question: over the seconds a verdict is judged on, did the generator
offer the load the profile asked for and time it honestly?  :func:`problems` answers it from the per-second
figures the run keeps:

* the busiest generator process's CPU (``series["gen_cpu_pct"]``): p95 over the window above
  ``CPU_SATURATED_P95_PCT``, the self-check's own rule applied to the window;
* each load worker's CPU (``checks["worker_cpu_per_s"]``, one figure per second since t0): any second of
  the window above ``checks["worker_cpu_saturated_pct"]``, the self-check's rule;
* workers lost during the run (``checks["lost_workers"]``, each with the second the engine noticed): a
  worker lost before the window ends took its users' load with it;
* task lag and Locust's own CPU warnings are recorded for the whole run only, with no time: they count
  against every window, and their reason says so;
* a reason in ``checks["reasons"]`` this module does not know counts against every window.

Results written before a figure was kept per second fall back to the run-wide check for it, and say so.
"""

from __future__ import annotations

import re

import numpy as np

from scaleperf.analysis import stats
from scaleperf.results import RunResult
from scaleperf.trust import CPU_SATURATED_P95_PCT, WORKER_CPU_SATURATED_PCT  # the self-checks' own limits

LOST_WORKER_SLACK_S = 5.0  # a worker is noticed lost up to this late (3 missed 1-s heartbeats; the engine looks each second)

RUN_WIDE = "over the whole run"
# How the self-checks word each reason (selfcheck.checks, workercpu.summarise); tests/unit/test_analysis_generator.py
# holds these against the real functions.
_GEN_CPU = re.compile(r"^load generator CPU p95 ")
_WORKER_CPU = re.compile(r"^load worker .+ reached [0-9.]+% CPU ")
_LOST = re.compile(r"^load worker .+ was lost ")
_LAG = re.compile(r"^paced users started ")
_CPU_WARNINGS = re.compile(r"^Locust warned ")
_LOST_AT = re.compile(r"\bat (\d+(?:\.\d+)?)\s*s\b")  # engine: "... (exit code 1 at 120s: ...)", "... heartbeats at 45s)"


def problems(result: RunResult, start_s: float, end_s: float) -> list[str]:
    """Why the load generator cannot be trusted over ``[start_s, end_s)`` seconds of ``result``; empty when it can."""
    checks = result.checks or {}
    reasons = [str(r) for r in checks.get("reasons", [])]
    out: list[str] = []

    windowed_cpu = _gen_cpu(result, start_s, end_s)
    if windowed_cpu is not None:
        out.extend(windowed_cpu)
    else:
        out.extend(_run_wide(r, "no per-second generator CPU covers this window") for r in reasons if _GEN_CPU.match(r))

    per_s = checks.get("worker_cpu_per_s")
    if isinstance(per_s, dict):
        limit = float(checks.get("worker_cpu_saturated_pct", WORKER_CPU_SATURATED_PCT))
        out.extend(_worker_cpu(per_s, limit, start_s, end_s))
    else:
        out.extend(_run_wide(r, "this result has no per-second worker CPU") for r in reasons if _WORKER_CPU.match(r))

    lost = checks.get("lost_workers")
    if isinstance(lost, list):
        out.extend(_lost(lost, end_s))
    else:
        out.extend(_run_wide(r, "this result does not list its lost workers") for r in reasons if _LOST.match(r))

    for r in reasons:
        if _LAG.match(r):
            out.append(_run_wide(r, "task lag is recorded without times"))
        elif _CPU_WARNINGS.match(r):
            out.append(_run_wide(r, "Locust's warnings are counted without times"))
        elif not any(p.match(r) for p in (_GEN_CPU, _WORKER_CPU, _LOST)):
            out.append(_run_wide(r, "a check analysis cannot place in time"))
    if checks.get("saturated") and not reasons:
        out.append(f"the run's checks mark the load generator saturated without a reason ({RUN_WIDE})")
    return out


def _run_wide(reason: str, why: str) -> str:
    return f"{reason} ({RUN_WIDE}: {why})"


def cpu_p95(result: RunResult, start_s: float, end_s: float) -> float | None:
    """p95 of the busiest generator process's CPU (%) over ``[start_s, end_s)``; None when no figure lies inside."""
    t, cpu = result.series.get("t"), result.series.get("gen_cpu_pct")
    if t is None or cpu is None or len(t) != len(cpu):
        return None
    t = np.asarray(t, dtype=np.float64)
    cpu = np.asarray(cpu, dtype=np.float64)
    sel = (t >= start_s) & (t < end_s) & np.isfinite(cpu)
    return stats.percentile(cpu[sel], 95) if sel.any() else None


def _gen_cpu(result: RunResult, start_s: float, end_s: float) -> list[str] | None:
    """The generator-CPU reason over the window, or None when the series has no figure inside it."""
    p95 = cpu_p95(result, start_s, end_s)
    if p95 is None:
        return None
    if p95 > CPU_SATURATED_P95_PCT:
        return [f"load generator CPU p95 {p95:.0f}% > {CPU_SATURATED_P95_PCT:.0f}% over {start_s:.0f}-{end_s:.0f} s"]
    return []


def _worker_cpu(per_s: dict, limit: float, start_s: float, end_s: float) -> list[str]:
    out = []
    for wid in sorted(per_s):
        values = np.array([np.nan if v is None else float(v) for v in per_s[wid]], dtype=np.float64)
        seconds = np.arange(len(values), dtype=np.float64)
        sel = (seconds >= start_s) & (seconds < end_s) & np.isfinite(values)
        if not sel.any():
            continue
        i = int(np.flatnonzero(sel)[np.argmax(values[sel])])
        if values[i] > limit:
            top = f"{values[i]:.0f}% CPU (> {limit:.0f}%) at {i} s"
            out.append(f"load worker {wid} reached {top}: its latencies include its own queueing")
    return out


def _lost(lost: list, end_s: float) -> list[str]:
    out = []
    for worker in map(str, lost):
        m = _LOST_AT.search(worker)
        if m is None:
            out.append(
                _run_wide(
                    f"load worker {worker} was lost during the run; the load fell short of the profile",
                    "the result does not say when",
                )
            )
        elif float(m.group(1)) - LOST_WORKER_SLACK_S < end_s:
            out.append(f"load worker {worker} was lost before {end_s:.0f} s; the load fell short of the profile from then on")
    return out
