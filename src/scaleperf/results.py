"""What a load run measured, in memory and on disk.

A :class:`RunResult` holds every request (exact, columnar), the per-second series, the phases of the
load profile, the target-side telemetry and the facts needed to judge the run itself.  It is the
contract between the load engine, analysis and reports: analysis and reports read only this.

On disk, one run of one configuration lives in ``<results>/<run-id>/<config>/r<replicate>/``::

    meta.json            facts, phases, self-checks, names; "complete": false until the run ends; secrets masked
    samples/part-*.npz   request columns, appended in chunks as the run goes
    series.npz           per-second series
    telemetry.npz        target-side series, one prefix per component

A run killed mid-way leaves its chunks and a meta.json marked incomplete; :func:`load` reads it.
Nothing secret reaches the disk through meta.json: metadata, self-checks and the name tables pass through
:func:`scaleperf.report.redact.scrub` as they are written (a deployment's description may carry a database
URL with its password, a token or AWS keys).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from scaleperf.errors import ScaleperfError
from scaleperf.report.redact import scrub

SCHEMA_VERSION = 1
OK = 0  # error-kind index of a successful request; error_kinds[0] is always "ok"

# Columns of the raw samples and their dtypes: 8 + 4 + 2 + 1 + 4 + 1 = 20 bytes per request.
SAMPLE_DTYPES = {
    "t": np.float64,  # request start, seconds since the run's t0
    "latency_ms": np.float32,  # exact response time in milliseconds
    "name": np.uint16,  # index into names
    "group": np.uint8,  # index into groups (polls, auth, writes, reads, ...)
    "size": np.uint32,  # response body bytes
    "error": np.uint8,  # index into error_kinds; 0 = ok
}
# Distributions whose versions a run records (meta["versions"]): the load generator and what computes the figures.
VERSIONED_PACKAGES = ("locust", "gevent", "geventhttpclient", "numpy", "scipy", "scaleperf")
GIT_TIMEOUT_S = 5.0  # `git status` of the checkout a run came from
SERIES_KEYS = ("t", "users", "deploy_users", "rps", "fail_rps", "p50_ms", "p95_ms", "p99_ms", "gen_cpu_pct")


@dataclass(frozen=True)
class Phase:
    """A labelled span of the load profile. ``warmup_s``: leading seconds analysis discards."""

    kind: str  # "ramp" | "plateau" | "step"
    label: str  # e.g. "ramp", "plateau", "step 3"
    start_s: float
    end_s: float
    users: int  # local (generated) users held in this phase
    deploy_users: int  # the same load in deployment-scale users
    warmup_s: float = 0.0

    @property
    def window(self) -> tuple[float, float]:
        """The analysed window: the phase after its warm-up."""
        return (self.start_s + self.warmup_s, self.end_s)


@dataclass(frozen=True)
class Samples:
    """Every request, as parallel columns (see ``SAMPLE_DTYPES``)."""

    t: np.ndarray
    latency_ms: np.ndarray
    name: np.ndarray
    group: np.ndarray
    size: np.ndarray
    error: np.ndarray
    names: tuple[str, ...]
    groups: tuple[str, ...]
    error_kinds: tuple[str, ...] = ("ok",)

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def empty(cls, names=(), groups=(), error_kinds=("ok",)) -> Samples:
        cols = {k: np.zeros(0, dtype=v) for k, v in SAMPLE_DTYPES.items()}
        return cls(**cols, names=tuple(names), groups=tuple(groups), error_kinds=tuple(error_kinds))

    def columns(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in SAMPLE_DTYPES}

    def mask(self, *, window: tuple[float, float] | None = None, group: str | None = None, name: str | None = None) -> np.ndarray:
        """Boolean mask of the requests started in ``window`` and belonging to ``group``/``name``."""
        m = np.ones(len(self), dtype=bool)
        if window is not None:
            m &= (self.t >= window[0]) & (self.t < window[1])
        if group not in (None, "all"):
            m &= self.group == (self.groups.index(group) if group in self.groups else -1)
        if name is not None:
            m &= self.name == (self.names.index(name) if name in self.names else -1)
        return m

    def select(self, m: np.ndarray) -> Samples:
        return Samples(
            **{k: v[m] for k, v in self.columns().items()}, names=self.names, groups=self.groups, error_kinds=self.error_kinds
        )

    @property
    def failed(self) -> np.ndarray:
        return self.error != OK


@dataclass(frozen=True)
class Telemetry:
    """Target-side series of one component (an app instance, the database, the load balancer)."""

    component: str  # "app-1", "db", "lb"
    tier: str  # "app" | "db" | "lb"
    t: np.ndarray  # seconds since the run's t0
    cpu_pct: np.ndarray  # CPU used, percent of the component's allotted vCPUs (100 = all of them busy)
    throttled_pct: np.ndarray  # percent of the second the component was throttled (NaN where unknown)
    memory_mb: np.ndarray  # resident memory (NaN where unknown)
    requests: np.ndarray | None = None  # requests this component served per second (NaN/None where unknown)


@dataclass(frozen=True)
class RunResult:
    """One load run of one configuration: the raw samples plus everything needed to judge them."""

    meta: dict  # config, provider facts, profile, scale, versions, git, machine, run_id, replicate, complete
    phases: tuple[Phase, ...]
    samples: Samples
    series: dict[str, np.ndarray]  # SERIES_KEYS, one value per second since t0
    telemetry: tuple[Telemetry, ...] = ()
    checks: dict = field(default_factory=dict)  # generator self-checks; "saturated": bool, "reasons": [str]

    @property
    def config(self) -> str:
        return self.meta.get("config", "?")

    @property
    def scale(self) -> float:
        return float(self.meta.get("scale", 1.0))

    @property
    def complete(self) -> bool:
        return bool(self.meta.get("complete", False))

    @property
    def generator_saturated(self) -> bool:
        return bool(self.checks.get("saturated", False))

    def phases_of(self, kind: str) -> list[Phase]:
        return [p for p in self.phases if p.kind == kind]


# --------------------------------------------------------------------------------------------- disk
def run_dir(results_dir: Path, run_id: str, config: str, replicate: int) -> Path:
    return Path(results_dir) / run_id / config / f"r{replicate}"


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class RunWriter:
    """Writes one run's directory as the run goes, so that a killed run leaves readable results."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        (self.path / "samples").mkdir(parents=True, exist_ok=True)
        self._parts = len(list((self.path / "samples").glob("part-*.npz")))

    def write_meta(self, *, meta: dict, phases: tuple[Phase, ...] | list[Phase], checks: dict, samples: Samples) -> None:
        """Write meta.json with every secret masked (see :mod:`scaleperf.report.redact`)."""
        doc = {
            "schema": SCHEMA_VERSION,
            "meta": scrub(meta),
            "phases": [asdict(p) for p in phases],
            "checks": scrub(checks),
            "names": scrub(list(samples.names)),
            "groups": scrub(list(samples.groups)),
            "error_kinds": scrub(list(samples.error_kinds)),
        }
        _atomic_write(self.path / "meta.json", json.dumps(doc, indent=2, default=_json_default).encode())

    def append_samples(self, columns: dict[str, np.ndarray]) -> None:
        """Append one chunk of request columns (keys and dtypes as ``SAMPLE_DTYPES``)."""
        if not len(columns["t"]):
            return
        self._parts += 1
        target = self.path / "samples" / f"part-{self._parts:05d}.npz"
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **{k: np.asarray(columns[k], dtype=v) for k, v in SAMPLE_DTYPES.items()})
        os.replace(tmp, target)

    def write_series(self, series: dict[str, np.ndarray]) -> None:
        with open(self.path / "series.npz.tmp", "wb") as f:
            np.savez(f, **series)
        os.replace(self.path / "series.npz.tmp", self.path / "series.npz")

    def write_telemetry(self, telemetry: tuple[Telemetry, ...] | list[Telemetry]) -> None:
        arrays: dict[str, np.ndarray] = {}
        index = []
        for i, tel in enumerate(telemetry):
            index.append({"component": tel.component, "tier": tel.tier})
            for key in ("t", "cpu_pct", "throttled_pct", "memory_mb", "requests"):
                value = getattr(tel, key)
                if value is not None:
                    arrays[f"{i}__{key}"] = np.asarray(value, dtype=np.float64)
        arrays["__index__"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
        with open(self.path / "telemetry.npz.tmp", "wb") as f:
            np.savez(f, **arrays)
        os.replace(self.path / "telemetry.npz.tmp", self.path / "telemetry.npz")


def package_versions(packages: tuple[str, ...] = VERSIONED_PACKAGES) -> dict[str, str | None]:
    """The installed version of each distribution in ``packages`` (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_dirty(repo: Path) -> bool | None:
    """Whether the git checkout at ``repo`` has uncommitted changes (``git status --porcelain`` says anything).

    None when it cannot be told: git is not installed, ``repo`` is not a checkout, or git took too long.
    """
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return bool(out.stdout.strip())


def save(result: RunResult, path: Path) -> Path:
    """Write a whole result at once (the load engine writes incrementally with :class:`RunWriter`)."""
    w = RunWriter(path)
    for old in (w.path / "samples").glob("part-*.npz"):
        old.unlink()
    w._parts = 0
    w.append_samples(result.samples.columns())
    w.write_series(result.series)
    w.write_telemetry(result.telemetry)
    w.write_meta(meta=result.meta, phases=result.phases, checks=result.checks, samples=result.samples)
    return w.path


def load(path: Path) -> RunResult:
    """Read a run directory written by :func:`save` or :class:`RunWriter` (complete or not)."""
    path = Path(path)
    try:
        doc = json.loads((path / "meta.json").read_text())
    except FileNotFoundError as exc:
        raise ScaleperfError(f"{path}: no meta.json; not a scaleperf run directory") from exc
    except json.JSONDecodeError as exc:
        raise ScaleperfError(f"{path}/meta.json: not valid JSON ({exc})") from exc
    if doc.get("schema") != SCHEMA_VERSION:
        raise ScaleperfError(f"{path}: results schema {doc.get('schema')} is not {SCHEMA_VERSION}; rerun with this scaleperf")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in SAMPLE_DTYPES}
    for part in sorted((path / "samples").glob("part-*.npz")):
        with np.load(part) as z:
            for k in SAMPLE_DTYPES:
                cols[k].append(z[k])
    samples = Samples(
        **{k: (np.concatenate(v) if v else np.zeros(0, dtype=SAMPLE_DTYPES[k])) for k, v in cols.items()},
        names=tuple(doc.get("names", ())),
        groups=tuple(doc.get("groups", ())),
        error_kinds=tuple(doc.get("error_kinds", ("ok",))),
    )
    series: dict[str, np.ndarray] = {}
    if (path / "series.npz").exists():
        with np.load(path / "series.npz") as z:
            series = {k: z[k] for k in z.files}
    telemetry: list[Telemetry] = []
    if (path / "telemetry.npz").exists():
        with np.load(path / "telemetry.npz") as z:
            index = json.loads(bytes(z["__index__"]).decode())
            for i, entry in enumerate(index):
                nan = np.full(len(z[f"{i}__t"]), np.nan)
                telemetry.append(
                    Telemetry(
                        component=entry["component"],
                        tier=entry["tier"],
                        t=z[f"{i}__t"],
                        cpu_pct=z[f"{i}__cpu_pct"] if f"{i}__cpu_pct" in z.files else nan,
                        throttled_pct=z[f"{i}__throttled_pct"] if f"{i}__throttled_pct" in z.files else nan,
                        memory_mb=z[f"{i}__memory_mb"] if f"{i}__memory_mb" in z.files else nan,
                        requests=z[f"{i}__requests"] if f"{i}__requests" in z.files else None,
                    )
                )
    phases = tuple(Phase(**p) for p in doc.get("phases", ()))
    return RunResult(
        meta=doc.get("meta", {}),
        phases=phases,
        samples=samples,
        series=series,
        telemetry=tuple(telemetry),
        checks=doc.get("checks", {}),
    )


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    config: str
    replicate: int
    path: Path


_REPLICATE = re.compile(r"^r(\d+)$")


def find_runs(results_dir: Path, run_id: str | None = None) -> Iterator[StoredRun]:
    """Every stored run under ``results_dir`` (of one ``run_id`` when given), ordered by path."""
    root = Path(results_dir)
    run_dirs = [root / run_id] if run_id else sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
    for rd in run_dirs:
        for meta in sorted(rd.glob("*/r*/meta.json")):
            m = _REPLICATE.match(meta.parent.name)
            if m:
                yield StoredRun(run_id=rd.name, config=meta.parent.parent.name, replicate=int(m.group(1)), path=meta.parent)
