"""Unit-test set-up shared by every test module."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from test_load_target import target

# Several tests press Ctrl-C on a child process (SIGINT) and check what it cleans up. A test session started in
# the background (nohup, `cmd &` in a script, some CI runners) ignores SIGINT, and children inherit an ignored
# signal across exec: Python would then never raise KeyboardInterrupt in them. A handler (unlike SIG_IGN) is
# reset to the default on exec, so children start with SIGINT as a terminal would deliver it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="module")
def url():
    """A local target with 5 ms median responses (tests/unit/test_load_target.py), one per test module."""
    with target(median_ms=5.0, sigma=0.3) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def locustfile(request, tmp_path_factory) -> Path:
    """The requesting module's ``LOCUSTFILE`` source, written to a file Locust can load."""
    path = tmp_path_factory.mktemp("lf") / f"{request.module.__name__.rsplit('.', 1)[-1]}_pingers.py"
    path.write_text(request.module.LOCUSTFILE)
    return path
