"""The Load Testing Results document, rebuilt from a results directory on disk alone.

``build(results_dir, run_id)`` reads every stored run of one campaign and the run's verdicts
(:func:`scaleperf.report.store.ensure`: the ones the perf tests and the session summary read, judged once)
and writes, in the run's directory:

* ``results.md``: Markdown, its figures as PNG files in ``figures/`` beside it;
* ``results.html``: one self-contained HTML file, the same figures embedded as ``data:image/png;base64``.

The document links the pytest-html reports the run's sessions wrote beside it.  Sections follow the
assignment's "What you will turn in": :mod:`~scaleperf.report.overview` (the run and the methodology),
:mod:`~scaleperf.report.sections` (per configuration, then side by side); :mod:`~scaleperf.report.render`
turns the blocks into Markdown and HTML with Jinja2.  Every text passes through :mod:`scaleperf.report.redact`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from scaleperf import results as results_mod
from scaleperf.analysis import session
from scaleperf.analysis.verdict import ComparisonVerdict, SaturationVerdict, SloVerdict, Verdict
from scaleperf.errors import ScaleperfError
from scaleperf.report import store
from scaleperf.report.blocks import Block, Bullets, Heading, Image, Links, Para, Table  # noqa: F401  (the document's vocabulary)
from scaleperf.report.overview import header_blocks, methodology_section, session_reports  # noqa: F401
from scaleperf.report.render import to_html, to_markdown
from scaleperf.report.sections import comparison_section, conclusions, configuration_section  # noqa: F401
from scaleperf.results import RunResult

log = logging.getLogger(__name__)

MARKDOWN_NAME = "results.md"  # file names written in the run's directory
HTML_NAME = "results.html"
FIGURES_DIR = "figures"  # PNGs the Markdown links to, beside it


@dataclass(frozen=True)
class Analysis:
    """What the document shows of the run's verdicts, by kind."""

    provider: str
    slos: list
    saturation: dict[str, SaturationVerdict | None]
    comparisons: list[ComparisonVerdict]
    slo_verdicts: dict[str, list[SloVerdict]] = field(default_factory=dict)


def from_verdicts(runs: dict[str, list[RunResult]], inputs: session.Inputs, verdicts: list[Verdict]) -> Analysis:
    slo_verdicts: dict[str, list[SloVerdict]] = {}
    saturation: dict[str, SaturationVerdict | None] = {name: None for name in runs}
    for v in verdicts:
        if isinstance(v, SloVerdict):
            slo_verdicts.setdefault(v.config, []).append(v)
        elif isinstance(v, SaturationVerdict):
            saturation[v.config] = v
    comparisons = [v for v in verdicts if isinstance(v, ComparisonVerdict)]
    return Analysis(inputs.provider, list(inputs.slos), saturation, comparisons, slo_verdicts)


def analyse(runs: dict[str, list[RunResult]]) -> Analysis:
    """The verdicts of ``runs`` judged in memory, by the same function the stored verdicts come from."""
    inputs = store.inputs_for(runs)
    return from_verdicts(runs, inputs, session.judge(runs, inputs))


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


def load_runs(results_dir: Path, run_id: str) -> dict[str, list[RunResult]]:
    """Every stored replicate of ``run_id``, by configuration (configurations in configs.toml order)."""
    runs = store.load_runs(Path(results_dir) / run_id)
    if not runs:
        raise ScaleperfError(f"{Path(results_dir) / run_id}: no stored runs in it; run the perf tests first")
    return runs


def blocks_for(run_id: str, runs: dict[str, list[RunResult]], analysis: Analysis, run_dir: Path | None = None) -> list[Block]:
    blocks = header_blocks(run_id, runs, analysis, run_dir)
    blocks += methodology_section(runs, analysis)
    blocks.append(Heading(2, "Load Test Results"))
    for name, replicates in runs.items():
        blocks += configuration_section(name, replicates, analysis)
    blocks += comparison_section(runs, analysis)
    return blocks


def build(results_dir: Path | str, run_id: str | None = None, *, accept_unlimited: bool | None = None) -> tuple[Path, Path]:
    """Write ``results.md`` (+ ``figures/``) and ``results.html`` for one run from its stored verdicts; returns their paths."""
    results_dir, run_id = _resolve(Path(results_dir), run_id)
    runs = load_runs(results_dir, run_id)
    out = results_dir / run_id
    stored = store.ensure(out, accept_unlimited=accept_unlimited, runs=runs)
    inputs = store.inputs_for(
        runs, accept_unlimited=bool(stored.inputs.get("accept_unlimited")), provider=stored.inputs.get("provider")
    )
    analysis = from_verdicts(runs, inputs, list(stored.verdicts))
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
