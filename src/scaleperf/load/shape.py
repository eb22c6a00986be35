"""The Locust ``LoadTestShape`` that drives a load profile: each segment's users, spawned at its rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from locust import LoadTestShape

from scaleperf.profiles import LoadProfile, Segment
from scaleperf.results import Phase

if TYPE_CHECKING:
    from scaleperf.load.searching import LiveSearch


class ProfileShape(LoadTestShape):
    """Holds each segment's users (spawning at its rate) and stops when the last segment ends.

    With a saturation search the segments grow while the run goes: until the search is done, the shape holds
    the last segment's users past its planned end, so the run never stops between a step and the next.
    """

    def __init__(self, segments: list[Segment], search: LiveSearch | None = None) -> None:
        super().__init__()
        self.segments = segments
        self.search = search

    @classmethod
    def of(cls, profile: LoadProfile, scale: float = 1.0) -> ProfileShape:
        return cls(profile.segments(scale))

    def tick(self) -> tuple[int, float] | None:
        return self.at(self.get_run_time())

    def at(self, t: float) -> tuple[int, float] | None:
        for seg in self.segments:
            if seg.start_s <= t < seg.end_s:
                return seg.users, seg.rate
        if self.search is not None and not self.search.done and self.segments:
            return self.segments[-1].users, self.segments[-1].rate
        return None

    def phases(self) -> tuple[Phase, ...]:
        """The labelled spans so far (a search's steps as it chose them)."""
        return tuple(seg.phase for seg in self.segments)

    @property
    def running(self) -> bool:
        """Whether more segments may still be added (a search under way)."""
        return self.search is not None and not self.search.done
