"""The methodology section, taken from the locustfile and the load profile themselves, never typed twice.

The locustfile is imported in a child Python process (Locust patches the standard library with gevent on
import; the report process must stay unpatched), which prints what Locust itself sees: each user class
with its docstring, weight, wait time, tasks and task weights, and any frozen-dataclass settings the
class carries (the help desk's ``persona``: think times and action mix), with the docstrings of the
actions it names.  When Locust cannot be imported, the file is read with :mod:`ast`: docstrings and
literal weights only.

How load grows comes from the profile's phases (deployment-scale users), the SLOs from the SLO file,
and the statistical method from the analysis modules' own constants.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from scaleperf import profiles
from scaleperf.errors import ScaleperfError
from scaleperf.report.redact import scrub, scrub_text

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]  # the repository root (locustfiles/, fixtures/)
DEFAULT_LOCUSTFILE = REPO / "locustfiles" / "helpdesk.py"  # the suite's locustfile
PROFILES_PATH = REPO / "fixtures" / "profiles.toml"  # the committed load profiles
IMPORT_TIMEOUT_S = 60.0  # importing Locust and the locustfile in the child process
LOCUST_MODULES = ("locust", "locust.user.users")  # where User base classes live (they are not personas)

# Runs in the child process: import the locustfile, print its user classes as JSON on the last line.
_INTROSPECT = r"""
import dataclasses, importlib.util, inspect, json, sys
path = sys.argv[1]
spec = importlib.util.spec_from_file_location("scaleperf_locustfile", path)
mod = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mod
spec.loader.exec_module(mod)
from locust import User

def plain(v):
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)

def wait(cls):
    w = cls.__dict__.get("wait_time") or getattr(cls, "wait_time", None)
    if w is None:
        return None
    cells = dict(zip(getattr(getattr(w, "__code__", None), "co_freevars", ()), [c.cell_contents for c in (w.__closure__ or ())]))
    if {"min_wait", "max_wait"} <= set(cells):
        return f"between({cells['min_wait']:g}, {cells['max_wait']:g}) s"
    if "wait_time" in cells:
        return f"constant({cells['wait_time']:g}) s"
    for owner in cls.__mro__:
        if "wait_time" in owner.__dict__:
            doc = inspect.getdoc(owner.__dict__["wait_time"]) or ""
            return f"custom ({owner.__name__}.wait_time){': ' + doc.splitlines()[0] if doc else ''}"
    return repr(w)

users = []
for name, cls in vars(mod).items():
    if not (isinstance(cls, type) and issubclass(cls, User)) or cls.__dict__.get("abstract") or cls.__module__ != spec.name:
        continue
    tasks = {}
    for t in cls.tasks:
        key = getattr(t, "__name__", repr(t))
        tasks[key] = tasks.get(key, 0) + 1
    task_docs = {k: (inspect.getdoc(getattr(cls, k, None)) or "") for k in tasks}
    settings, action_docs = {}, {}
    for attr in dir(cls):
        v = getattr(cls, attr, None)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            settings[attr] = plain(v)
            for f in dataclasses.fields(v):
                inner = getattr(v, f.name)
                if isinstance(inner, dict):
                    for k in inner:
                        if callable(getattr(cls, str(k), None)):
                            action_docs[str(k)] = inspect.getdoc(getattr(cls, str(k))) or ""
    users.append(dict(name=name, doc=inspect.getdoc(cls) or "", weight=getattr(cls, "weight", 1),
                      fixed_count=getattr(cls, "fixed_count", 0), wait=wait(cls), tasks=tasks, task_docs=task_docs,
                      settings=settings, action_docs=action_docs))
print(json.dumps({"doc": inspect.getdoc(mod) or "", "users": users}))
"""


@dataclass(frozen=True)
class Persona:
    """One Locust user class as Locust sees it."""

    name: str
    doc: str
    weight: int
    wait: str | None
    tasks: dict[str, int]  # task name -> weight
    task_docs: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)  # frozen-dataclass attributes (e.g. persona), as plain data
    action_docs: dict[str, str] = field(default_factory=dict)  # docstrings of the actions the settings name
    fixed_count: int = 0


@dataclass(frozen=True)
class LocustfileFacts:
    path: Path
    doc: str
    personas: tuple[Persona, ...]
    source: str  # "locust" (imported) or "ast" (read without Locust)


def _from_import(path: Path, env: dict[str, str]) -> dict:
    src = str(REPO / "src")
    child_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH", "")]))}
    proc = subprocess.run(
        [sys.executable, "-c", _INTROSPECT, str(path)],
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_S,
        cwd=path.parent,
        env=child_env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(scrub_text(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _from_ast(path: Path) -> dict:
    tree = ast.parse(path.read_text(), filename=str(path))
    users = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or not node.bases:
            continue
        attrs = {
            t.id: stmt.value
            for stmt in node.body
            if isinstance(stmt, ast.Assign)
            for t in stmt.targets
            if isinstance(t, ast.Name)
        }
        if isinstance(attrs.get("abstract"), ast.Constant) and attrs["abstract"].value is True:
            continue
        tasks = {}
        for stmt in node.body:
            if isinstance(stmt, ast.FunctionDef):
                for d in stmt.decorator_list:
                    if isinstance(d, ast.Name) and d.id == "task":
                        tasks[stmt.name] = 1
                    elif isinstance(d, ast.Call) and getattr(d.func, "id", "") == "task":
                        arg = d.args[0] if d.args else None
                        tasks[stmt.name] = arg.value if isinstance(arg, ast.Constant) else 1
        weight = attrs.get("weight")
        wait = attrs.get("wait_time")
        base_names = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
        if not tasks and "weight" not in attrs and not any(n.endswith("User") for n in base_names):
            continue
        users.append(
            dict(
                name=node.name,
                doc=ast.get_docstring(node) or "",
                weight=weight.value if isinstance(weight, ast.Constant) else 1,
                wait=ast.unparse(wait) if wait is not None else None,
                tasks=tasks,
            )
        )
    return {"doc": ast.get_docstring(tree) or "", "users": users}


def read_locustfile(path: Path | str | None = None, env: dict[str, str] | None = None) -> LocustfileFacts:
    """The personas of the locustfile at ``path`` (default: the suite's), as Locust sees them."""
    path = Path(path) if path is not None else DEFAULT_LOCUSTFILE
    if not path.is_file():
        raise ScaleperfError(f"locustfile {path} not found; pass the locustfile the run used")
    try:
        raw, source = _from_import(path, env or {}), "locust"
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as exc:
        log.warning("could not import %s with Locust (%s); reading it without Locust", path, exc)
        raw, source = _from_ast(path), "ast"
    personas = tuple(
        Persona(
            name=u["name"],
            doc=u.get("doc", ""),
            weight=int(u.get("weight", 1)),
            wait=u.get("wait"),
            tasks={k: int(v) for k, v in u.get("tasks", {}).items()},
            task_docs=u.get("task_docs", {}),
            settings=scrub(u.get("settings", {})),  # type: ignore[arg-type]
            action_docs=u.get("action_docs", {}),
            fixed_count=int(u.get("fixed_count", 0)),
        )
        for u in raw["users"]
    )
    return LocustfileFacts(path=path, doc=raw.get("doc", ""), personas=personas, source=source)


# ---------------------------------------------------------------------------------------- load growth
def _plural(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if n == 1 else "s")


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return _plural(seconds / 60, "minute")
    return _plural(seconds, "second")


def describe_phases(raw_phases: list[dict]) -> list[str]:
    """One sentence per profile phase (deployment-scale users), e.g. "one new user per second up to 500 users"."""
    out: list[str] = []
    users = 0
    for p in raw_phases:
        kind = p.get("kind")
        rate = float(p.get("rate", 1.0))
        per_second = "one new user per second" if rate == 1 else f"{rate:g} new users per second"
        if kind == "ramp":
            users = int(p.get("users", users))
            out.append(f"ramp: {per_second} up to {users} users")
        elif kind == "plateau":
            users = int(p.get("users") or users)
            warm = float(p.get("warmup_s", 0))
            text = f"plateau: {users} users held for {_duration(float(p.get('duration_s', 0)))}"
            out.append(text + (f", the first {_duration(warm)} discarded as warm-up" if warm else ""))
        elif kind == "steps":
            spec = profiles.PhaseSpec(**{k: v for k, v in p.items() if k in profiles.PhaseSpec.__dataclass_fields__})
            levels = profiles.step_levels(spec)
            warm = float(p.get("warmup_s", 0))
            growth = f"each {spec.factor:g} times the last" if spec.factor else f"in steps of {spec.step}"
            text = (
                f"steps: from {levels[0]} to {levels[-1]} users {growth} ({', '.join(map(str, levels))}), "
                f"each held {_duration(spec.step_s)} ({per_second} between steps"
            )
            out.append(text + (f"; the first {_duration(warm)} of each step discarded as warm-up)" if warm else ")"))
            users = levels[-1]
        elif kind == "search":
            warm = float(p.get("warmup_s", 0))
            text = (
                f"saturation search: steps from {int(p.get('start', 0))} users, each {float(p.get('factor', 0)):g} times the "
                f"last until one breaks an SLO or stops tracking the offered load, then bisection until the highest step "
                f"that held and the lowest that broke are within {float(p.get('precision', 0)):.0%} "
                f"(at most {int(p.get('max_steps', 0))} steps, up to {int(p.get('max_users', 0))} users), each held "
                f"{_duration(float(p.get('step_s', 0)))} ({per_second} between steps"
            )
            text += (
                f"; the first {_duration(warm)} of each step discarded as warm-up at most, less once a higher step's "
                "new users have all signed in)"
                if warm
                else ")"
            )
            out.append(
                text + "; a clearly broken step ends early, and the next, lower step sheds its surplus users at once "
                "and keeps its whole warm-up, in which the queue drains"
            )
        else:
            out.append(f"{kind}: {json.dumps(p)}")
    return out


def profile_phases(profile: object) -> tuple[str, str, list[dict]]:
    """(name, description, raw phases) of the profile a run recorded: a name in fixtures/profiles.toml, or its dict."""
    if isinstance(profile, dict):
        return str(profile.get("name", "?")), str(profile.get("description", "")), list(profile.get("phases", []))
    name = str(profile or "")
    try:
        with PROFILES_PATH.open("rb") as f:
            table = tomllib.load(f).get("profiles", {}).get(name)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("profiles unreadable: %s", exc)
        table = None
    if table is None:
        return name or "?", "", []
    return name, str(table.get("description", "")), list(table.get("phases", []))


def recorded_profile(meta: dict) -> tuple[str, str, list[dict], bool]:
    """(name, description, raw phases, recorded) of the profile a run used, from what the run recorded.

    The engine records the profile's name, description and phases (``profile``, ``profile_description``,
    ``profile_phases``); a run may also carry the whole profile as a dict under ``profile``.  Only a run that
    recorded no phases falls back to the profile of that name in today's ``fixtures/profiles.toml``
    (``recorded`` is then False).  A run that recorded phases but no description takes today's description
    only while today's phases are still the ones it ran.
    """
    profile = meta.get("profile")
    if isinstance(profile, dict) and profile.get("phases"):
        name, description, phases = profile_phases(profile)
        return name, description, phases, True
    name = str(profile.get("name", "?") if isinstance(profile, dict) else profile or "?")
    phases = meta.get("profile_phases")
    if isinstance(phases, list) and phases:
        description = meta.get("profile_description")
        if description is None:
            description = _description_if_unchanged(name, phases)
        return name, str(description or ""), [dict(p) for p in phases], True
    name, description, phases = profile_phases(name)
    return name, description, phases, False


def _description_if_unchanged(name: str, phases: list[dict]) -> str:
    try:
        today = profiles.load_profiles(PROFILES_PATH).get(name)
    except ScaleperfError:
        return ""
    return today.description if today is not None and today.raw() == phases else ""


# -------------------------------------------------------------------------------------- statistics
def statistical_method() -> list[str]:
    """How the numbers are computed, from the analysis modules' own settings."""
    from scaleperf.analysis import compare, stats

    try:
        family = len(compare.load_expectations(None))
    except ScaleperfError:
        family = 1
    return [
        f"Percentiles: numpy's `method=\"{stats.PERCENTILE_METHOD}\"` (k6's definition, interpolating at q(n-1)) "
        "over the exact response time of every request, not Locust's rounded histogram.",
        "SLOs are judged once per configuration over the requests of every replicate's plateau (after its "
        "warm-up; an SLO may name other phases: logins are judged on the ramp too, where users arrive), pooled; "
        "an SLO is decided when a distribution-free 95 % confidence interval of its metric (order statistics "
        "for a percentile, Clopper-Pearson for an error rate) lies wholly on one side of the threshold. A "
        "replicate whose load generator could not keep up in the window is left out, and named.",
        "Saturation: the load steps, each judged after its warm-up against the SLOs and on whether the achieved "
        "throughput (completed requests per second) tracks the offered load; cross-checked with a Universal "
        "Scalability Law fit and the knee of throughput against users. Capacity (the highest throughput that "
        "still tracked the load) and the SLO-compliant load are reported apart.",
        f"Comparisons: the unit of analysis is the replicate run; each run's plateau is cut into batches long "
        f"enough that adjacent batch means correlate at most {stats.MAX_BATCH_CORRELATION:g} (at least {stats.MIN_BATCH_S} s), "
        "and the run's value is the mean of its batch values; a throughput claim compares each run's capacity "
        "from its load steps.",
        f"Two-sided Mann-Whitney U on the replicate values, its p multiplied by the {family} declared comparisons "
        f"(family-wise alpha {compare.DEFAULT_ALPHA:g}; at least {stats.min_replicates(family)} replicates per side "
        f"to reject anything); a Welch t-interval of the ratio on the log replicate values at level "
        f"{1 - compare.DEFAULT_ALPHA / family:.4g}; one effect size per claim (default "
        f"{compare.DEFAULT_MIN_EFFECT:.0%}) for pass and fail; Cliff's delta, and Kruskal-Wallis across every "
        "configuration alongside. With CPU limits 'none' saturation points and comparisons are inconclusive.",
    ]
