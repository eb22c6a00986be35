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

Each figure is the *whole* request; the busy loop adds the figure minus what the native code already
costs (``NATIVE_ALLOWANCE_MS``, measured with ``benchmarks/bench_helpdesk_cost_model.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import bcrypt

NATIVE_ALLOWANCE_MS = 0.6  # CPU the server itself spends on a simple request (HTTP, routing, driver), not added again
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
        burn(self.cost_ms(route, rows) - NATIVE_ALLOWANCE_MS)
