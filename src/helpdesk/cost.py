"""Cost models: ``native`` (as fast as the code can be) and ``rails`` (each request costs the CPU a Rails app spends).

The rails model adds a busy loop on the request path, measured in the thread's own CPU time, like a Ruby
request holding the GVL: nothing else runs on that event loop meanwhile.  The figures come from a real
Rails app of this API, one puma process pinned to one core (helpdesk-api.md §9): the conversation poll
~4 ms empty plus ~1 ms per conversation returned (7 ms at 3 rows), posting a message ~7 ms, a login
~0.31 s (nearly all bcrypt, which this server does for real).  The other routes use the same order of
magnitude: reads like an empty poll plus serialization per row, writes like posting a message.

Each figure is the *whole* request; the busy loop adds the figure minus what the native code already
costs (``NATIVE_ALLOWANCE_MS``, measured with ``benchmarks/bench_helpdesk_cost_model.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

NATIVE_ALLOWANCE_MS = 0.6  # CPU the server itself spends on a simple request (HTTP, routing, driver), not added again
NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class RouteCost:
    """CPU a request costs under the rails model: a base plus a part per row it returns."""

    base_ms: float
    per_row_ms: float = 0.0


RAILS_COSTS: dict[str, RouteCost] = {
    "health": RouteCost(1.0),  # a tiny controller action
    "register": RouteCost(5.0),  # plus the bcrypt hash, done for real
    "login": RouteCost(5.0),  # plus the bcrypt check, done for real (~0.31 s in total at cost 12)
    "logout": RouteCost(3.0),
    "refresh": RouteCost(4.0),
    "me": RouteCost(3.0),
    "conversations.list": RouteCost(4.0, 1.0),
    "conversations.show": RouteCost(5.0),
    "conversations.create": RouteCost(6.5),  # writes: ~0.5 ms more than NATIVE_ALLOWANCE_MS natively, ~7 ms in all
    "messages.list": RouteCost(4.0, 0.5),
    "messages.create": RouteCost(6.5),  # the calibration point: ~7 ms in all
    "messages.read": RouteCost(6.0),
    "expert.queue": RouteCost(4.0, 1.0),
    "expert.claim": RouteCost(6.5),
    "expert.unclaim": RouteCost(6.5),
    "expert.profile": RouteCost(4.0),
    "expert.profile.update": RouteCost(6.0),
    "expert.history": RouteCost(4.0, 0.5),
    "updates.conversations": RouteCost(4.0, 1.0),  # the calibration point: 4 ms empty, 7 ms at 3 rows
    "updates.messages": RouteCost(4.0, 0.5),
    "updates.expert_queue": RouteCost(4.0, 1.0),
}


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
    """Adds each route's modelled CPU cost to the request path (nothing for ``native``)."""

    name: str

    def charge(self, route: str, rows: int = 0) -> None:
        if self.name != "rails":
            return
        cost = RAILS_COSTS[route]
        burn(cost.base_ms + cost.per_row_ms * rows - NATIVE_ALLOWANCE_MS)
