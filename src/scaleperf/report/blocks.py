"""The results document as plain blocks (headings, paragraphs, lists, tables, images), before rendering.

Sections build lists of these; :mod:`scaleperf.report.render` turns them into Markdown and HTML through
Jinja2 templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure

from scaleperf.report import extras, plots
from scaleperf.results import RunResult


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


def image(name: str, fig: Figure, caption: str) -> Image:
    return Image(name=name, png=plots.png(fig), caption=caption)


def join(*sentences: str) -> str:
    """The non-empty ``sentences`` as one line (a figure's caption), each ending in a full stop."""
    return " ".join(s if s.endswith(".") else s + "." for s in sentences if s)


def caption(*lines: str) -> str:
    """A caption of the non-empty ``lines``, one line each."""
    return "\n".join(line for line in lines if line)


def round_trip(runs: list[RunResult]) -> str:
    """The round trip to the target the latencies of ``runs`` include, one configuration after another."""
    notes = [(r.config, extras.round_trip_note(r)) for r in runs]
    notes = [(config, note) for config, note in notes if note]
    if not notes:
        return ""
    if len(runs) == 1:
        return f"Included in every response time: {notes[0][1]}"
    return "Included in every response time: " + "; ".join(f"{config}, {note}" for config, note in notes)


def doc_blocks(doc: str) -> list[Block]:
    """A docstring as paragraphs, its ``* item`` / ``- item`` lists as bullets; Sphinx roles (``:data:`x```)
    read as plain code."""
    from scaleperf import docmarkup

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
