"""The pytest plugin: options, fixtures and report hooks of the perf suite (thin glue)."""

from __future__ import annotations

import pytest

from scaleperf import gevent_setup


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Runs after the command line is parsed and before any conftest (or test module) is imported,
    # which is the last moment gevent can patch ssl and sockets safely.
    numprocesses = getattr(early_config.known_args_namespace, "numprocesses", None)
    gevent_setup.apply(gevent_setup.role(numprocesses))
