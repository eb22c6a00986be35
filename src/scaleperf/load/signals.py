"""Ctrl-C and SIGTERM during a run: the exception the caller's handler raises reaches the run, wherever it fired."""

from __future__ import annotations

import signal
import threading
from typing import Any

import gevent


class SignalForwarder:
    """Makes an exception raised by the caller's SIGINT/SIGTERM handler reach the run, wherever it fired.

    A signal handler runs in whichever greenlet is current. In gevent's hub (where the run mostly waits) an
    ordinary exception would be logged and dropped, so while the run lasts each Python handler is wrapped:
    raised in the run's own greenlet, the exception propagates at once; raised elsewhere, it is kept and the
    run raises it at its next tick.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.pending: BaseException | None = None
        self._saved: dict[int, Any] = {}
        self._main = gevent.getcurrent()

    def __enter__(self) -> SignalForwarder:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in self.SIGNALS:
            original = signal.getsignal(sig)
            if callable(original):
                self._saved[sig] = original
                signal.signal(sig, self._wrap(original))
        return self

    def _wrap(self, original: Any) -> Any:
        def handler(signum: int, frame: Any) -> None:
            try:
                original(signum, frame)
            except BaseException as exc:
                if gevent.getcurrent() is self._main:
                    raise
                self.pending = exc

        return handler

    def check(self) -> None:
        if self.pending is not None:
            exc, self.pending = self.pending, None
            raise exc

    def __exit__(self, *exc: object) -> None:
        for sig, original in self._saved.items():
            signal.signal(sig, original)
