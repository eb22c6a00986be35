"""The end-of-session verdict summary and how inconclusive verdicts reach pytest's exit status.

Registered by :mod:`scaleperf.pytest_plugin`.  After a perf session the terminal shows every verdict of the
run, read from the run's ``verdicts.json`` (:mod:`scaleperf.report.store`), grouped per configuration
(SLOs, saturation point) and then the comparisons, each with its outcome and the same one-line reason the
test, the HTML report and the results document show; then the counts.

``--inconclusive=skip`` (default) turns an inconclusive verdict into a skipped test; ``--inconclusive=fail``
into a failed one, so CI cannot read "could not tell" as success.  ``--accept-unlimited`` judges saturation
and comparisons even where the run's CPU limits were ``none`` (a quick look; the verdicts say so).
"""

from __future__ import annotations

import pytest

INCONCLUSIVE_MODES = ("skip", "fail")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scaleperf")
    group.addoption(
        "--inconclusive",
        dest="scaleperf_inconclusive",
        default=None,
        choices=INCONCLUSIVE_MODES,
        help="how an inconclusive verdict reaches the exit status: skip (default) or fail (for CI) (ini: scaleperf_inconclusive)",
    )
    parser.addini("scaleperf_inconclusive", "how an inconclusive verdict reaches the exit status: skip or fail", default="skip")
    group.addoption(
        "--accept-unlimited",
        dest="scaleperf_accept_unlimited",
        action="store_true",
        default=False,
        help="judge saturation and comparisons even when CPU limits were 'none' (a quick look, not a result)",
    )


def inconclusive_mode(config: pytest.Config) -> str:
    given = config.getoption("scaleperf_inconclusive", None)
    mode = given or config.getini("scaleperf_inconclusive") or "skip"
    if mode not in INCONCLUSIVE_MODES:
        raise pytest.UsageError(f"scaleperf_inconclusive must be skip or fail, not {mode!r}")
    return mode


def accept_unlimited(config: pytest.Config) -> bool:
    return bool(config.getoption("scaleperf_accept_unlimited", False))


def settle(verdict, mode: str = "skip") -> None:
    """A perf test's outcome from its verdict: pass passes, fail fails with the reason, inconclusive skips
    (or fails, with ``mode`` "fail") with the reason as plain text."""
    if verdict.outcome == "fail":
        pytest.fail(verdict.reason, pytrace=False)
    if verdict.outcome == "inconclusive":
        if mode == "fail":
            pytest.fail(f"inconclusive: {verdict.reason}", pytrace=False)
        pytest.skip(f"inconclusive: {verdict.reason}")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    from scaleperf.pytest_plugin import SETTINGS_KEY, measured_run

    run_dir = measured_run(config)
    if run_dir is None:
        return
    settings = config.stash[SETTINGS_KEY]
    from scaleperf.errors import ScaleperfError
    from scaleperf.report import store, verdicts_text

    try:
        stored = store.ensure(run_dir, accept_unlimited=accept_unlimited(config))
    except ScaleperfError as exc:
        terminalreporter.write_line(f"[scaleperf] verdicts not judged: {exc}")
        return
    terminalreporter.write_sep("=", f"scaleperf verdicts, run {settings.run_id}")
    for line in verdicts_text.lines(stored):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(from {stored.path}; inconclusive verdicts {inconclusive_mode(config)} their tests)")
