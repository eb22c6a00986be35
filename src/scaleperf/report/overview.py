"""The results document's opening: the run, the software it ran, the session reports, and the methodology
(personas from the locustfile, how the load grows, the SLOs, the statistical method)."""

from __future__ import annotations

from pathlib import Path

from scaleperf import docmarkup
from scaleperf.errors import ScaleperfError
from scaleperf.report import methodology
from scaleperf.report.blocks import Block, Bullets, Heading, Links, Para, Table, doc_blocks
from scaleperf.results import RunResult

SESSION_REPORTS = "report*.html"  # pytest-html reports of the sessions that wrote the run, beside the document
MODULE_DOC_PARAGRAPHS = 4  # leading paragraphs of the locustfile's docstring quoted as the overview
HOW_READ = {"locust": "as Locust loads it", "ast": "read as source: Locust was not importable"}


def main_run(runs: list[RunResult]) -> RunResult:
    """The replicate a configuration's plots show: the first complete one, else the first."""
    return next((r for r in runs if r.complete), runs[0])


def _commit(meta: dict) -> str:
    commit = str(meta.get("git_commit") or meta.get("git") or "n/a")[:12]
    dirty = meta.get("git_dirty")
    if dirty is None:  # not recorded, or git could not tell
        return commit
    return commit + (" with uncommitted changes" if dirty else " (no uncommitted changes)")


def software(meta: dict) -> str:
    """What a run ran on: the versions it recorded and its commit, e.g. "Locust 2.47.0, gevent 26.9.0, ...; commit ..."."""
    versions = dict(meta.get("versions") or {})
    versions.setdefault("locust", meta.get("locust_version"))
    shown = ", ".join(f"{name} {version}" for name, version in versions.items() if version) or "versions not recorded"
    python = f", Python {meta['python_version']}" if meta.get("python_version") else ""
    return f"{shown}{python}; commit {_commit(meta)}"


def session_reports(run_dir: Path) -> list[Path]:
    """The pytest-html reports beside the document (``report.html`` first, then the later sessions')."""
    return sorted(run_dir.glob(SESSION_REPORTS), key=lambda p: (p.name != "report.html", p.name))


def header_blocks(run_id: str, runs: dict[str, list[RunResult]], analysis, run_dir: Path | None = None) -> list[Block]:
    first = main_run(next(iter(runs.values())))
    blocks: list[Block] = [
        Heading(1, f"Load Testing Results: run {run_id}"),
        Para(
            f"Provider {analysis.provider}; {len(runs)} configuration{'s' if len(runs) != 1 else ''}, "
            f"{sum(len(r) for r in runs.values())} runs; started {first.meta.get('started_at', 'n/a')}."
        ),
    ]
    shown = {name: list(dict.fromkeys(software(r.meta) for r in replicates)) for name, replicates in runs.items()}
    distinct = {text for texts in shown.values() for text in texts}
    if len(distinct) == 1:
        blocks.append(Para(f"Software: {distinct.pop()}."))
    else:
        blocks.append(Para("The runs did not all use the same software:"))
        blocks.append(Bullets(tuple(f"{name}: {' / '.join(texts)}" for name, texts in shown.items())))
    reports = session_reports(run_dir) if run_dir is not None else []
    if reports:
        blocks.append(Para("The pytest-html reports of the sessions that wrote this run, beside this document:"))
        blocks.append(Links(tuple((p.name, p.name) for p in reports)))
    return blocks


def _personas(facts) -> list[Block]:
    blocks: list[Block] = [Heading(3, "User personas")]
    blocks.append(Para(f"From the locustfile `{facts.path.name}` ({HOW_READ.get(facts.source, facts.source)})."))
    blocks += doc_blocks(facts.doc)[:MODULE_DOC_PARAGRAPHS]
    total = sum(p.weight for p in facts.personas) or 1
    rows = []
    for p in facts.personas:
        settings = next(iter(p.settings.values()), {}) if p.settings else {}
        think = settings.get("think_s") if isinstance(settings, dict) else None
        actions = settings.get("actions") if isinstance(settings, dict) else None
        mix = ", ".join(f"{k} x{v}" for k, v in (actions or {}).items()) or ", ".join(f"{k} x{v}" for k, v in p.tasks.items())
        think_text = f"{think[0]:g}-{think[1]:g} s" if think else (p.wait or "n/a")
        rows.append((p.name, str(p.weight), f"{100 * p.weight / total:.0f} %", think_text, mix or "n/a"))
    blocks.append(Table(("persona", "weight", "share of arrivals", "think time", "tasks (relative weight)"), tuple(rows)))
    for p in facts.personas:
        blocks.append(Heading(4, p.name))
        blocks += doc_blocks(p.doc) or [Para("(no docstring)")]
        docs = p.action_docs or {k: v for k, v in p.task_docs.items() if v}
        if docs:
            blocks.append(Bullets(tuple(f"`{k}`: {docmarkup.plain(v).splitlines()[0]}" for k, v in docs.items() if v)))
    return blocks


def methodology_section(runs: dict[str, list[RunResult]], analysis) -> list[Block]:
    first = main_run(next(iter(runs.values())))
    blocks: list[Block] = [Heading(2, "Load Test")]
    locustfile = first.meta.get("locustfile")
    env = first.meta.get("locust_env") if isinstance(first.meta.get("locust_env"), dict) else None
    try:
        facts = methodology.read_locustfile(locustfile, env)
    except ScaleperfError as exc:
        blocks.append(Para(f"The locustfile could not be read: {exc}"))
        facts = None
    if facts is not None:
        blocks += _personas(facts)
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
    short = [f"{r.config} r{r.meta.get('replicate', '?')}" for rs in runs.values() for r in rs if r.meta.get("left_out")]
    if short:
        blocks.append(
            Para(
                f"{len(short)} of {sum(len(rs) for rs in runs.values())} runs stopped after the plateau ({', '.join(short)}): "
                "rounds of `--replicates auto` after the first run the load steps only where a throughput comparison "
                "still reads them."
            )
        )
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
