"""How a perf test turns analysis verdicts into a pytest outcome.

pass -> the test passes; fail -> it fails with the verdict's reason; inconclusive -> it is skipped with
the reason (the run could not answer: too few requests, a saturated load generator, an interrupted run),
so it is never counted as a pass.
"""

from __future__ import annotations

import pytest


def settle(verdicts: list, config: str) -> None:
    failures = [v.reason for v in verdicts if v.outcome == "fail"]
    assert not failures, f"{config}: " + "; ".join(failures)
    inconclusive = [v.reason for v in verdicts if v.outcome == "inconclusive"]
    if inconclusive:
        pytest.skip(f"inconclusive: {'; '.join(inconclusive)}")
