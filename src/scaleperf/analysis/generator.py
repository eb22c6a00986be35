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
* task lag (``checks["lag_per_s"]``: paced waits per second, and how many woke later than the limit): more than
  1 % of the window's waits that late is a lag p99 above ``LAG_SATURATED_P99_MS``, the self-check's rule;
* Locust's own CPU warnings (``checks["cpu_warnings_at_s"]``): a warning counts against a window it came in or
  within ``CPU_WARNING_SPAN_S`` after, since Locust measures its CPU over that long before it warns;
* a reason in ``checks["reasons"]`` this module does not know counts against every window.

Results written before a figure was kept per second fall back to the run-wide check for it, and say so.
"""

from __future__ import annotations

import re

import numpy as np

from scaleperf.analysis import stats
from scaleperf.results import RunResult
from scaleperf.trust import CPU_SATURATED_P95_PCT, LAG_SATURATED_P99_MS, WORKER_CPU_SATURATED_PCT  # the self-checks' limits

LOST_WORKER_SLACK_S = 5.0  # a worker is noticed lost up to this late (3 missed 1-s heartbeats; the engine looks each second)
CPU_WARNING_SPAN_S = 10.0  # Locust warns about the CPU it measured over this many seconds before (CPU_MONITOR_INTERVAL)
LATE_SHARE = 0.01  # more than this share of a window's paced waits late: its lag p99 is above the limit

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

    lag = checks.get("lag_per_s")
    if isinstance(lag, dict):
        out.extend(_lag(lag, start_s, end_s))
    else:
        out.extend(_run_wide(r, "task lag is recorded without times") for r in reasons if _LAG.match(r))

    warned_at = checks.get("cpu_warnings_at_s")
    if isinstance(warned_at, list):
        out.extend(_cpu_warnings(warned_at, int(checks.get("cpu_warnings", len(warned_at))), start_s, end_s))
    else:
        out.extend(_run_wide(r, "Locust's warnings are counted without times") for r in reasons if _CPU_WARNINGS.match(r))

    for r in reasons:
        if not any(p.match(r) for p in (_GEN_CPU, _WORKER_CPU, _LOST, _LAG, _CPU_WARNINGS)):
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


def _lag(per_s: dict, start_s: float, end_s: float) -> list[str]:
    """The task-lag reason over the window: more than ``LATE_SHARE`` of its paced waits woke too late."""
    waits = np.asarray(per_s.get("waits", []), dtype=np.float64)
    late = np.asarray(per_s.get("late", []), dtype=np.float64)
    latest = np.asarray(per_s.get("max_ms", []), dtype=np.float64)
    limit = float(per_s.get("late_above_ms", LAG_SATURATED_P99_MS))
    if not (len(waits) == len(late) == len(latest)):
        return [f"paced users' lag per second is malformed ({RUN_WIDE}: it cannot be placed in time)"]
    seconds = np.arange(len(waits), dtype=np.float64)
    sel = (seconds >= start_s) & (seconds < end_s)
    total, too_late = float(waits[sel].sum()), float(late[sel].sum())
    if total == 0 or too_late / total <= LATE_SHARE:
        return []
    return [
        f"paced users started up to {latest[sel].max():.0f} ms late over {start_s:.0f}-{end_s:.0f} s: "
        f"{too_late:.0f} of {total:.0f} waits later than {limit:.0f} ms (lag p99 > {limit:.0f} ms): the schedule slipped"
    ]


def _cpu_warnings(at_s: list, count: int, start_s: float, end_s: float) -> list[str]:
    """Locust's CPU warnings that cover part of the window, and any the result could not place in time."""
    times = [float(t) for t in at_s]
    inside = [t for t in times if t >= start_s and t - CPU_WARNING_SPAN_S < end_s]
    out = []
    if inside:
        when = ", ".join(f"{t:.0f} s" for t in inside)
        window = f"{start_s:.0f}-{end_s:.0f} s"
        out.append(f"Locust warned {len(inside)} time(s) that its CPU was above 90% (at {when}), over {window}")
    if count > len(times):
        out.append(_run_wide(f"Locust warned {count - len(times)} time(s) that its CPU was above 90%", "without a time"))
    return out
