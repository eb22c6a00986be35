"""pytest-html extras for a perf test's row: its plots as inline PNGs and its figures as HTML tables.

The plugin calls :func:`extras_for_run`, :func:`extras_for_saturation` and :func:`extras_for_comparison`
and appends what they return to pytest-html's ``extras`` fixture.  PNGs are base64 strings, so a
``--self-contained-html`` report embeds them (a file path would only be linked).
"""

from __future__ import annotations

import base64
import logging

from matplotlib.figure import Figure

from scaleperf.analysis.verdict import ComparisonVerdict, SaturationVerdict
from scaleperf.errors import ScaleperfError
from scaleperf.report import bottleneck, plots, tables
from scaleperf.report.describe import provider_of
from scaleperf.report.redact import scrub_text
from scaleperf.results import RunResult

log = logging.getLogger(__name__)


def _html_extras():
    from pytest_html import extras as html_extras

    return html_extras


def png_base64(fig: Figure) -> str:
    """``fig`` as a base64 PNG string (what pytest-html embeds)."""
    return base64.b64encode(plots.png(fig)).decode("ascii")


def image(fig: Figure, name: str) -> dict:
    return _html_extras().png(png_base64(fig), name=name)


def html(fragment: str) -> dict:
    """An HTML extra, its secrets masked (see :mod:`scaleperf.report.redact`)."""
    return _html_extras().html(scrub_text(fragment))


def _slos_for(result: RunResult) -> list:
    from scaleperf.analysis import slo

    try:
        return slo.load_slos(None, provider_of(result))
    except ScaleperfError as exc:
        log.warning("no SLO lines on the plots: %s", exc)
        return []


def round_trip_note(result: RunResult) -> str:
    """What the run's latencies include of the network, e.g. "client round trip 0.4 ms (median of 5 health checks)"."""
    rtt = result.meta.get("rtt_ms")
    if rtt is None:
        return ""
    probes = result.meta.get("rtt_probes") or len(result.meta.get("rtt_samples_ms") or ())
    what = "health checks" if str(result.meta.get("rtt_path", "")).endswith("/health") else "requests to the base URL"
    who = "round trip from the Locust master" if result.meta.get("expect_workers") else "client round trip"
    return f"{who} {rtt:.1f} ms (median of {probes} {what})"


def run_tables(result: RunResult, slos: list) -> str:
    """The run's statistics per endpoint group and its SLO verdicts, as HTML."""
    windows = tables.plateau_windows(result)
    where = ", ".join(f"{a:.0f}-{b:.0f} s" for a, b in windows) or "(no requests recorded)"
    rtt = round_trip_note(result)
    caption = f"{result.config}: plateau {where}" + (f"; {rtt}" if rtt else "")
    parts = [tables.html_table(tables.GROUP_HEADER, tables.group_rows(tables.group_stats(result, windows)), caption)]
    if slos:
        from scaleperf.analysis import slo as slo_mod

        rows = []
        for s in slos:  # this replicate's own figures; the verdict pools every replicate (verdicts.json)
            value, n = slo_mod.measure(result, s, [w for _, w in slo_mod.judged_windows(result, s)])
            rows.append((s.id, slo_mod.format_value(value, s.unit), str(n)))
        caption = f"SLO metrics of {result.config} r{result.meta.get('replicate', '?')} (the verdicts pool every replicate)"
        parts.append(tables.html_table(("SLO", "measured", "requests"), rows, caption))
    limit = bottleneck.find(result)
    checks = result.checks
    gen = [
        ("limiting tier", limit.sentence),
        ("generator CPU max", tables.fmt(checks.get("gen_cpu_max_pct"), ".0f", " %")),
        ("generator lag p99", tables.fmt(checks.get("lag_p99_ms"), ".1f", " ms")),
        *[
            (f"load worker {wid} CPU max", tables.fmt(pct, ".0f", " %"))
            for wid, pct in checks.get("worker_cpu_max_pct", {}).items()
        ],
        ("generator saturated", "yes: " + "; ".join(checks.get("reasons", [])) if result.generator_saturated else "no"),
        ("run complete", "yes" if result.complete else "no"),
    ]
    parts.append(tables.html_table(("fact", "value"), gen, "Run checks"))
    return "".join(parts)


def extras_for_run(result: RunResult, slos: list | None = None) -> list[dict]:
    """Plots and tables of one run: latency, load, errors, latency distribution, target telemetry."""
    slos = _slos_for(result) if slos is None else slos
    windows = tables.plateau_windows(result)
    window = (windows[0][0], windows[-1][1]) if windows else None
    out = [
        image(plots.latency_over_time(result, slos), "response time over time"),
        image(plots.load_over_time(result), "users and requests/s over time"),
        image(plots.error_rate_over_time(result, slos), "error rate over time"),
        image(plots.latency_cdf(result, window), "response time distribution"),
    ]
    if result.telemetry:
        out.append(image(plots.telemetry(result), "target-side CPU and throttling"))
    out.append(html(run_tables(result, slos)))
    return out


def saturation_table(verdict: SaturationVerdict) -> str:
    rows = [
        (
            s.label,
            str(s.deploy_users),
            str(s.users),
            tables.fmt(s.offered_rps, ".1f"),
            tables.fmt(s.achieved_rps, ".1f"),
            tables.fmt(s.tracking, ".2f"),
            tables.fmt(s.p95_ms),
            tables.fmt(100 * s.error_rate, ".2f", " %"),
            "holds" if s.holds else ("SLO broke: " + ", ".join(s.failed_slos) if not s.slo_ok else "does not track the load"),
        )
        for s in verdict.steps
    ]
    header = (
        "step",
        "users (deployment)",
        "users (local)",
        "offered req/s",
        "achieved req/s",
        "tracking",
        "p95 (ms)",
        "errors",
        "step",
    )
    return tables.html_table(header, rows, verdict.subject)  # the reason is the test's own message, shown once


def extras_for_saturation(verdict: SaturationVerdict, result: RunResult) -> list[dict]:
    """The throughput-and-p95-versus-load plot with the saturation point marked, the steps table, the limit."""
    from scaleperf.report.blocks import Table
    from scaleperf.report.sections import growth_blocks, two_figures

    limit = bottleneck.find(result, verdict)
    rows = [
        ("saturation", verdict.result),
        *(line.split(": ", 1) for line in two_figures(verdict)),
        ("limiting tier", limit.sentence),
    ]
    facts = tables.html_table(("fact", "value"), [tuple(r) for r in rows])
    growth = "".join(
        tables.html_table(b.header, list(b.rows), b.caption) for b in growth_blocks(verdict.config, result, _slos_for(result))
        if isinstance(b, Table)
    )  # fmt: skip
    return [image(plots.saturation(verdict, result), "saturation"), html(saturation_table(verdict) + facts + growth)]


def comparison_table(verdict: ComparisonVerdict) -> str:
    ci = verdict.ratio_ci
    rows = [
        ("claim", verdict.subject),
        ("outcome", f"{verdict.outcome} ({verdict.result})"),
        ("replicates", f"{verdict.a}: {verdict.n_a}, {verdict.b}: {verdict.n_b}"),
        (
            "estimates",
            f"{verdict.a}: {tables.fmt(verdict.estimate_a, '.4g')}, {verdict.b}: {tables.fmt(verdict.estimate_b, '.4g')}",
        ),
        ("ratio a/b", tables.fmt(verdict.ratio, ".3f")),
        (
            f"{verdict.confidence:.4g} CI of the ratio",
            "n/a" if ci is None else f"{tables.fmt(ci[0], '.3f')} to {tables.fmt(ci[1], '.3f')}",
        ),
        ("Mann-Whitney p (family-adjusted)", f"{tables.fmt(verdict.p_value, '.3g')} ({tables.fmt(verdict.p_holm, '.3g')})"),
        ("Cliff's delta", tables.fmt(verdict.cliffs_delta, ".2f")),
        ("Kruskal-Wallis p, all configurations", tables.fmt(verdict.kruskal_p, ".3g")),
        ("minimum detectable effect", tables.fmt(None if verdict.mde is None else 100 * verdict.mde, ".0f", " %")),
        ("replicates needed", "n/a" if verdict.replicates_needed is None else str(verdict.replicates_needed)),
    ]
    if verdict.excluded:
        rows.append(("excluded", "; ".join(verdict.excluded)))
    return tables.html_table(("figure", "value"), rows, verdict.expectation_id)


def extras_for_comparison(verdict: ComparisonVerdict, results: dict[str, list[RunResult]] | None = None) -> list[dict]:
    """The replicates of the two configurations with confidence intervals, and the verdict's figures."""
    out = [image(plots.comparison(verdict), "comparison"), html(comparison_table(verdict))]
    if results:
        firsts = [runs[0] for name, runs in results.items() if runs and name in (verdict.a, verdict.b)]
        if firsts and any(len(r.samples) for r in firsts):
            out.insert(1, image(plots.latency_cdf_by_config(firsts), "response time distributions"))
    return out
