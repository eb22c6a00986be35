"""The run's verdicts as plain text, one line each: the end-of-session summary and ``scaleperf report`` print it.

Per configuration its SLOs and saturation point, then the comparisons, each with its outcome and its
reason (the same words the test, the HTML report and the results document show), then the counts.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime
from pathlib import Path

from scaleperf import results

MARKS = {"pass": "✓", "fail": "✗", "inconclusive": "?"}


def lines(stored) -> list[str]:
    """The summary's lines: per configuration its SLOs and saturation point, then the comparisons, then the counts."""
    out: list[str] = []
    by_config: dict[str, list] = {}
    for v in stored.verdicts:
        if v.kind in ("slo", "saturation"):
            by_config.setdefault(v.config, []).append(v)
    for config, verdicts in by_config.items():
        out.append(config)
        out += [f"  {MARKS.get(v.outcome, ' ')} {v.outcome:<12} {v.reason}" for v in verdicts]
    comparisons = [v for v in stored.verdicts if v.kind == "comparison"]
    if comparisons:
        out.append("comparisons")
        out += [f"  {MARKS.get(v.outcome, ' ')} {v.outcome:<12} {v.reason}" for v in comparisons]
    hint = rounds_hint(stored)
    if hint:
        out.append(hint)
    counts = {o: sum(v.outcome == o for v in stored.verdicts) for o in MARKS}
    out.append(f"verdicts: {counts['pass']} passed, {counts['fail']} failed, {counts['inconclusive']} inconclusive")
    return out


def run_minutes(run_dir: Path) -> dict[str, float]:
    """Each configuration's median minutes per replicate run in ``run_dir``, from its runs' start and end."""
    out: dict[str, list[float]] = {}
    run_dir = Path(run_dir)
    for stored in results.find_runs(run_dir.parent, run_dir.name):
        try:
            meta = json.loads((stored.path / "meta.json").read_text()).get("meta", {})
            start, end = (datetime.fromisoformat(meta[k].replace("Z", "+00:00")) for k in ("started_at", "ended_at"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        out.setdefault(stored.config, []).append((end - start).total_seconds() / 60)
    return {config: statistics.median(v) for config, v in out.items() if v}


def rounds_hint(stored) -> str | None:
    """How many more rounds, and about how many minutes at this run's pace, the open comparisons need."""
    undecided = [v for v in stored.verdicts if v.kind == "comparison" and v.outcome == "inconclusive"]
    thin = [v for v in undecided if v.excluded and not (v.n_a and v.n_b)]  # no usable value on this profile
    open_ = [v for v in undecided if v.replicates_needed and v not in thin]
    if not open_:
        return _thin_hint(thin)
    rounds = max(v.replicates_needed for v in open_)
    configs = sorted({c for v in open_ for c in (v.a, v.b)})
    pace = run_minutes(Path(stored.path).parent)
    have = max((v.n_a for v in open_), default=0)
    more = max(rounds - have, 0)
    text = (
        f"open comparisons: about {rounds} rounds in all would decide them ({more} more, one run of each of "
        f"{', '.join(configs)} per round; pytest -m perf --replicates auto"
    )
    if all(c in pace for c in configs):
        minutes = more * sum(pace[c] for c in configs)
        text += f"), about {minutes:.0f} min at this run's pace ({sum(pace[c] for c in configs):.1f} min a round)"
    else:
        text += ")"
    more_text = _thin_hint(thin)
    return f"{text}; {more_text}" if more_text else text


def _thin_hint(thin: list) -> str | None:
    if not thin:
        return None
    names = "; ".join(v.subject for v in thin)
    return (
        f"{names}: no replicate gave a value (too few requests on this profile's plateau), so more rounds of the "
        f"same profile cannot decide it; a profile with a longer plateau can (--profile compare)"
    )
