"""The run's verdicts as plain text, one line each: the end-of-session summary and ``scaleperf report`` print it.

Per configuration its SLOs and saturation point, then the comparisons, each with its outcome and its
reason (the same words the test, the HTML report and the results document show), then the counts.
"""

from __future__ import annotations

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
    counts = {o: sum(v.outcome == o for v in stored.verdicts) for o in MARKS}
    out.append(f"verdicts: {counts['pass']} passed, {counts['fail']} failed, {counts['inconclusive']} inconclusive")
    return out
