"""How a perf test reaches its verdict: read from the run's verdicts.json, judged once for every reader.

The verdicts are judged by :func:`scaleperf.analysis.session.judge` over every stored replicate of the run
and kept in the run directory (:mod:`scaleperf.report.store`); the session summary, the HTML report and the
results document read the same file.  pass -> the test passes; fail -> it fails with the verdict's reason;
inconclusive -> skipped with the reason (``--inconclusive=fail``: failed), never counted as a pass.
"""

from __future__ import annotations

import pytest


def stored_verdicts(perf_settings, request):
    from scaleperf import summary
    from scaleperf.report import store

    run_dir = perf_settings.results_dir / perf_settings.run_id
    return store.ensure(run_dir, accept_unlimited=summary.accept_unlimited(request.config))


def verdict_of(perf_settings, request, name: str):
    stored = stored_verdicts(perf_settings, request)
    verdict = stored.get(name)
    if verdict is None:
        pytest.fail(f"no verdict {name!r} in {stored.path}", pytrace=False)
    return verdict


def settle(verdict, request) -> None:
    from scaleperf import summary

    summary.settle(verdict, summary.inconclusive_mode(request.config))
