"""The saturation search: which load step to run next, and whether the step running now has broken.

A fixed ladder of steps knows the saturation point only to within its step size, and runs every step up to
its top even after the configuration broke. The search instead grows the load geometrically until a step
breaks, then bisects (geometric midpoints) between the highest step that held and the lowest that broke, and
stops once the two are within ``precision`` of each other. A step that has clearly broken halfway through
its judged window ends early.

:class:`Bracket` is the arithmetic (pure, in deployment-scale users, with the local users a scale makes of
them, so that two levels that run the same local users are never both tried). :class:`StepJudge` decides a
step from the requests of its judged window: latency limits per endpoint group, an error-rate limit, and
throughput tracking the offered load (the plateau's completed requests per user-second times the step's
users). This module does not import Locust; the load engine feeds it.

The search only chooses the steps. The saturation verdict is reached afterwards, from the recorded steps, by
:mod:`scaleperf.analysis.saturation`, exactly as for a ladder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import binom, poisson

from scaleperf.profiles import local_users

OK, BROKE, UNDECIDED = "ok", "broke", "undecided"
EARLY_FRACTION = 0.5  # a step may end early once this share of its judged window has run
CLEAR_TRACKING = 0.75  # ... when it completes less than this share of the offered load
CLEAR_ERROR_FACTOR = 5.0  # ... or fails more than this multiple of the error-rate limit
MIN_LATENCY_SAMPLES = 20  # fewer requests of a group in the window: its latency limit is not judged
CLEAR_ALPHA = 0.005  # a latency percentile breaks clearly when its 99.5 % lower confidence bound is above the limit
TRACKING_ALPHA = 0.05  # throughput falls behind when it is below the tracking floor at this one-sided level


@dataclass(frozen=True)
class LatencyLimit:
    group: str  # an endpoint group, or "all"
    percentile: float  # 95 for p95
    limit_ms: float  # the step breaks when the percentile is above this

    def describe(self) -> str:
        return f"{self.group} p{self.percentile:g} < {self.limit_ms:g} ms"


@dataclass(frozen=True)
class StepCriteria:
    """What a step must hold: the latency and error-rate SLOs, and throughput tracking the offered load."""

    latency: tuple[LatencyLimit, ...] = ()
    max_error_rate: float = 0.01
    tracking_floor: float = 0.90


@dataclass(frozen=True)
class Judgement:
    outcome: str  # OK, BROKE or UNDECIDED
    clear: bool  # broke beyond doubt (the step may end early)
    reason: str


@dataclass(frozen=True)
class Window:
    """The requests of one judged window, as the judge needs them."""

    latency_ms: np.ndarray
    groups: np.ndarray  # endpoint group names, one per request (object or str array)
    failed: np.ndarray  # bool per request
    completed: int  # requests that completed inside the window
    seconds: float  # length of the window run so far


def percentile_lower_bound(values: np.ndarray, q: float, alpha: float = CLEAR_ALPHA) -> float:
    """A distribution-free lower confidence bound (level 1 - alpha) of the q-th percentile: the r-th smallest
    value, r the alpha-quantile of binomial(n, q/100), since X(r) <= the percentile whenever at least r values
    lie at or below it. -inf when there are too few values to bound anything."""
    n = len(values)
    rank = int(binom.ppf(alpha, n, q / 100.0)) if n else 0
    if rank < 1:
        return -math.inf
    return float(np.partition(values, rank - 1)[rank - 1])


@dataclass
class StepJudge:
    criteria: StepCriteria
    per_user_rps: float | None = None  # completed requests per user-second when the target keeps up
    base_requests: int | None = None  # ... measured on this many completed requests (None: taken as exact)

    def judge(self, window: Window, users: int, final: bool) -> Judgement:
        if window.seconds <= 0 or len(window.latency_ms) == 0:
            return Judgement(UNDECIDED, False, "no requests in the judged window yet")
        broken: list[str] = []
        clear = False
        for limit in self.criteria.latency:
            values = window.latency_ms if limit.group == "all" else window.latency_ms[window.groups == limit.group]
            if len(values) < MIN_LATENCY_SAMPLES:
                continue
            value = float(np.percentile(values, limit.percentile))
            if value > limit.limit_ms:
                broken.append(f"{limit.group} p{limit.percentile:g} {value:.0f} ms")
                clear |= percentile_lower_bound(values, limit.percentile) > limit.limit_ms
        error_rate = float(np.mean(window.failed))
        if error_rate > self.criteria.max_error_rate:
            broken.append(f"error rate {error_rate:.1%}")
            clear |= error_rate > CLEAR_ERROR_FACTOR * self.criteria.max_error_rate
        if self.per_user_rps and users:
            tracking = window.completed / window.seconds / (self.per_user_rps * users)
            if tracking < self.criteria.tracking_floor and self._behind(window.completed, window.seconds * users):
                broken.append(f"completed {tracking:.0%} of the offered load")
                clear |= tracking < CLEAR_TRACKING
        if broken:
            return Judgement(BROKE, clear, "; ".join(broken))
        return Judgement(OK if final else UNDECIDED, False, "held")

    def _behind(self, completed: int, user_s: float) -> bool:
        """Whether ``completed`` requests in ``user_s`` user-seconds are significantly fewer than the tracking
        floor times the offered rate. Both counts are Poisson: given their sum, the step's share is binomial
        (exact, however few requests the plateau and the step saw); with the rate taken as exact, the step's
        count is Poisson. A short window's shortfall of a few requests is noise, not a broken step."""
        floor = self.criteria.tracking_floor
        if self.base_requests:
            base_user_s = self.base_requests / self.per_user_rps
            p0 = floor * user_s / (floor * user_s + base_user_s)
            return float(binom.cdf(completed, completed + self.base_requests, p0)) < TRACKING_ALPHA
        return float(poisson.cdf(completed, floor * self.per_user_rps * user_s)) < TRACKING_ALPHA


@dataclass
class Bracket:
    """Grow by ``factor`` until a step breaks, then bisect until the highest held and lowest broken step are
    within ``precision`` (or run the same local users), or ``max_steps`` or ``max_users`` is reached."""

    start: int
    factor: float
    precision: float
    max_users: int
    max_steps: int
    scale: float = 1.0
    tried: list[tuple[int, str]] = field(default_factory=list)  # (deployment users, OK or BROKE) in order

    @property
    def highest_ok(self) -> int | None:
        held = [u for u, o in self.tried if o == OK and u < (self.lowest_broken or math.inf)]
        return max(held) if held else None

    @property
    def lowest_broken(self) -> int | None:
        broke = [u for u, o in self.tried if o == BROKE]
        return min(broke) if broke else None

    def record(self, users: int, outcome: str) -> None:
        self.tried.append((users, BROKE if outcome == BROKE else OK))

    def next_level(self) -> int | None:
        """The next step's deployment users, or None when the search is done."""
        if not self.tried:
            return self.start
        if len(self.tried) >= self.max_steps:
            return None
        low, high = self.highest_ok, self.lowest_broken
        if high is None:  # still growing
            last = max(u for u, _ in self.tried)
            if last >= self.max_users:
                return None
            level = min(self.max_users, max(last + 1, round(last * self.factor)))
            while level < self.max_users and not self._distinct(level, last):  # more local users, or no new step
                level += 1
            return level if self._distinct(level, last) else None
        if low is None:  # the first step already broke: search below it, down to a tenth of the start
            level = max(1, round(high / self.factor))
            floor = max(1, round(self.start / 10))
            return level if level >= floor and level < high and self._distinct(level, high) else None
        if high <= low * (1 + self.precision):
            return None
        mid = round(math.sqrt(low * high))
        if not (low < mid < high) or not self._distinct(mid, low) or not self._distinct(mid, high):
            return None
        return mid

    def _distinct(self, a: int, b: int) -> bool:
        return local_users(a, self.scale) != local_users(b, self.scale)

    def describe(self) -> str:
        low, high = self.highest_ok, self.lowest_broken
        steps = ", ".join(f"{u} {'held' if o == OK else 'broke'}" for u, o in self.tried)
        if high is None:
            return f"no step broke up to {max(u for u, _ in self.tried)} users ({steps})"
        if low is None:
            return f"every step broke, down to {high} users ({steps})"
        return f"held at {low}, broke at {high} users ({steps})"
