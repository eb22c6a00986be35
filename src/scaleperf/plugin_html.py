"""The pytest-html side of the plugin: the report's name, perf columns, masked secrets, readable skips, and plots.

Registered by :mod:`scaleperf.pytest_plugin` only in a session that selects perf tests, so another project's
pytest-html report is left exactly as pytest-html makes it.
"""

from __future__ import annotations

import html
import itertools
import re
from pathlib import Path

import pytest

PLUGIN_NAME = "scaleperf-html"
REPORT_NAME = "report.html"  # the first session's pytest-html report in the run's directory


def claim_report_path(run_dir: Path, configs: tuple[str, ...]) -> Path:
    """A pytest-html file name in ``run_dir`` that no other session of the run has: ``report.html`` for the
    first, ``report-<configs>.html`` for a later one (sessions sharing ``SCALEPERF_RUN_ID``, e.g. one tox
    environment per configuration), ``report-<configs>-2.html`` and on after that.

    The name is claimed by creating the file (empty until pytest-html writes it at the end of the session),
    so sessions starting together never share one.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    stem = "report-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(configs)) or "all")
    names = itertools.chain((REPORT_NAME, f"{stem}.html"), (f"{stem}-{n}.html" for n in itertools.count(2)))
    while True:
        path = run_dir / next(names)
        try:
            with open(path, "x"):
                return path
        except FileExistsError:
            continue


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(2, "<th>Configuration</th>")
    cells.insert(3, "<th>p95 (ms)</th>")
    cells.insert(4, "<th>Error rate</th>")
    cells.insert(5, "<th>Verdict</th>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells: list[str]) -> None:
    from scaleperf.report.redact import scrub_text

    props = dict(getattr(report, "user_properties", []))
    p95 = props.get("p95_ms")
    err = props.get("error_rate")
    cells.insert(2, f"<td>{props.get('config', '')}</td>")
    cells.insert(3, f"<td>{'' if p95 is None else f'{p95:.1f}'}</td>")
    cells.insert(4, f"<td>{'' if err is None else f'{err:.2%}'}</td>")
    cells.insert(5, f"<td>{props.get('verdict', '')}</td>")
    cells[:] = [scrub_text(cell) for cell in cells]


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report, data: list[str]) -> None:
    """A test's failure text and captured output, as the HTML report shows them, with secrets masked.

    A skip's reason is shown as text (pytest keeps it as a ``(file, line, reason)`` tuple, which pytest-html
    would print as a Python tuple).
    """
    from scaleperf.report.redact import scrub_text

    reason = skip_reason(report)
    if reason is not None and data:
        data[0] = html.escape(reason) + "\n"
    data[:] = [html.escape(scrub_text(html.unescape(text))) for text in data]


def skip_reason(report) -> str | None:
    """``Skipped: why (file:line)`` for a skipped test's report; None for any other report."""
    longrepr = getattr(report, "longrepr", None)
    if not getattr(report, "skipped", False) or not (isinstance(longrepr, tuple) and len(longrepr) == 3):
        return None
    path, line, message = longrepr
    return f"{message} ({path}:{line})" if line is not None else f"{message} ({path})"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Mask secrets in the environment table of the HTML report (pytest-html reads it after this)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = session.config.stash.get(metadata_key, None)
    if metadata:
        from scaleperf.report.redact import scrub

        metadata.update(scrub(dict(metadata)))  # type: ignore[arg-type]


class PerfExtras:
    """Attaches a perf test's plots and tables to its row of the pytest-html report."""

    def __init__(self, extras: list, slos: list | None = None) -> None:
        self._extras = extras
        self._slos = slos

    def run(self, result) -> None:
        from scaleperf.report import extras as report_extras

        self._extras.extend(report_extras.extras_for_run(result, self._slos))

    def verdict(self, verdict) -> None:
        """A one-line verdict (outcome and reason) in the row."""
        from scaleperf.report import extras as report_extras

        line = f"<p><b>{html.escape(verdict.outcome)}</b>: {html.escape(verdict.reason)}</p>"
        self._extras.append(report_extras.html(line))  # secrets masked there

    def saturation(self, verdict, result) -> None:
        from scaleperf.report import extras as report_extras

        self._extras.extend(report_extras.extras_for_saturation(verdict, result))

    def comparison(self, verdict, results_by_config) -> None:
        from scaleperf.report import extras as report_extras

        self._extras.extend(report_extras.extras_for_comparison(verdict, results_by_config))


@pytest.fixture
def perf_extras(extras) -> PerfExtras:
    """Plots and tables for this test's row in the HTML report (``extras`` is pytest-html's fixture)."""
    return PerfExtras(extras)
