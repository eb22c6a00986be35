"""The Load Testing Results document, rebuilt from a results directory on disk alone.

``build(results_dir, run_id)`` reads every stored run of one campaign, judges them with the analysis
modules (SLOs, saturation, comparisons) and writes, in the run's directory:

* ``results.md``: Markdown, its figures as PNG files in ``figures/`` beside it;
* ``results.html``: one self-contained HTML file, the same figures embedded as ``data:image/png;base64``.

The document links the pytest-html reports the run's sessions wrote beside it (``report.html``, and
``report-<configs>.html`` for each further session sharing the run id).

Sections follow the assignment's "What you will turn in": the methodology (from the locustfile and the
profile), then per configuration what it is, its plots, a statistics table per endpoint group, the
saturation point and the tier that limited it, then the configurations side by side with the comparison
verdicts and conclusions phrased from them.  Every text passes through :mod:`scaleperf.report.redact`.
"""

from __future__ import annotations

import base64
import html
import logging
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from scaleperf import docmarkup
from scaleperf import results as results_mod
from scaleperf.analysis.verdict import (
    BETTER,
    NO_DIFFERENCE,
    NO_MEANINGFUL_DIFFERENCE,
    NOT_ENOUGH_DATA,
    REFUSED,
    SAT_NOT_REACHED,
    SAT_RANGE,
    WORSE,
    ComparisonVerdict,
    SaturationVerdict,
)
from scaleperf.errors import ScaleperfError
from scaleperf.report import bottleneck, describe, extras, methodology, plots, tables
from scaleperf.report.redact import scrub_text
from scaleperf.results import RunResult

log = logging.getLogger(__name__)

MARKDOWN_NAME = "results.md"  # file names written in the run's directory
HTML_NAME = "results.html"
FIGURES_DIR = "figures"  # PNGs the Markdown links to, beside it
SESSION_REPORTS = "report*.html"  # pytest-html reports of the sessions that wrote the run, beside the document
# How each comparison result reads between the two configurations' names.
RESULT_PHRASES = {
    BETTER: "is better than",
    WORSE: "is worse than",
    NO_DIFFERENCE: "shows no detectable difference from",
    NO_MEANINGFUL_DIFFERENCE: "differs by less than the practical margin from",
    NOT_ENOUGH_DATA: "has too few usable replicates to compare with",
    REFUSED: "cannot be compared with",
}
MODULE_DOC_PARAGRAPHS = 4  # leading paragraphs of the locustfile's docstring quoted as the overview
HOW_READ = {"locust": "as Locust loads it", "ast": "read as source: Locust was not importable"}
CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } caption { text-align: left; font-style: italic; padding: .3em 0; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; } figcaption { font-size: .85em; color: #555; }
pre { background: #f6f6f6; padding: .6em; white-space: pre-wrap; }
"""


# ------------------------------------------------------------------------------------------ blocks
@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Links:
    """Files beside the document, linked by their relative path: (text, href) pairs."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""  # one line per caption line


@dataclass(frozen=True)
class Image:
    name: str  # file name stem, unique in the document
    png: bytes
    caption: str


Block = Heading | Para | Bullets | Links | Table | Image


def _image(name: str, fig: Figure, caption: str) -> Image:
    return Image(name=name, png=plots.png(fig), caption=caption)


def _join(*sentences: str) -> str:
    """The non-empty ``sentences`` as one line (a figure's caption), each ending in a full stop."""
    return " ".join(s if s.endswith(".") else s + "." for s in sentences if s)


def _caption(*lines: str) -> str:
    """A caption of the non-empty ``lines``, one line each."""
    return "\n".join(line for line in lines if line)


def _round_trip(runs: list[RunResult]) -> str:
    """The round trip to the target the latencies of ``runs`` include, one configuration after another."""
    notes = [(r.config, extras.round_trip_note(r)) for r in runs]
    notes = [(config, note) for config, note in notes if note]
    if not notes:
        return ""
    if len(runs) == 1:
        return f"Included in every response time: {notes[0][1]}"
    return "Included in every response time: " + "; ".join(f"{config}, {note}" for config, note in notes)


# ------------------------------------------------------------------------------------------ loading
def _resolve(results_dir: Path, run_id: str | None) -> tuple[Path, str]:
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ScaleperfError(f"{results_dir}: no such results directory; pass the folder the runs were written to")
    if run_id is None and any(results_dir.glob("*/r*/meta.json")):
        return results_dir.parent, results_dir.name
    if run_id is None:
        runs = sorted({s.run_id for s in results_mod.find_runs(results_dir)}, key=lambda r: (results_dir / r).stat().st_mtime)
        if not runs:
            raise ScaleperfError(
                f"{results_dir}: no stored runs (expected <run-id>/<config>/r<n>/meta.json); run the perf tests first"
            )
        return results_dir, runs[-1]
    if not (results_dir / run_id).is_dir():
        raise ScaleperfError(f"{results_dir / run_id}: no such run; see the run ids under {results_dir}")
    return results_dir, run_id


def _config_order(names: set[str]) -> list[str]:
    try:
        from scaleperf.configs import load_configs

        known = list(load_configs())
    except ScaleperfError:
        known = []
    return [n for n in known if n in names] + sorted(names - set(known))


def load_runs(results_dir: Path, run_id: str) -> dict[str, list[RunResult]]:
    """Every stored replicate of ``run_id``, by configuration (configurations in configs.toml order)."""
    by_config: dict[str, list[RunResult]] = {}
    for stored in results_mod.find_runs(results_dir, run_id):
        result = results_mod.load(stored.path)
        if "config" not in result.meta:
            result = RunResult(**{**result.__dict__, "meta": {**result.meta, "config": stored.config}})
        by_config.setdefault(stored.config, []).append(result)
    if not by_config:
        raise ScaleperfError(f"{results_dir / run_id}: no stored runs in it; run the perf tests first")
    return {name: by_config[name] for name in _config_order(set(by_config))}


def _main_run(runs: list[RunResult]) -> RunResult:
    """The replicate a configuration's plots show: the first complete one, else the first."""
    return next((r for r in runs if r.complete), runs[0])


# ---------------------------------------------------------------------------------------- analysis
@dataclass(frozen=True)
class Analysis:
    provider: str
    slos: list
    saturation: dict[str, SaturationVerdict | None]
    comparisons: list[ComparisonVerdict]


def analyse(runs: dict[str, list[RunResult]]) -> Analysis:
    from scaleperf.analysis import compare, saturation, slo

    first = _main_run(next(iter(runs.values())))
    provider = describe.provider_of(first)
    try:
        slos = slo.load_slos(None, provider)
    except ScaleperfError as exc:
        log.warning("no SLOs for provider %s: %s", provider, exc)
        slos = []
    sat: dict[str, SaturationVerdict | None] = {}
    for name, replicates in runs.items():
        main = _main_run(replicates)
        if not any(p.kind.startswith("step") for p in main.phases):
            sat[name] = None
            continue
        try:
            minimum = slo.saturation_minimum(None, provider, name)
        except ScaleperfError:
            minimum = None
        sat[name] = saturation.find(main, slos, minimum_users=minimum)
    try:
        expectations = [e for e in compare.load_expectations(None) if e.a in runs and e.b in runs]
    except ScaleperfError as exc:
        log.warning("no comparisons: %s", exc)
        expectations = []
    comparisons = compare.compare(runs, expectations) if expectations else []
    return Analysis(provider=provider, slos=slos, saturation=sat, comparisons=comparisons)


# ---------------------------------------------------------------------------------------- sections
def methodology_section(runs: dict[str, list[RunResult]], analysis: Analysis) -> list[Block]:
    first = _main_run(next(iter(runs.values())))
    blocks: list[Block] = [Heading(2, "Load Test")]
    locustfile = first.meta.get("locustfile")
    env = first.meta.get("locust_env") if isinstance(first.meta.get("locust_env"), dict) else None
    try:
        facts = methodology.read_locustfile(locustfile, env)
    except ScaleperfError as exc:
        blocks.append(Para(f"The locustfile could not be read: {exc}"))
        facts = None
    if facts is not None:
        blocks.append(Heading(3, "User personas"))
        blocks.append(Para(f"From the locustfile `{facts.path.name}` ({HOW_READ.get(facts.source, facts.source)})."))
        blocks += _doc_blocks(facts.doc)[:MODULE_DOC_PARAGRAPHS]
        total = sum(p.weight for p in facts.personas) or 1
        rows = []
        for p in facts.personas:
            settings = next(iter(p.settings.values()), {}) if p.settings else {}
            think = settings.get("think_s") if isinstance(settings, dict) else None
            actions = settings.get("actions") if isinstance(settings, dict) else None
            mix = ", ".join(f"{k} x{v}" for k, v in (actions or {}).items()) or ", ".join(f"{k} x{v}" for k, v in p.tasks.items())
            rows.append(
                (
                    p.name,
                    str(p.weight),
                    f"{100 * p.weight / total:.0f} %",
                    f"{think[0]:g}-{think[1]:g} s" if think else (p.wait or "n/a"),
                    mix or "n/a",
                )
            )
        blocks.append(Table(("persona", "weight", "share of arrivals", "think time", "tasks (relative weight)"), tuple(rows)))
        for p in facts.personas:
            blocks.append(Heading(4, p.name))
            blocks += _doc_blocks(p.doc) or [Para("(no docstring)")]
            docs = p.action_docs or {k: v for k, v in p.task_docs.items() if v}
            if docs:
                blocks.append(Bullets(tuple(f"`{k}`: {docmarkup.plain(v).splitlines()[0]}" for k, v in docs.items() if v)))
    blocks.append(Heading(3, "How the load grows"))
    name, description, raw, recorded = methodology.recorded_profile(first.meta)
    items = (
        methodology.describe_phases(raw)
        if raw
        else [f"{p.label}: {p.deploy_users} users from {p.start_s:.0f} to {p.end_s:.0f} s" for p in first.phases]
    )
    source = "" if recorded or not raw else " (the run recorded no phases: these are today's, from fixtures/profiles.toml)"
    blocks.append(Para(f"Profile `{name}`{': ' + description if description else ''}{source}. In deployment-scale users:"))
    blocks.append(Bullets(tuple(items)))
    scales = sorted({r.scale for rs in runs.values() for r in rs})
    if scales != [1.0]:
        blocks.append(
            Para(
                "The local miniature runs the profile at load scale "
                + ", ".join(f"{s:g}" for s in scales)
                + " (local users = deployment users x scale, at least 1); every plot and table gives deployment-scale users."
            )
        )
    blocks.append(Heading(3, "Service-level objectives"))
    if analysis.slos:
        blocks.append(Table(("SLO", "threshold"), tuple((s.key, s.text) for s in analysis.slos), f"provider {analysis.provider}"))
    else:
        blocks.append(Para(f"No SLOs are declared for provider {analysis.provider}."))
    blocks.append(Heading(3, "Statistical method"))
    blocks.append(Bullets(tuple(methodology.statistical_method())))
    return blocks


def _doc_blocks(doc: str) -> list[Block]:
    """A docstring as paragraphs, its ``* item`` / ``- item`` lists as bullets."""
    out: list[Block] = []
    for para in docmarkup.plain(doc.strip()).split("\n\n"):
        lines = [line.strip() for line in para.splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].startswith(("* ", "- ")):
            items: list[str] = []
            for line in lines:
                if line.startswith(("* ", "- ")):
                    items.append(line[2:])
                elif items:
                    items[-1] += " " + line
            out.append(Bullets(tuple(items)))
        else:
            out.append(Para(" ".join(lines)))
    return out


def _saturation_text(v: SaturationVerdict | None) -> str:
    if v is None:
        return "not measured (the profile has no load steps)"
    if v.result == SAT_RANGE and v.users_range:
        return f"between {v.users_range[0]:.0f} and {v.users_range[1]:.0f} users ({v.outcome})"
    if v.users is not None:
        prefix = "above " if v.result == SAT_NOT_REACHED else ""
        return f"{prefix}{v.users} users ({v.result}, {v.outcome})"
    return v.result if v.result == v.outcome else f"{v.result} ({v.outcome})"


def _saturation_users(v: SaturationVerdict | None) -> float | None:
    if v is None:
        return None
    if v.result == SAT_RANGE and v.users_range:
        return (v.users_range[0] + v.users_range[1]) / 2
    return float(v.users) if v.users is not None else None


def configuration_section(name: str, replicates: list[RunResult], analysis: Analysis) -> list[Block]:
    from scaleperf.analysis import slo as slo_mod

    main = _main_run(replicates)
    blocks: list[Block] = [Heading(3, name)]
    blocks.append(Table(("fact", "value"), tuple(describe.facts(main)), "What it is"))
    stem = f"{name}-r{main.meta.get('replicate', 0)}"
    windows = tables.plateau_windows(main)
    window = (windows[0][0], windows[-1][1]) if windows else None
    rtt = _round_trip([main])
    blocks.append(
        _image(
            f"{stem}-latency",
            plots.latency_over_time(main, analysis.slos),
            _join("Response time percentiles per second, SLO thresholds dashed.", rtt),
        )
    )
    blocks.append(_image(f"{stem}-load", plots.load_over_time(main), "Users offered and requests served per second."))
    blocks.append(
        _image(f"{stem}-errors", plots.error_rate_over_time(main, analysis.slos), "Failed requests per second, in percent.")
    )
    blocks.append(
        _image(
            f"{stem}-cdf",
            plots.latency_cdf(main, window),
            _join("Distribution of response times on the plateau, per endpoint group.", rtt),
        )
    )
    if main.telemetry:
        blocks.append(_image(f"{stem}-telemetry", plots.telemetry(main), "Target-side CPU and throttling per component."))
    where = ", ".join(f"{a:.0f}-{b:.0f} s" for a, b in windows) or "(no requests recorded)"
    blocks.append(
        Table(
            tables.GROUP_HEADER,
            tuple(tables.group_rows(tables.group_stats(main, windows))),
            _caption(f"Statistics per endpoint group, plateau {where}", rtt),
        )
    )
    if analysis.slos:
        verdicts = slo_mod.evaluate(main, analysis.slos)
        rows = tuple((v.slo_id, slo_mod.format_value(v.measured, v.unit), v.outcome) for v in verdicts)
        blocks.append(Table(("SLO", "measured", "verdict"), rows, _caption("SLO verdicts on the plateau", rtt)))
    sat = analysis.saturation.get(name)
    limit = bottleneck.find(main, sat)
    if sat is not None:
        blocks.append(
            _image(
                f"{stem}-saturation", plots.saturation(sat, main), "Throughput and p95 against load, the saturation point marked."
            )
        )
    blocks.append(
        Bullets(
            (
                f"Saturation point: {_saturation_text(sat)}" + (f": {sat.reason}" if sat is not None else ""),
                f"Limiting tier: {limit.sentence}.",
            )
        )
    )
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


def comparison_section(runs: dict[str, list[RunResult]], analysis: Analysis) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Across configurations")]
    rows, bars = [], []
    for name, replicates in runs.items():
        main = _main_run(replicates)
        overall = tables.group_stats(main)[0]
        sat = analysis.saturation.get(name)
        facts = dict(describe.facts(main))
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
                _saturation_text(sat),
                bottleneck.find(main, sat).tier or ("none CPU-bound" if main.telemetry else "unknown"),
            )
        )
        bars.append({"config": name, "p95_ms": overall.p95_ms, "saturation_users": _saturation_users(sat)})
    header = (
        "configuration",
        "app",
        "database",
        "replicates",
        "req/s",
        "p50 (ms)",
        "p95 (ms)",
        "p99 (ms)",
        "errors",
        "saturation",
        "limiting tier",
    )
    mains = [_main_run(r) for r in runs.values()]
    rtt = _round_trip(mains)
    blocks.append(Table(header, tuple(rows), _caption("Side by side (plateau of the first complete replicate)", rtt)))
    blocks.append(
        _image(
            "configurations",
            plots.configurations_side_by_side(bars),
            _join("p95 on the plateau and saturation point per configuration.", rtt),
        )
    )
    blocks.append(
        _image(
            "configurations-cdf",
            plots.latency_cdf_by_config(mains),
            _join("Response time distributions per configuration.", rtt),
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
                    "n/a" if ci is None else f"{tables.fmt(ci[0], '.3f')}-{tables.fmt(ci[1], '.3f')}",
                    tables.fmt(v.p_value, ".3g"),
                    tables.fmt(v.p_holm, ".3g"),
                    tables.fmt(v.cliffs_delta, ".2f"),
                )
            )
        chead = ("claim", "verdict", "data say", "replicates", "ratio a/b", "95 % CI", "p", "p (Holm)", "Cliff's delta")
        blocks.append(Table(chead, tuple(crow)))
        for v in analysis.comparisons:
            blocks.append(_image(f"compare-{v.expectation_id}", plots.comparison(v), v.reason))
    blocks.append(Heading(3, "Conclusions"))
    blocks.append(Bullets(tuple(conclusions(runs, analysis)) or ("No verdicts to conclude from.",)))
    return blocks


def conclusions(runs: dict[str, list[RunResult]], analysis: Analysis) -> list[str]:
    """Sentences phrased from the verdicts: capacity ratios from saturation, then each comparison."""
    out: list[str] = []
    slo_text = " and ".join(f"{s.key} {s.text}" for s in analysis.slos if s.latency and s.group == "polls") or "the SLOs"
    measured = {n: _saturation_users(v) for n, v in analysis.saturation.items() if _saturation_users(v)}
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
        ci = v.ratio_ci
        detail = (
            f"ratio {tables.fmt(v.ratio, '.2f')}"
            + ("" if ci is None else f" ({v.confidence:.0%} CI {tables.fmt(ci[0], '.2f')}-{tables.fmt(ci[1], '.2f')})")
            + f", Holm p {tables.fmt(v.p_holm, '.2g')}, Cliff's delta {tables.fmt(v.cliffs_delta, '.2f')}"
        )
        word = {"pass": "holds", "fail": "does not hold", "inconclusive": "is not settled"}.get(v.outcome, v.outcome)
        needed = (
            f"; {v.replicates_needed} replicates per configuration would settle it"
            if v.outcome == "inconclusive" and v.replicates_needed
            else ""
        )
        phrase = RESULT_PHRASES.get(v.result, f"is {v.result} against")
        out.append(f"The expectation \u201c{v.subject}\u201d {word}: {v.a} {phrase} {v.b} ({detail}){needed}.")
    return out


# ---------------------------------------------------------------------------------------- rendering
def to_markdown(blocks: list[Block], figures_dir: str) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append("#" * b.level + " " + scrub_text(b.text))
        elif isinstance(b, Para):
            parts.append(scrub_text(b.text))
        elif isinstance(b, Bullets):
            parts.append("\n".join(f"- {scrub_text(i)}" for i in b.items))
        elif isinstance(b, Links):
            parts.append("\n".join(f"- [{scrub_text(text)}]({href})" for text, href in b.items))
        elif isinstance(b, Table):
            caption = "".join(f"*{scrub_text(line)}*\n\n" for line in b.caption.splitlines())
            parts.append(caption + tables.markdown(b.header, list(b.rows)))
        elif isinstance(b, Image):
            parts.append(f"![{scrub_text(b.caption)}]({figures_dir}/{b.name}.png)")
    return "\n\n".join(parts) + "\n"


def _inline_code(text: str) -> str:
    """Escape ``text`` for HTML, turning `backticks` into <code>."""
    pieces = html.escape(scrub_text(text)).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def to_html(blocks: list[Block], title: str) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append(f"<h{b.level}>{_inline_code(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            parts.append(f"<p>{_inline_code(b.text)}</p>")
        elif isinstance(b, Bullets):
            parts.append("<ul>" + "".join(f"<li>{_inline_code(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Links):
            items = (f'<li><a href="{html.escape(href, quote=True)}">{_inline_code(text)}</a></li>' for text, href in b.items)
            parts.append("<ul>" + "".join(items) + "</ul>")
        elif isinstance(b, Table):
            parts.append(tables.html_table(b.header, list(b.rows), b.caption))
        elif isinstance(b, Image):
            data = base64.b64encode(b.png).decode("ascii")
            alt = html.escape(scrub_text(b.caption), quote=True)
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>')
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(scrub_text(title))}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _commit(meta: dict) -> str:
    commit = str(meta.get("git_commit") or meta.get("git") or "n/a")[:12]
    dirty = meta.get("git_dirty")
    if dirty is None:  # not recorded, or git could not tell
        return commit
    return commit + (" with uncommitted changes" if dirty else " (no uncommitted changes)")


def _software(meta: dict) -> str:
    """What a run ran on: the versions it recorded and its commit, e.g. "Locust 2.47.0, gevent 26.9.0, ...; commit ..."."""
    versions = dict(meta.get("versions") or {})
    versions.setdefault("locust", meta.get("locust_version"))
    shown = ", ".join(f"{name} {version}" for name, version in versions.items() if version) or "versions not recorded"
    python = f", Python {meta['python_version']}" if meta.get("python_version") else ""
    return f"{shown}{python}; commit {_commit(meta)}"


def session_reports(run_dir: Path) -> list[Path]:
    """The pytest-html reports beside the document (``report.html`` first, then the later sessions')."""
    return sorted(run_dir.glob(SESSION_REPORTS), key=lambda p: (p.name != "report.html", p.name))


def header_blocks(run_id: str, runs: dict[str, list[RunResult]], analysis: Analysis, run_dir: Path | None = None) -> list[Block]:
    first = _main_run(next(iter(runs.values())))
    blocks: list[Block] = [
        Heading(1, f"Load Testing Results: run {run_id}"),
        Para(
            f"Provider {analysis.provider}; {len(runs)} configuration{'s' if len(runs) != 1 else ''}, "
            f"{sum(len(r) for r in runs.values())} runs; started {first.meta.get('started_at', 'n/a')}."
        ),
    ]
    software = {name: list(dict.fromkeys(_software(r.meta) for r in replicates)) for name, replicates in runs.items()}
    distinct = {text for texts in software.values() for text in texts}
    if len(distinct) == 1:
        blocks.append(Para(f"Software: {distinct.pop()}."))
    else:
        blocks.append(Para("The runs did not all use the same software:"))
        blocks.append(Bullets(tuple(f"{name}: {' / '.join(texts)}" for name, texts in software.items())))
    reports = session_reports(run_dir) if run_dir is not None else []
    if reports:
        blocks.append(Para("The pytest-html reports of the sessions that wrote this run, beside this document:"))
        blocks.append(Links(tuple((p.name, p.name) for p in reports)))
    return blocks


def blocks_for(run_id: str, runs: dict[str, list[RunResult]], analysis: Analysis, run_dir: Path | None = None) -> list[Block]:
    blocks = header_blocks(run_id, runs, analysis, run_dir)
    blocks += methodology_section(runs, analysis)
    blocks.append(Heading(2, "Load Test Results"))
    for name, replicates in runs.items():
        blocks += configuration_section(name, replicates, analysis)
    blocks += comparison_section(runs, analysis)
    return blocks


def build(results_dir: Path | str, run_id: str | None = None) -> tuple[Path, Path]:
    """Write ``results.md`` (+ ``figures/``) and ``results.html`` for one run; returns their paths."""
    results_dir, run_id = _resolve(Path(results_dir), run_id)
    runs = load_runs(results_dir, run_id)
    analysis = analyse(runs)
    out = results_dir / run_id
    blocks = blocks_for(run_id, runs, analysis, out)
    figures = out / FIGURES_DIR
    figures.mkdir(exist_ok=True)
    for b in blocks:
        if isinstance(b, Image):
            (figures / f"{b.name}.png").write_bytes(b.png)
    md_path, html_path = out / MARKDOWN_NAME, out / HTML_NAME
    md_path.write_text(to_markdown(blocks, FIGURES_DIR))
    html_path.write_text(to_html(blocks, f"Load Testing Results: run {run_id}"))
    log.info("results document written: %s, %s", md_path, html_path)
    return md_path, html_path
