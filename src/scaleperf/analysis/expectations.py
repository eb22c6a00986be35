"""Declared comparisons: fixtures/expectations.toml read into :class:`Expectation` objects.

Format: optional ``[defaults]`` (``min_effect``), then ``[[expectation]]`` tables with
``claim = "<a> better than|worse than|same as <b> on <metric>"`` (metric as :mod:`scaleperf.analysis.metrics`
reads it) and optional ``id`` and ``min_effect``.  Errors name the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from scaleperf.analysis.metrics import parse_metric
from scaleperf.configs import FIXTURES
from scaleperf.errors import ScaleperfError

DEFAULT_PATH = FIXTURES / "expectations.toml"  # the committed expectations
DEFAULT_MIN_EFFECT = 0.30  # the one effect size a claim is about (pass and fail alike), as a fraction
KEYS = ("claim", "id", "min_effect")
_CLAIM = re.compile(r"^\s*(\S+)\s+(better than|worse than|same as)\s+(\S+)\s+on\s+(\S+)\s*$")


@dataclass(frozen=True)
class Expectation:
    """A declared claim: ``a`` is better than / worse than / the same as ``b`` on ``metric``."""

    id: str
    a: str
    b: str
    metric: str  # "<group>.<statistic>" or "throughput"
    expect: str  # "better" | "worse" | "same"
    min_effect: float = DEFAULT_MIN_EFFECT

    @property
    def configs(self) -> tuple[str, str]:
        return (self.a, self.b)

    @property
    def claim(self) -> str:
        word = {"better": "better than", "worse": "worse than", "same": "same as"}[self.expect]
        return f"{self.a} {word} {self.b} on {self.metric}"


def _fraction(where: str, key: str, value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 1:
        raise ScaleperfError(f"{where}: key {key!r} must be a fraction in (0, 1), e.g. 0.3 for 30 %")
    return float(value)


def _margin_gone(where: str) -> ScaleperfError:
    return ScaleperfError(f"{where}: key 'margin' is no longer read; one effect size, min_effect, decides pass and fail")


def load_expectations(path: Path | str | None) -> list[Expectation]:
    """The expectations declared in ``path`` (default fixtures/expectations.toml)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError as exc:
        raise ScaleperfError(f"{path}: file not found; create it (see fixtures/expectations.toml for the format)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScaleperfError(f"{path}: not valid TOML ({exc})") from exc
    unknown = set(doc) - {"defaults", "expectation"}
    if unknown:
        raise ScaleperfError(f"{path}: unknown key {sorted(unknown)[0]!r}; use [defaults] and [[expectation]]")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ScaleperfError(f"{path}: [defaults] must be a table")
    if "margin" in defaults:
        raise _margin_gone(f"{path}: [defaults]")
    if set(defaults) - {"min_effect"}:
        raise ScaleperfError(f"{path}: [defaults] may hold only min_effect")
    default_effect = _fraction(f"{path}: [defaults]", "min_effect", defaults.get("min_effect", DEFAULT_MIN_EFFECT))
    entries = doc.get("expectation", [])
    if not isinstance(entries, list):
        raise ScaleperfError(f"{path}: expectation must be an array of tables, [[expectation]]")
    out: list[Expectation] = []
    for i, entry in enumerate(entries):
        where = f"{path}: [[expectation]] #{i + 1}"
        if not isinstance(entry, dict):
            raise ScaleperfError(f"{where} must be a table")
        if "margin" in entry:
            raise _margin_gone(where)
        extra = set(entry) - set(KEYS)
        if extra:
            raise ScaleperfError(f"{where}: unknown key {sorted(extra)[0]!r}; use {', '.join(KEYS)}")
        claim = entry.get("claim")
        m = _CLAIM.match(claim) if isinstance(claim, str) else None
        if not m:
            raise ScaleperfError(f'{where}: key "claim" must read "<config> better than|worse than|same as <config> on <metric>"')
        a, word, b, metric = m.groups()
        try:
            parse_metric(metric)
        except ValueError as exc:
            raise ScaleperfError(f'{where}: key "claim": {exc}') from exc
        if a == b:
            raise ScaleperfError(f'{where}: key "claim" compares {a} with itself')
        effect = _fraction(where, "min_effect", entry.get("min_effect", default_effect))
        ident = entry.get("id", f"{a}-{word.replace(' ', '-')}-{b}-on-{metric}")
        if not isinstance(ident, str) or not ident:
            raise ScaleperfError(f'{where}: key "id" must be a non-empty string')
        out.append(Expectation(id=ident, a=a, b=b, metric=metric, expect=word.split()[0], min_effect=effect))
    ids = [e.id for e in out]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise ScaleperfError(f"{path}: expectation id {dupes[0]!r} is declared twice; give each a unique id")
    return out
