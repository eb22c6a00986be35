"""Docstrings quoted in the results document read as text, without Sphinx markup."""

from __future__ import annotations

import ast
from pathlib import Path

from scaleperf import docmarkup
from scaleperf.report import blocks as report_blocks
from scaleperf.report import overview

LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfiles" / "helpdesk.py"


def test_roles_become_code_spans_of_the_name():
    text = "Weights live in :data:`PERSONAS`; see :class:`~scaleperf.results.RunResult` and :py:func:`run`."
    assert docmarkup.plain(text) == "Weights live in `PERSONAS`; see `RunResult` and `run`."
    assert docmarkup.plain("read :doc:`the engine <load-engine>` and ``run()``") == "read the engine and `run()`"


def test_the_locustfile_overview_in_the_results_document_has_no_markup():
    doc = ast.get_docstring(ast.parse(LOCUSTFILE.read_text()))
    assert ":data:`PERSONAS`" in doc
    blocks = report_blocks.doc_blocks(doc)[: overview.MODULE_DOC_PARAGRAPHS]
    text = " ".join(getattr(b, "text", "") for b in blocks)
    assert "`PERSONAS`" in text and ":data:" not in text and "``" not in text
