"""gevent monkey-patching, arranged once per process according to its role, and only when asked for.

Patching changes the whole process (sockets, ssl, threads), so the plugin patches only a session that selects
perf tests (:mod:`scaleperf.selection`), or a project that asks for it in its ini file with
``scaleperf_gevent = always`` (one whose unmarked tests also run Locust in-process, as scaleperf's own do).
Any other session, another project's tests for one, runs as if scaleperf were not installed.

Locust needs gevent's cooperative sockets; pytest-xdist needs real threads for its execnet channel.
So, where it patches (see docs/load-engine.md, "gevent"):

* plain pytest (no xdist workers):  ``patch_all()`` before anything imports ssl, urllib3 or boto3;
* xdist worker (``PYTEST_XDIST_WORKER`` is set): ``patch_all(thread=False)``, and Locust is told not
  to patch again (``LOCUST_SKIP_MONKEY_PATCH``);
* xdist controller (``-n N`` with N > 0 in the parsed options): nothing; it never runs Locust.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

ROLE_PLAIN = "plain"
ROLE_XDIST_WORKER = "xdist-worker"
ROLE_XDIST_CONTROLLER = "xdist-controller"

WHEN_PERF = "perf"  # the default: only sessions that select perf tests
WHEN_ALWAYS = "always"  # every session of the project (its unit tests run Locust in-process)
WHEN_HELP = "when gevent patches the process: perf (only sessions that select perf tests) | always"

_applied: str | None = None


def wanted(when: str | None, perf_selected: bool) -> bool:
    """Whether to patch, given the ini's ``scaleperf_gevent`` and whether the session selects perf tests."""
    when = (when or WHEN_PERF).strip().lower()
    if when not in (WHEN_PERF, WHEN_ALWAYS):
        raise ValueError(f"scaleperf_gevent = {when!r}: use {WHEN_PERF} or {WHEN_ALWAYS}")
    return perf_selected or when == WHEN_ALWAYS


def role(numprocesses: object) -> str:
    """The process's role from the environment and xdist's parsed ``-n`` value."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return ROLE_XDIST_WORKER
    if numprocesses not in (None, 0, "0") and numprocesses is not False:
        return ROLE_XDIST_CONTROLLER
    return ROLE_PLAIN


def apply(process_role: str) -> str:
    """Patch for ``process_role`` (idempotent). Returns the role that was applied."""
    global _applied
    if _applied is not None:
        return _applied
    if process_role == ROLE_XDIST_CONTROLLER:
        _applied = process_role  # execnet's controller side breaks under gevent; it never runs Locust
        return process_role
    early_imports = sorted(m for m in ("ssl", "urllib3", "requests", "boto3", "botocore") if m in sys.modules)
    if early_imports:
        log.warning(
            "gevent patches after %s was imported; a pytest plugin imported it early (disable it with -p no:NAME)", early_imports
        )
    from gevent import monkey

    if process_role == ROLE_PLAIN:
        monkey.patch_all()
    else:  # xdist worker: execnet's channel needs real threads; Locust must not patch them later either
        monkey.patch_all(thread=False)
        os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
    _applied = process_role
    return process_role


def applied() -> str | None:
    return _applied
