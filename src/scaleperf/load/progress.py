"""Live progress of a run: phase, users, requests/s, p95, errors, time left.

On a terminal, one line rewritten in place; otherwise (CI logs) a plain line every ``PLAIN_INTERVAL_S``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

PLAIN_INTERVAL_S = 10.0  # seconds between two plain progress lines when not on a terminal


class Progress:
    def __init__(self, total_s: float, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total_s = total_s
        self.enabled = enabled
        self.stream = stream
        self._last_plain = -PLAIN_INTERVAL_S
        self._width = 0

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def _tty(self) -> bool:
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    @staticmethod
    def line(*, elapsed: float, total: float, phase: str, users: int, rps: float, p95: float | None, errors: int) -> str:
        left = max(total - elapsed, 0.0)
        p95_text = "-" if p95 is None else f"{p95:.1f} ms"
        return (
            f"load {phase:<10} users {users:>5}  {rps:>7.1f} req/s  p95 {p95_text:>10}  errors {errors:>6}  "
            f"{elapsed:>5.0f}s / {total:.0f}s ({left:.0f}s left)"
        )

    def update(self, **fields: object) -> None:
        if not self.enabled:
            return
        text = self.line(total=self.total_s, **fields)  # type: ignore[arg-type]
        out = self._out()
        if self._tty():
            out.write("\r" + text.ljust(self._width))
            self._width = len(text)
            out.flush()
        elif time.monotonic() - self._last_plain >= PLAIN_INTERVAL_S:
            self._last_plain = time.monotonic()
            out.write(text + "\n")
            out.flush()

    def done(self, message: str) -> None:
        if not self.enabled:
            return
        out = self._out()
        out.write(("\r" + message.ljust(self._width) if self._tty() else message) + "\n")
        out.flush()
