"""Cost models: ``native`` (as fast as the code can be) and ``rails`` (each request costs the CPU a Rails app spends).

The rails model adds a busy loop on the request path, measured in the thread's own CPU time, like a Ruby
request holding the GVL: nothing else runs on that event loop meanwhile.

The figures come from real Rails apps of this API measured on this kind of machine (Ruby 3.3 without YJIT,
Rails 7.2, production, one puma process with 5 threads pinned to one core, MariaDB and a C HTTP client on
the other core; two apps agreed within 10 %; helpdesk-api.md §9): the conversations poll 1.6 ms of app CPU
with an empty result and about 0.85 ms more per conversation returned (4.1 ms at 3); a login 190 ms,
nearly all bcrypt at cost 12.  Machines differ, and bcrypt is the yardstick: the figures are kept as
milliseconds *on a machine where a bcrypt-12 hash costs* :data:`REFERENCE_BCRYPT12_MS`, and each server
scales them by its own bcrypt-12 time, measured at start (so login / empty poll stays about 118, as in
Rails).  The other routes have no figure of their own yet: reads cost like an empty poll plus the same
per-row work, writes like an empty poll plus two statements.

Each figure is the *whole* request; the busy loop adds the figure minus what the native code has already
spent on it.  That native part is not a constant (it varies by route, and by machine load: 0.65 to 1.75 ms
for the same poll on this shared machine), so it is metered: :class:`Metered` times every step of the
request's own task on the event loop thread, and the loop tops the request up to its figure.  Only what
happens after the charge or off that thread (sending the response, granian's HTTP parsing) is a constant,
``RESIDUAL_ALLOWANCE_MS``, measured with ``benchmarks/bench_helpdesk_cost_model.py``.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

import bcrypt

NATIVE_ALLOWANCE_MS = 0.6  # a request's native CPU when it is not metered (a charge outside a Metered request)
RESIDUAL_ALLOWANCE_MS = 0.6  # native CPU outside a metered request's own steps (send, HTTP threads), by the bench
NS_PER_MS = 1_000_000
REFERENCE_BCRYPT12_MS = 185.0  # bcrypt-12 on the machine the figures come from: Rails' login (190 ms) minus its ~5 ms rest
BCRYPT_TIMINGS = 2  # hashes timed at start (the fastest counts: the least disturbed by other work)


@dataclass(frozen=True)
class RouteCost:
    """CPU a request costs under the rails model, in ms on the reference machine: a base plus a part per row."""

    base_ms: float
    per_row_ms: float = 0.0


POLL_MS = 1.6  # the calibration point: the conversations poll with an empty result
PER_CONVERSATION_MS = 0.85  # each conversation returned (the apps run queries per conversation)
PER_MESSAGE_MS = 0.4  # each message returned: one object, no per-row query
WRITE_MS = 2.8  # a write: a read's work plus an INSERT/UPDATE and its transaction

RAILS_COSTS: dict[str, RouteCost] = {
    "health": RouteCost(0.4),  # a tiny controller action
    "register": RouteCost(5.0),  # plus the bcrypt hash, done for real
    "login": RouteCost(5.0),  # plus the bcrypt check, done for real (190 ms in all on the reference machine)
    "logout": RouteCost(1.2),
    "refresh": RouteCost(1.6),
    "me": RouteCost(1.2),
    "conversations.list": RouteCost(POLL_MS, PER_CONVERSATION_MS),
    "conversations.show": RouteCost(2.0),
    "conversations.create": RouteCost(WRITE_MS),
    "messages.list": RouteCost(POLL_MS, PER_MESSAGE_MS),
    "messages.create": RouteCost(WRITE_MS),
    "messages.read": RouteCost(2.4),
    "expert.queue": RouteCost(POLL_MS, PER_CONVERSATION_MS),
    "expert.claim": RouteCost(WRITE_MS),
    "expert.unclaim": RouteCost(WRITE_MS),
    "expert.profile": RouteCost(1.6),
    "expert.profile.update": RouteCost(2.4),
    "expert.history": RouteCost(POLL_MS, PER_MESSAGE_MS),
    "updates.conversations": RouteCost(POLL_MS, PER_CONVERSATION_MS),  # the calibration point: 1.6 ms, 4.15 ms at 3
    "updates.messages": RouteCost(POLL_MS, PER_MESSAGE_MS),
    "updates.expert_queue": RouteCost(POLL_MS, PER_CONVERSATION_MS),
}


def time_bcrypt12_ms(timings: int = BCRYPT_TIMINGS) -> float:
    """CPU ms of one bcrypt hash at cost 12 on this machine (this thread's CPU time, the fastest of ``timings``)."""
    salt = bcrypt.gensalt(rounds=12)
    best = float("inf")
    for _ in range(max(1, timings)):
        t0 = time.thread_time_ns()
        bcrypt.hashpw(b"scaleperf-yardstick", salt)
        best = min(best, (time.thread_time_ns() - t0) / NS_PER_MS)
    return best


def burn(ms: float) -> None:
    """Spend ``ms`` of this thread's CPU time without yielding (a request holding the interpreter)."""
    if ms <= 0:
        return
    deadline = time.thread_time_ns() + int(ms * NS_PER_MS)
    x = 0
    while time.thread_time_ns() < deadline:
        for i in range(200):
            x ^= i
    return


@dataclass(frozen=True)
class CostModel:
    """Adds each route's modelled CPU cost to the request path (nothing for ``native``).

    ``bcrypt12_ms``: this machine's bcrypt-12 time; the reference figures scale by it / REFERENCE_BCRYPT12_MS
    (0: unscaled, the reference machine's milliseconds)."""

    name: str
    bcrypt12_ms: float = 0.0

    @property
    def scale(self) -> float:
        return self.bcrypt12_ms / REFERENCE_BCRYPT12_MS if self.bcrypt12_ms > 0 else 1.0

    def cost_ms(self, route: str, rows: int = 0) -> float:
        """The whole request's CPU on this machine under the rails model."""
        cost = RAILS_COSTS[route]
        return (cost.base_ms + cost.per_row_ms * rows) * self.scale

    def charge(self, route: str, rows: int = 0) -> None:
        if self.name != "rails":
            return
        meter = _METER.get()
        spent = meter.spent_ms() + RESIDUAL_ALLOWANCE_MS if meter is not None else NATIVE_ALLOWANCE_MS
        burn(self.cost_ms(route, rows) - spent)


class Meter:
    """CPU a request's own task has spent on this thread so far (its steps between awaits)."""

    def __init__(self) -> None:
        self.done_ns = 0
        self.step_started_ns = 0

    def spent_ms(self) -> float:
        return (self.done_ns + time.thread_time_ns() - self.step_started_ns) / NS_PER_MS


_METER: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("helpdesk_cost_meter", default=None)


class _Stepper:
    """Runs a coroutine step by step, adding each step's thread CPU time to ``meter``."""

    def __init__(self, coro: Any, meter: Meter) -> None:
        self.coro = coro
        self.meter = meter

    def __await__(self) -> Generator[Any, Any, Any]:
        value: Any = None
        error: BaseException | None = None
        while True:
            self.meter.step_started_ns = time.thread_time_ns()
            try:
                yielded = self.coro.throw(error) if error is not None else self.coro.send(value)
            except StopIteration as stop:
                self.meter.done_ns += time.thread_time_ns() - self.meter.step_started_ns
                return stop.value
            except BaseException:
                self.meter.done_ns += time.thread_time_ns() - self.meter.step_started_ns
                raise
            self.meter.done_ns += time.thread_time_ns() - self.meter.step_started_ns
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # cancellation or an error thrown into the awaiting task
                value, error = None, exc


class Metered:
    """ASGI middleware: each HTTP request's own CPU on the event loop thread, for :meth:`CostModel.charge`."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        meter = Meter()
        token = _METER.set(meter)
        try:
            await _Stepper(self.app(scope, receive, send), meter)
        finally:
            _METER.reset(token)
