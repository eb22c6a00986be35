"""Unit-test set-up shared by every test module."""

from __future__ import annotations

import signal

# Several tests press Ctrl-C on a child process (SIGINT) and check what it cleans up. A test session started in
# the background (nohup, `cmd &` in a script, some CI runners) ignores SIGINT, and children inherit an ignored
# signal across exec: Python would then never raise KeyboardInterrupt in them. A handler (unlike SIG_IGN) is
# reset to the default on exec, so children start with SIGINT as a terminal would deliver it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
