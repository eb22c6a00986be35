"""Does this pytest session select perf tests? The one question that decides whether scaleperf may change the process.

scaleperf is installed as a pytest plugin (``pytest11``), so it is loaded by every pytest session of its
environment, including other projects' test suites. Those sessions must run as if it were not installed: only a
session that selects perf tests may patch with gevent, install a SIGTERM handler, or create a run id. It selects
them when its ``-m`` expression only matches tests marked ``perf`` (``-m perf``, ``-m "perf and not slow"``), or
when it matches them among others and a perf test is named on the command line (a file, a ``file::test`` id, or a
folder holding one).

It is decided before any test module is imported (gevent must patch before ssl is imported), so a named test
counts as perf when its file mentions the marker (``pytest.mark.perf``, ``pytestmark = [pytest.mark.perf]``).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

PERF_MARK = "perf"
TEST_FILE_GLOBS = ("test_*.py", "*_test.py")  # pytest's default python_files
SKIPPED_DIRS = ("site-packages", "node_modules", "__pycache__")  # and hidden folders (.venv, .git, .tox)
_MARKED = re.compile(r"\bmark\.perf\b")


def selects_perf(markexpr: str | None, named: Iterable[str], invocation_dir: Path) -> bool:
    """Whether a session with ``-m markexpr`` and the command line's test paths ``named`` selects perf tests."""
    if markexpr:
        only_perf = _matches(markexpr, {PERF_MARK})
        if only_perf is None or not only_perf:
            return False  # perf tests deselected (or an expression pytest itself will reject)
        if not _matches(markexpr, set()):
            return True  # only marked tests match: -m perf
    return any(_names_perf_test(invocation_dir / arg.split("::", 1)[0]) for arg in named if not arg.startswith("-"))


def _matches(markexpr: str, marks: set[str]) -> bool | None:
    """Whether a test with exactly ``marks`` matches ``markexpr``; None when it is not a valid expression."""
    try:
        from _pytest.mark.expression import Expression  # pytest's own grammar for -m

        return Expression.compile(markexpr).evaluate(lambda name, /, **kw: name in marks and not kw)
    except Exception:  # a bad expression, or another pytest's API: pytest reports it in its own words
        return None


def _names_perf_test(path: Path) -> bool:
    if path.is_dir():
        return any(_marked(f) for f in _test_files(path))
    return path.suffix == ".py" and _marked(path)


def _test_files(folder: Path) -> Iterator[Path]:
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        for name in files:
            if any(fnmatch.fnmatch(name, glob) for glob in TEST_FILE_GLOBS):
                yield Path(top) / name


def _marked(path: Path) -> bool:
    try:
        return bool(_MARKED.search(path.read_text(errors="replace")))
    except OSError:
        return False
