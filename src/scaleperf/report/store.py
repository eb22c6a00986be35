"""The run's verdicts on disk: judged once (:func:`scaleperf.analysis.session.judge`), kept in ``verdicts.json``.

``verdicts.json`` sits in the run's directory beside the replicates and holds the verdicts with the inputs
they were judged on: the stored runs (configuration, replicate, a hash of each ``meta.json``), the
provider, the SLOs, the saturation minimums, the declared expectations and whether an unlimited setup was
accepted.  :func:`ensure` returns the stored verdicts while those inputs are unchanged and judges afresh
(and rewrites the file) when they are not, so the perf tests, the session summary, the HTML report, the
results document and ``scaleperf report`` all read one set of verdicts, and rebuilding from disk gives the
same ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from scaleperf import results as results_mod
from scaleperf.analysis import expectations as expectations_mod
from scaleperf.analysis import session, slo
from scaleperf.analysis.verdict import Verdict, from_json, key, to_json
from scaleperf.errors import ScaleperfError
from scaleperf.results import RunResult

log = logging.getLogger(__name__)

FILE_NAME = "verdicts.json"
SCHEMA = 1
_cache: dict[tuple[str, str], Stored] = {}  # (run dir, fingerprint of the inputs) -> what ensure() returned


@dataclass(frozen=True)
class Stored:
    """The verdicts of one run and what they were judged on."""

    path: Path
    inputs: dict
    verdicts: tuple[Verdict, ...]

    @property
    def by_key(self) -> dict[str, Verdict]:
        return {key(v): v for v in self.verdicts}

    def get(self, name: str) -> Verdict | None:
        return self.by_key.get(name)

    def of_kind(self, kind: str) -> list[Verdict]:
        return [v for v in self.verdicts if v.kind == kind]


def _config_order(names: set[str]) -> list[str]:
    try:
        from scaleperf.configs import load_configs

        known = list(load_configs())
    except ScaleperfError:
        known = []
    return [n for n in known if n in names] + sorted(names - set(known))


def stored_runs(run_dir: Path) -> list[tuple[str, int, Path]]:
    """(configuration, replicate, directory) of every replicate stored in ``run_dir``."""
    return [(s.config, s.replicate, s.path) for s in results_mod.find_runs(run_dir.parent, run_dir.name)]


def load_runs(run_dir: Path) -> dict[str, list[RunResult]]:
    """Every stored replicate of the run, by configuration (configurations in configs.toml order)."""
    by_config: dict[str, list[RunResult]] = {}
    for config, _, path in stored_runs(run_dir):
        result = results_mod.load(path)
        if "config" not in result.meta:
            result = RunResult(**{**result.__dict__, "meta": {**result.meta, "config": config}})
        by_config.setdefault(config, []).append(result)
    return {name: by_config[name] for name in _config_order(set(by_config))}


def _run_hashes(run_dir: Path) -> list[dict]:
    out = []
    for config, replicate, path in stored_runs(run_dir):
        digest = hashlib.sha256((path / "meta.json").read_bytes()).hexdigest()[:16]
        out.append({"config": config, "replicate": replicate, "meta_sha256": digest})
    return out


def _provider(runs: dict[str, list[RunResult]]) -> str:
    from scaleperf.report.describe import provider_of

    first = next((r for rs in runs.values() for r in rs), None)
    return provider_of(first) if first is not None else "local"


def inputs_for(
    runs: dict[str, list[RunResult]], *, accept_unlimited: bool = False, provider: str | None = None
) -> session.Inputs:
    """The committed SLOs, minimums and expectations for the run's provider."""
    provider = provider or _provider(runs)
    try:
        slos = slo.load_slos(None, provider)
    except ScaleperfError as exc:
        log.warning("no SLOs for provider %s: %s", provider, exc)
        slos = []
    minimums = {}
    for name in runs:
        try:
            found = slo.saturation_minimum(None, provider, name)
        except ScaleperfError:
            found = None
        if found is not None:
            minimums[name] = found
    try:
        exps = expectations_mod.load_expectations(None)
    except ScaleperfError as exc:
        log.warning("no comparisons: %s", exc)
        exps = []
    return session.Inputs(provider=provider, slos=tuple(slos), minimums=minimums, expectations=tuple(exps),
                          accept_unlimited=accept_unlimited)  # fmt: skip


def _fingerprint(described: dict) -> str:
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def read(run_dir: Path) -> Stored | None:
    """The stored verdicts, as written (None when there are none, or they are of another schema)."""
    path = Path(run_dir) / FILE_NAME
    try:
        doc = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if doc.get("schema") != SCHEMA:
        return None
    return Stored(path=path, inputs=doc["inputs"], verdicts=tuple(from_json(v) for v in doc["verdicts"]))


def write(run_dir: Path, inputs: dict, verdicts: list[Verdict]) -> Stored:
    path = Path(run_dir) / FILE_NAME
    doc = {"schema": SCHEMA, "inputs": inputs, "verdicts": [to_json(v) for v in verdicts]}
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False))
    tmp.replace(path)
    return Stored(path=path, inputs=inputs, verdicts=tuple(from_json(v) for v in doc["verdicts"]))


def ensure(
    run_dir: Path | str, *, accept_unlimited: bool | None = None, runs: dict[str, list[RunResult]] | None = None
) -> Stored:
    """The run's verdicts: those in ``verdicts.json`` while their inputs still hold, else judged now and written.

    ``accept_unlimited`` None keeps what the stored verdicts were judged with (False when there are none).
    """
    run_dir = Path(run_dir)
    previous = read(run_dir)
    if accept_unlimited is None:
        accept_unlimited = bool(previous.inputs.get("accept_unlimited")) if previous else False
    hashes = _run_hashes(run_dir)
    if not hashes:
        raise ScaleperfError(f"{run_dir}: no stored runs in it; run the perf tests first")
    provider = previous.inputs.get("provider") if previous else None
    if runs is None and previous is not None:
        # The inputs can be checked without loading a single run, when the provider is known from before.
        described = {**inputs_for({c: [] for c, *_ in stored_runs(run_dir)}, accept_unlimited=accept_unlimited,
                                  provider=provider).describe(), "runs": hashes}  # fmt: skip
        if previous.inputs.get("fingerprint") == _fingerprint(described):
            return previous
    runs = runs if runs is not None else load_runs(run_dir)
    inputs = inputs_for(runs, accept_unlimited=accept_unlimited)
    described = {**inputs.describe(), "runs": hashes}
    fingerprint = _fingerprint(described)
    if previous is not None and previous.inputs.get("fingerprint") == fingerprint:
        return previous
    cached = _cache.get((str(run_dir), fingerprint))
    verdicts = list(cached.verdicts) if cached is not None else session.judge(runs, inputs)
    stored = write(run_dir, {**described, "fingerprint": fingerprint}, verdicts)
    _cache[(str(run_dir), fingerprint)] = stored
    log.info("verdicts judged and written: %s", stored.path)
    return stored
