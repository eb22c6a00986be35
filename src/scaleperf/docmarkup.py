"""Docstrings as a reader sees them: reStructuredText markup turned into plain Markdown code spans.

Docstrings in this project (and in users' locustfiles) are written for Sphinx: ``:data:`PERSONAS```,
``:class:`~scaleperf.results.RunResult```, double backquotes. Where a document quotes them, :func:`plain`
keeps the name and drops the markup.
"""

from __future__ import annotations

import re

# :role:`target`, :domain:role:`target`, optionally ~-shortened or titled (`title <target>`)
_ROLE = re.compile(r":(?:[A-Za-z][\w-]*:)?[A-Za-z][\w-]*:`(?P<body>[^`]+)`")
_TITLED = re.compile(r"^(?P<title>.+?)\s*<[^<>]+>$")


def plain(text: str) -> str:
    """``text`` with Sphinx roles reduced to a code span of the name and double backquotes made single."""
    return _ROLE.sub(_role, text.replace("``", "`"))


def _role(match: re.Match[str]) -> str:
    body = match.group("body").strip()
    titled = _TITLED.match(body)
    if titled:
        return titled.group("title")
    if body.startswith("~"):
        body = body[1:].rsplit(".", 1)[-1]
    return f"`{body}`"
