"""The Locust ``LoadTestShape`` that drives a load profile: each segment's users, spawned at its rate."""

from __future__ import annotations

from locust import LoadTestShape

from scaleperf.profiles import LoadProfile, Segment


class ProfileShape(LoadTestShape):
    """Holds each segment's users (spawning at its rate) and stops when the last segment ends."""

    def __init__(self, segments: list[Segment]) -> None:
        super().__init__()
        self.segments = segments

    @classmethod
    def of(cls, profile: LoadProfile, scale: float = 1.0) -> ProfileShape:
        return cls(profile.segments(scale))

    def tick(self) -> tuple[int, float] | None:
        return self.at(self.get_run_time())

    def at(self, t: float) -> tuple[int, float] | None:
        for seg in self.segments:
            if seg.start_s <= t < seg.end_s:
                return seg.users, seg.rate
        return None
