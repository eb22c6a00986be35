"""The results document's body: each configuration (facts, plots, statistics, its verdicts, what broke
first, arrival dispersion), then the configurations side by side with the comparison verdicts and
conclusions.  Every verdict shown here is one of the run's stored verdicts, in its own words."""

from __future__ import annotations

import math

from scaleperf.analysis import growth
from scaleperf.analysis.slo import format_value
from scaleperf.analysis.verdict import (
    BETTER,
    NO_DIFFERENCE,
    NO_MEANINGFUL_DIFFERENCE,
    NOT_ENOUGH_DATA,
    REFUSED,
    SAT_NOT_REACHED,
    SAT_RANGE,
    WORSE,
    SaturationVerdict,
)
from scaleperf.report import bottleneck, describe, plots, tables
from scaleperf.report.blocks import Block, Bullets, Heading, Table, caption, image, join, round_trip
from scaleperf.report.overview import main_run
from scaleperf.results import RunResult

# How each comparison result reads between the two configurations' names.
RESULT_PHRASES = {
    BETTER: "is better than",
    WORSE: "is worse than",
    NO_DIFFERENCE: "shows no detectable difference from",
    NO_MEANINGFUL_DIFFERENCE: "differs by less than the claimed effect from",
    NOT_ENOUGH_DATA: "has too few usable replicates to compare with",
    REFUSED: "cannot be compared with",
}
ENDPOINT_ROWS = 8  # endpoints shown in the what-broke-first table (those that broke first come first)


def saturation_text(v: SaturationVerdict | None) -> str:
    if v is None:
        return "not measured (the profile has no load steps)"
    if v.result == SAT_RANGE and v.users_range:
        return f"between {v.users_range[0]:.0f} and {v.users_range[1]:.0f} users ({v.outcome})"
    if v.users is not None:
        prefix = "above " if v.result == SAT_NOT_REACHED else ""
        return f"{prefix}{v.users} users ({v.result}, {v.outcome})"
    return v.result if v.result == v.outcome else f"{v.result} ({v.outcome})"


def saturation_users(v: SaturationVerdict | None) -> float | None:
    if v is None:
        return None
    if v.result == SAT_RANGE and v.users_range:
        return (v.users_range[0] + v.users_range[1]) / 2
    return float(v.users) if v.users is not None else None


def two_figures(v: SaturationVerdict) -> list[str]:
    """Capacity and the SLO-compliant load, as two separate figures."""
    out = []
    cap = v.figures.get("capacity") or {}
    if cap.get("rps") is not None:
        out.append(f"Capacity: {'at least ' if cap.get('lower_bound') else ''}{cap['rps']:.1f} req/s ({cap.get('reason')})")
    else:
        out.append(f"Capacity: unknown ({cap.get('reason', 'no load steps')})")
    ok = v.figures.get("slo_compliant")
    if ok and ok.get("users") is not None:
        upto = "at least " if not ok.get("reached") else ""
        broke = f"; {ok['broken_at']} broke an SLO" if ok.get("broken_at") else "; no step broke an SLO"
        out.append(f"SLO-compliant load: {upto}{ok['users']} users, {ok['rps']:.1f} req/s{broke}")
    elif ok:
        out.append(f"SLO-compliant load: below the first step ({ok.get('broken_at')} already broke an SLO)")
    return out


def _thresholds(slos: list) -> dict[str, float]:
    return {s.group: s.threshold for s in slos if s.metric == "p95" and s.op in ("<", "<=")}


def growth_blocks(name: str, run: RunResult, slos: list) -> list[Block]:
    """Per endpoint, latency and response size across the load steps; the endpoints that broke first; the arrivals' dispersion."""
    g = growth.endpoint_growth(run, _thresholds(slos))
    if not g.steps:
        return []
    blocks: list[Block] = [Heading(4, "What broke first")]
    header = ("endpoint", "group", "p95 SLO", *(f"{label} ({u} users)" for label, u in zip(g.steps, g.users, strict=True)))
    rows = []
    for e in g.endpoints[:ENDPOINT_ROWS]:
        cells = []
        for k in range(len(g.steps)):
            mark = " *" if e.broke_at is not None and k >= e.broke_at else ""
            cells.append(f"{tables.fmt(e.p95_ms[k], '.0f')} ms / {_kb(e.size_bytes[k])}{mark}")
        rows.append((e.name, e.group, "n/a" if e.threshold_ms is None else f"{e.threshold_ms:.0f} ms", *cells))
    title = f"{name}: p95 / mean response size per endpoint and step; * past its group's p95 SLO"
    blocks.append(Table(header, tuple(rows), caption(title, growth.growth_sentence(g))))
    disp = growth.step_dispersion(run)
    if disp:
        rows = tuple((d.label, str(d.users), tables.fmt(d.index, ".2f"), tables.fmt(d.cycle_ratio, ".1f")) for d in disp)
        note = (
            f"Arrival dispersion: variance/mean of request starts per second (1 for random arrivals) and the busiest "
            f"over the quietest tenth of the {growth.CYCLE_S:g} s polling cycle (1 for even arrivals)"
        )
        blocks.append(Table(("phase", "users", "variance/mean per s", "busiest/quietest tenth"), rows, note))
    return blocks


def _kb(b: float) -> str:
    if not math.isfinite(b):
        return "n/a"
    return f"{b / 1024:.1f} KB" if b >= 1024 else f"{b:.0f} B"


def configuration_section(name: str, replicates: list[RunResult], analysis) -> list[Block]:
    main = main_run(replicates)
    blocks: list[Block] = [Heading(3, name)]
    blocks.append(Table(("fact", "value"), tuple(describe.facts(main)), "What it is"))
    stem = f"{name}-r{main.meta.get('replicate', 0)}"
    windows = tables.plateau_windows(main)
    window = (windows[0][0], windows[-1][1]) if windows else None
    rtt = round_trip([main])
    slos = analysis.slos
    blocks.append(
        image(
            f"{stem}-latency",
            plots.latency_over_time(main, slos),
            join("Response time percentiles per second, SLO thresholds dashed.", rtt),
        )
    )
    blocks.append(image(f"{stem}-load", plots.load_over_time(main), "Users offered and requests served per second."))
    blocks.append(image(f"{stem}-errors", plots.error_rate_over_time(main, slos), "Failed requests per second, in percent."))
    blocks.append(
        image(
            f"{stem}-cdf",
            plots.latency_cdf(main, window),
            join("Distribution of response times on the plateau, per endpoint group.", rtt),
        )
    )
    if main.telemetry:
        blocks.append(image(f"{stem}-telemetry", plots.telemetry(main), "Target-side CPU and throttling per component."))
    where = ", ".join(f"{a:.0f}-{b:.0f} s" for a, b in windows) or "(no requests recorded)"
    stats_caption = caption(f"Statistics per endpoint group, plateau {where}", rtt)
    blocks.append(Table(tables.GROUP_HEADER, tuple(tables.group_rows(tables.group_stats(main, windows))), stats_caption))
    if slos:
        verdicts = {v.slo_id: v for v in analysis.slo_verdicts.get(name, [])}
        rows = []
        for s in slos:
            v = verdicts.get(s.id)
            if v is None:
                rows.append((s.id, "n/a", "n/a", "not judged"))
                continue
            each = ", ".join(f"{p['replicate']} {format_value(p['measured'], v.unit)}" for p in v.replicates)
            rows.append((s.id, format_value(v.measured, v.unit), each, v.outcome))
        blocks.append(
            Table(("SLO", "pooled", "each replicate", "verdict"), tuple(rows), caption("SLO verdicts over every replicate", rtt))
        )
        reasons = tuple(v.reason for v in analysis.slo_verdicts.get(name, []))
        if reasons:
            blocks.append(Bullets(reasons))
    sat = analysis.saturation.get(name)
    limit = bottleneck.find(main, sat)
    if sat is not None:
        blocks.append(
            image(
                f"{stem}-saturation", plots.saturation(sat, main), "Throughput and p95 against load, the saturation point marked."
            )
        )
    items = [f"Saturation point: {saturation_text(sat)}" + (f": {sat.reason}" if sat is not None else "")]
    if sat is not None:
        items += two_figures(sat)
    items.append(f"Limiting tier: {limit.sentence}.")
    blocks.append(Bullets(tuple(items)))
    blocks += growth_blocks(name, main, slos)
    rows = []
    for r in replicates:
        all_stats = tables.group_stats(r)[0]
        rows.append(
            (
                str(r.meta.get("replicate", "?")),
                "yes" if r.complete else "no",
                str(all_stats.count),
                tables.fmt(all_stats.p95_ms),
                tables.fmt(100 * all_stats.error_rate, ".2f", " %"),
                "yes: " + "; ".join(map(str, r.checks.get("reasons", []))) if r.generator_saturated else "no",
            )
        )
    header = ("replicate", "complete", "requests", "p95 (ms)", "errors", "generator saturated")
    blocks.append(Table(header, tuple(rows), "Replicates (plateau of each)"))
    return blocks


def comparison_section(runs: dict[str, list[RunResult]], analysis) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Across configurations")]
    rows, bars = [], []
    for name, replicates in runs.items():
        main = main_run(replicates)
        overall = tables.group_stats(main)[0]
        sat = analysis.saturation.get(name)
        facts = dict(describe.facts(main))
        cap = (sat.figures.get("capacity") or {}).get("rps") if sat is not None else None
        rows.append(
            (
                name,
                f"{facts.get('app instances', '?')} x {facts.get('app instance type', '?')}",
                facts.get("database class", "?"),
                str(len(replicates)),
                tables.fmt(overall.rps, ".1f"),
                tables.fmt(overall.p50_ms),
                tables.fmt(overall.p95_ms),
                tables.fmt(overall.p99_ms),
                tables.fmt(100 * overall.error_rate, ".2f", " %"),
                saturation_text(sat),
                tables.fmt(cap, ".1f"),
                bottleneck.find(main, sat).tier or ("none CPU-bound" if main.telemetry else "unknown"),
            )
        )
        bars.append({"config": name, "p95_ms": overall.p95_ms, "saturation_users": saturation_users(sat)})
    header = ("configuration", "app", "database", "replicates", "req/s", "p50 (ms)", "p95 (ms)", "p99 (ms)", "errors",
              "saturation", "capacity (req/s)", "limiting tier")  # fmt: skip
    mains = [main_run(r) for r in runs.values()]
    rtt = round_trip(mains)
    blocks.append(Table(header, tuple(rows), caption("Side by side (plateau of the first complete replicate)", rtt)))
    blocks.append(
        image(
            "configurations",
            plots.configurations_side_by_side(bars),
            join("p95 on the plateau and saturation point per configuration.", rtt),
        )
    )
    blocks.append(
        image(
            "configurations-cdf", plots.latency_cdf_by_config(mains), join("Response time distributions per configuration.", rtt)
        )
    )
    if analysis.comparisons:
        blocks.append(Heading(3, "Comparison verdicts"))
        crow = []
        for v in analysis.comparisons:
            ci = v.ratio_ci
            crow.append(
                (
                    v.subject,
                    v.outcome,
                    v.result,
                    f"{v.n_a} / {v.n_b}",
                    tables.fmt(v.ratio, ".3f"),
                    "n/a" if ci is None else f"{tables.fmt(ci[0], '.3f')}-{tables.fmt(ci[1], '.3f')} ({v.confidence:.4g})",
                    tables.fmt(v.p_value, ".3g"),
                    tables.fmt(v.p_holm, ".3g"),
                    tables.fmt(v.cliffs_delta, ".2f"),
                )
            )
        chead = ("claim", "verdict", "data say", "replicates", "ratio a/b", "CI (level)", "p", "p (adjusted)", "Cliff's delta")
        blocks.append(Table(chead, tuple(crow)))
        blocks.append(Bullets(tuple(v.reason for v in analysis.comparisons)))
        for v in analysis.comparisons:
            if v.result != REFUSED:
                blocks.append(image(f"compare-{v.expectation_id}", plots.comparison(v), v.subject))
    blocks.append(Heading(3, "Conclusions"))
    blocks.append(Bullets(tuple(conclusions(runs, analysis)) or ("No verdicts to conclude from.",)))
    return blocks


def conclusions(runs: dict[str, list[RunResult]], analysis) -> list[str]:
    """Sentences phrased from the verdicts: capacity ratios from saturation, then each comparison."""
    out: list[str] = []
    slo_text = " and ".join(f"{s.key} {s.text}" for s in analysis.slos if s.latency and s.group == "polls") or "the SLOs"
    measured = {n: saturation_users(v) for n, v in analysis.saturation.items() if saturation_users(v)}
    if len(measured) > 1:
        base = min(measured, key=lambda n: measured[n])  # type: ignore[arg-type,return-value]
        for name, users in measured.items():
            if name == base:
                continue
            v = analysis.saturation[name]
            atleast = "at least " if v is not None and v.result == SAT_NOT_REACHED else ""
            out.append(
                f"{name} sustains {atleast}{users / measured[base]:.1f}x the users of {base} at {slo_text} "
                f"({users:.0f} against {measured[base]:.0f} deployment-scale users)."
            )
    for v in analysis.comparisons:
        word = {"pass": "holds", "fail": "does not hold", "inconclusive": "is not settled"}.get(v.outcome, v.outcome)
        phrase = RESULT_PHRASES.get(v.result, f"is {v.result} against")
        out.append(f"The expectation \u201c{v.subject}\u201d {word}: {v.a} {phrase} {v.b}.")
    return out
