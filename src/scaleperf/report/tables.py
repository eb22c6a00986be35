"""Statistics tables: per endpoint group, per configuration, per verdict; rendered as Markdown or HTML.

Numbers come from the exact per-request samples with the one percentile definition of
:func:`scaleperf.analysis.stats.percentile`; the window is the plateau with its warm-up excluded (the
whole run when there is no plateau), the same window the SLOs are judged on.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np

from scaleperf.analysis import stats
from scaleperf.report.redact import scrub_text
from scaleperf.results import RunResult


@dataclass(frozen=True)
class GroupStats:
    group: str
    count: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else math.nan


def plateau_windows(result: RunResult) -> list[tuple[float, float]]:
    """The plateau windows (warm-up excluded), or the whole run when there is no plateau."""
    windows = [p.window for p in result.phases_of("plateau") if p.window[1] > p.window[0]]
    if windows:
        return windows
    t = result.samples.t
    return [(float(t.min()), float(t.max()) + 1.0)] if len(t) else []


def group_stats(result: RunResult, windows: list[tuple[float, float]] | None = None) -> list[GroupStats]:
    """One row for all requests, then one per endpoint group that has requests in ``windows``."""
    windows = plateau_windows(result) if windows is None else windows
    s = result.samples
    span = sum(b - a for a, b in windows)
    in_window = np.zeros(len(s), dtype=bool)
    for w in windows:
        in_window |= s.mask(window=w)
    rows = []
    for group in ("all", *s.groups):
        m = in_window & s.mask(group=group)
        n = int(m.sum())
        if n == 0 and group != "all":
            continue
        lat = s.latency_ms[m]
        rows.append(
            GroupStats(
                group=group,
                count=n,
                rps=n / span if span > 0 else math.nan,
                p50_ms=stats.percentile(lat, 50),
                p95_ms=stats.percentile(lat, 95),
                p99_ms=stats.percentile(lat, 99),
                errors=int(s.failed[m].sum()),
            )
        )
    return rows


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    """A number for a table cell; "n/a" for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:{spec}}{suffix}"


GROUP_HEADER = ("group", "requests", "req/s", "p50 (ms)", "p95 (ms)", "p99 (ms)", "errors", "error rate")


def group_rows(rows: list[GroupStats]) -> list[tuple[str, ...]]:
    return [
        (
            r.group,
            str(r.count),
            fmt(r.rps, ".2f"),
            fmt(r.p50_ms),
            fmt(r.p95_ms),
            fmt(r.p99_ms),
            str(r.errors),
            fmt(100 * r.error_rate, ".2f", " %"),
        )
        for r in rows
    ]


def markdown(header: tuple[str, ...] | list[str], rows: list[tuple[str, ...]] | list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table (cells scrubbed of secrets, pipes escaped)."""

    def cell(v: object) -> str:
        return scrub_text(str(v)).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: tuple[str, ...] | list[str], rows: list[tuple[str, ...]] | list[list[str]], caption: str = "") -> str:
    """An HTML table (cells escaped and scrubbed of secrets; each line of ``caption`` on a line of its own)."""

    def cell(v: object) -> str:
        return html.escape(scrub_text(str(v)))

    cap = f"<caption>{'<br>'.join(cell(line) for line in caption.splitlines())}</caption>" if caption else ""
    head = "".join(f"<th>{cell(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="scaleperf">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
