"""The load engine: Locust's Python API in-process, exact measurement, distributed when needed.

The only part of scaleperf that imports locust and gevent. ``run()`` drives a load profile against a
base URL and returns a :class:`~scaleperf.results.RunResult`; ``load_profile()`` reads a profile from
``fixtures/profiles.toml``. See docs/load-engine.md.
"""

from scaleperf.load.engine import run, user_classes
from scaleperf.profiles import LoadProfile, PhaseSpec, load_profile, load_profiles, profile_from_dict

__all__ = ["LoadProfile", "PhaseSpec", "load_profile", "load_profiles", "profile_from_dict", "run", "user_classes"]
