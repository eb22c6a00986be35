"""Load profiles: named sequences of ramp, plateau and step phases, read from ``fixtures/profiles.toml``.

A profile speaks in deployment-scale users. :meth:`LoadProfile.phases` turns it into the labelled
:class:`~scaleperf.results.Phase` spans of one run at a given ``scale`` (local users = round(deployment
users x scale), at least 1), and :meth:`LoadProfile.segments` into what the load engine's Locust shape
(:mod:`scaleperf.load.shape`) follows. This module does not import Locust: the AWS plan reads profiles too.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from scaleperf.errors import ScaleperfError
from scaleperf.results import Phase

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "profiles.toml"  # the repository's profiles
MIN_SPAWN_RATE = 0.05  # users per second; a heavily scaled-down ramp still moves
KINDS = ("ramp", "plateau", "steps", "search")
SEARCH = "search"  # a saturation search: its steps are chosen while the run goes (scaleperf.search)
STEPPED = ("steps", SEARCH)  # the phase kinds that run load steps, where capacity and saturation are read


@dataclass(frozen=True)
class PhaseSpec:
    """One entry of a profile's ``phases`` list, as written (deployment-scale users)."""

    kind: str  # "ramp" | "plateau" | "steps"
    users: int | None = None  # ramp: target; plateau: held users (default: the users reached before)
    rate: float = 1.0  # new users per second (ramp, and between steps)
    duration_s: float = 0.0  # plateau
    warmup_s: float = 0.0  # plateau and each step: leading seconds analysis discards
    start: int = 0  # steps: users of the first step
    step: int = 0  # steps: users added per step (linear steps)
    factor: float = 0.0  # steps: each step's users are this multiple of the last (geometric steps), instead of step
    max_users: int = 0  # steps: users of the last step
    step_s: float = 0.0  # steps: seconds per step
    precision: float = 0.0  # search: stop once the highest held and lowest broken step are this close (0.10: 10 %)
    max_steps: int = 0  # search: at most this many steps


@dataclass(frozen=True)
class LoadProfile:
    name: str
    phases_spec: tuple[PhaseSpec, ...]
    description: str = ""

    @property
    def duration_s(self) -> float:
        return self.phases(1.0)[-1].end_s

    @property
    def has_search(self) -> bool:
        """Whether the profile ends with a saturation search (its steps are chosen while it runs)."""
        return any(s.kind == SEARCH for s in self.phases_spec)

    @property
    def has_load_steps(self) -> bool:
        """Whether the profile runs load steps (a ladder or a search): the runs a capacity is read from."""
        return any(s.kind in STEPPED for s in self.phases_spec)

    def without_load_steps(self) -> LoadProfile:
        """The same profile without its load steps (its ramp and plateau only); itself when it has no plateau to
        keep, since a run of a ramp alone measures nothing."""
        kept = tuple(s for s in self.phases_spec if s.kind not in STEPPED)
        if not self.has_load_steps or not any(s.kind == "plateau" for s in kept):
            return self
        return replace(self, phases_spec=kept, description=f"{self.description} (load steps left out)")

    @property
    def max_deploy_users(self) -> int:
        return max(p.deploy_users for p in self.phases(1.0))

    def phases(self, scale: float = 1.0) -> tuple[Phase, ...]:
        """The labelled spans of a run at ``scale`` (seconds since the run's start)."""
        return tuple(seg.phase for seg in self._segments(scale))

    def segments(self, scale: float = 1.0) -> list[Segment]:
        """Each span with its local users and spawn rate at ``scale``: what the Locust shape follows."""
        return self._segments(scale)

    def describe(self) -> dict:
        return {"name": self.name, "description": self.description, "duration_s": self.duration_s, "phases": self.raw()}

    def raw(self) -> list[dict]:
        return [{k: v for k, v in vars(s).items() if v not in (None, 0, 0.0)} | {"kind": s.kind} for s in self.phases_spec]

    def _segments(self, scale: float) -> list[Segment]:
        if scale <= 0:
            raise ScaleperfError(f"load scale must be above 0, got {scale}")
        segments: list[Segment] = []
        t = 0.0
        users = 0
        for spec in self.phases_spec:
            rate_local = max(spec.rate * scale, MIN_SPAWN_RATE)
            if spec.kind == "ramp":
                target = int(spec.users or 0)
                duration = max(abs(target - users) / spec.rate, 1.0)
                segments.append(Segment("ramp", "ramp", t, t + duration, target, local_users(target, scale), rate_local, 0.0))
                t, users = t + duration, target
            elif spec.kind == "plateau":
                held = int(spec.users) if spec.users is not None else users
                segments.append(
                    Segment(
                        "plateau", "plateau", t, t + spec.duration_s, held, local_users(held, scale), rate_local, spec.warmup_s
                    )
                )
                t, users = t + spec.duration_s, held
            else:
                levels = step_levels(spec)
                if spec.kind == SEARCH:  # planned as its longest: max_steps steps (the run records what it chose)
                    levels = (levels + [levels[-1]] * spec.max_steps)[: spec.max_steps]
                for i, step_users in enumerate(levels, start=1):
                    seg = Segment(
                        "step",
                        f"step {i}",
                        t,
                        t + spec.step_s,
                        step_users,
                        local_users(step_users, scale),
                        rate_local,
                        spec.warmup_s,
                    )
                    segments.append(seg)
                    t, users = t + spec.step_s, step_users
        return segments


def step_levels(spec: PhaseSpec) -> list[int]:
    """The users of each step of a ``steps`` phase: start, then +step (linear) or x factor (geometric), up to
    max_users. Geometric steps resolve a saturation point to the same relative precision at any size."""
    levels, users = [], spec.start
    while users <= spec.max_users:
        levels.append(users)
        users = max(users + 1, round(users * spec.factor)) if spec.factor else users + spec.step
    return levels


def local_users(deploy_users: int, scale: float) -> int:
    """Users the generator runs for ``deploy_users`` deployment-scale users (at least 1)."""
    return max(1, round(deploy_users * scale)) if deploy_users > 0 else 0


@dataclass(frozen=True)
class Segment:
    kind: str
    label: str
    start_s: float
    end_s: float
    deploy_users: int
    users: int
    rate: float
    warmup_s: float

    @property
    def phase(self) -> Phase:
        return Phase(
            kind=self.kind,
            label=self.label,
            start_s=self.start_s,
            end_s=self.end_s,
            users=self.users,
            deploy_users=self.deploy_users,
            warmup_s=min(self.warmup_s, self.end_s - self.start_s),
        )


# ------------------------------------------------------------------------------------------- reading
WHOLE_KEYS = ("users", "start", "step", "max_users", "max_steps")  # whole numbers (of users, of steps)
NUMBER_KEYS = ("rate", "duration_s", "warmup_s", "factor", "step_s")  # any number
PROFILE_KEYS = ("description", "phases")

_in_use: Path | None = None  # the profiles file this process was told to use (--profiles); None: DEFAULT_PATH


def use(path: Path | str | None) -> None:
    """Make ``path`` the profiles file every later lookup without an explicit path reads (None: the shipped one)."""
    global _in_use
    _in_use = Path(path) if path is not None else None


def in_use() -> Path:
    """The profiles file lookups read: the one given to :func:`use`, else ``fixtures/profiles.toml``."""
    return _in_use if _in_use is not None else DEFAULT_PATH


def _checked(where: str, key: str, value: object) -> object:
    """``value`` of phase ``key``, or a message naming the file and the key."""
    if key == "kind":
        if value not in KINDS:
            raise ScaleperfError(f"{where}.kind: {value!r} is not one of {', '.join(KINDS)}")
        return value
    if key == "users" and value is None:
        return None
    whole = key in WHOLE_KEYS
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not float(value).is_integer()):
        raise ScaleperfError(f"{where}.{key}: {value!r} is not {'a whole number' if whole else 'a number'}")
    if not math.isfinite(value) or value < 0:
        raise ScaleperfError(f"{where}.{key}: {value!r} must be finite and not negative")
    return int(value) if whole else float(value)


def _spec(profile: str, index: int, raw: object, source: Path) -> PhaseSpec:
    where = f"{source}: profiles.{profile}.phases[{index + 1}]"
    if not isinstance(raw, dict):
        raise ScaleperfError(f"{where}: a phase is a table ([[profiles.{profile}.phases]]), not {raw!r}")
    if "kind" not in raw:
        raise ScaleperfError(f"{where}.kind: missing; say which kind of phase it is ({', '.join(KINDS)})")
    unknown = set(raw) - set(PhaseSpec.__dataclass_fields__)
    if unknown:
        raise ScaleperfError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(PhaseSpec.__dataclass_fields__)}")
    spec = PhaseSpec(**{key: _checked(where, key, value) for key, value in raw.items()})  # type: ignore[arg-type]
    kind = spec.kind
    if spec.rate <= 0:
        raise ScaleperfError(f"{where}.rate: must be above 0 users per second")
    if kind == "ramp" and not spec.users:
        raise ScaleperfError(f"{where}.users: a ramp needs users (the users to reach)")
    if kind == "plateau" and spec.duration_s <= 0:
        raise ScaleperfError(f"{where}.duration_s: a plateau needs duration_s above 0")
    if kind in ("steps", SEARCH) and not (spec.step_s > 0 and spec.max_users >= spec.start > 0):
        raise ScaleperfError(f"{where}: {kind} needs start > 0, step_s > 0 and max_users >= start")
    if kind == "steps" and (spec.step > 0) == (spec.factor > 0):
        raise ScaleperfError(f"{where}: steps need either step (users added per step) or factor (above 1), not both")
    if kind in ("steps", SEARCH) and spec.factor and spec.factor <= 1:
        raise ScaleperfError(f"{where}.factor: factor must be above 1 (each step larger than the last)")
    if kind == SEARCH and not (spec.factor > 1 and 0 < spec.precision < 1 and spec.max_steps >= 2 and spec.step == 0):
        raise ScaleperfError(
            f"{where}: a search needs factor (above 1: how fast it grows), precision (between 0 and 1: how close the "
            "bracket must get, 0.1 for 10 %) and max_steps (2 or more), and no step"
        )
    if kind == SEARCH and spec.warmup_s >= spec.step_s:
        raise ScaleperfError(f"{where}.warmup_s: must be shorter than step_s, or no part of a step is judged")
    return spec


def profile_from_dict(name: str, raw: dict, source: Path | str = "<profile>") -> LoadProfile:
    """A profile from its TOML table (``description``, ``phases = [...]``)."""
    source = Path(source)
    where = f"{source}: profiles.{name}"
    if not isinstance(raw, dict):
        raise ScaleperfError(f"{where}: a profile is a table ([profiles.{name}]), not {raw!r}")
    unknown = set(raw) - set(PROFILE_KEYS)
    if unknown:
        raise ScaleperfError(f"{where}: unknown keys {sorted(unknown)}; a profile has {' and '.join(PROFILE_KEYS)}")
    if not isinstance(raw.get("description", ""), str):
        raise ScaleperfError(f"{where}.description: {raw['description']!r} is not text")
    phases = raw.get("phases")
    if not isinstance(phases, list) or not phases:
        raise ScaleperfError(f"{where}.phases: the profile has no phases; add [[profiles.{name}.phases]] tables")
    specs = tuple(_spec(name, i, p, source) for i, p in enumerate(phases))
    if any(s.kind == SEARCH for s in specs[:-1]):
        raise ScaleperfError(f"{where}.phases: a search must be the last phase (it decides when the run ends)")
    return LoadProfile(name=name, phases_spec=specs, description=str(raw.get("description", "")))


def load_profiles(path: Path | None = None) -> dict[str, LoadProfile]:
    """Every profile of ``path`` (default: :func:`in_use`)."""
    source = Path(path) if path is not None else in_use()
    try:
        doc = tomllib.loads(source.read_text())
    except FileNotFoundError:
        raise ScaleperfError(f"load profiles file {source} not found; pass the path of a profiles.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScaleperfError(f"{source}: not valid TOML ({exc})") from None
    tables = doc.get("profiles")
    if not isinstance(tables, dict) or not tables:
        raise ScaleperfError(f"{source}: no [profiles.<name>] tables")
    return {name: profile_from_dict(name, raw, source) for name, raw in tables.items()}


def load_profile(name: str, path: Path | None = None) -> LoadProfile:
    """The profile ``name`` (smoke, standard, full, or one of your own) from the profiles file (:func:`in_use`)."""
    source = Path(path) if path is not None else in_use()
    profiles = load_profiles(source)
    if name not in profiles:
        raise ScaleperfError(
            f"no load profile {name!r} in {source}; choose one of {', '.join(profiles)} (or add [profiles.{name}] to it)"
        )
    return profiles[name]
