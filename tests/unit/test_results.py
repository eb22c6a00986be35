"""The on-disk results format: a run saved and loaded back is the same run, even when it was cut short."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scaleperf import results
from scaleperf.errors import ScaleperfError


def _columns(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "t": np.sort(rng.uniform(0, 60, n)),
        "latency_ms": rng.lognormal(2, 0.5, n).astype(np.float32),
        "name": rng.integers(0, 3, n).astype(np.uint16),
        "group": rng.integers(0, 2, n).astype(np.uint8),
        "size": rng.integers(10, 500, n).astype(np.uint32),
        "error": (rng.uniform(size=n) < 0.05).astype(np.uint8),
    }


def _result(n: int = 1000) -> results.RunResult:
    samples = results.Samples(**_columns(n), names=("/a", "/b", "/c"), groups=("polls", "auth"), error_kinds=("ok", "http 500"))
    phases = (
        results.Phase(kind="ramp", label="ramp", start_s=0, end_s=20, users=10, deploy_users=50),
        results.Phase(kind="plateau", label="plateau", start_s=20, end_s=60, users=10, deploy_users=50, warmup_s=5),
    )
    tel = results.Telemetry(
        component="app-1",
        tier="app",
        t=np.arange(60.0),
        cpu_pct=np.full(60, 40.0),
        throttled_pct=np.zeros(60),
        memory_mb=np.full(60, 80.0),
    )
    return results.RunResult(
        meta={"config": "single", "scale": 0.2, "complete": True},
        phases=phases,
        samples=samples,
        series={"t": np.arange(60), "rps": np.full(60, 16.0)},
        telemetry=(tel,),
        checks={"saturated": False},
    )


def test_samples_take_at_most_40_bytes_per_request():
    assert sum(np.dtype(d).itemsize for d in results.SAMPLE_DTYPES.values()) <= 40


def test_save_then_load_is_identical(tmp_path):
    original = _result()
    path = results.save(original, results.run_dir(tmp_path, "run1", "single", 1))
    loaded = results.load(path)
    for key, col in original.samples.columns().items():
        assert np.array_equal(getattr(loaded.samples, key), col), key
        assert getattr(loaded.samples, key).dtype == col.dtype
    assert loaded.samples.names == original.samples.names
    assert loaded.phases == original.phases
    assert loaded.scale == 0.2 and loaded.complete and loaded.config == "single"
    assert np.array_equal(loaded.series["rps"], original.series["rps"])
    assert loaded.telemetry[0].component == "app-1" and np.array_equal(loaded.telemetry[0].cpu_pct, np.full(60, 40.0))
    assert loaded.telemetry[0].requests is None


def test_incremental_chunks_of_an_interrupted_run_are_readable(tmp_path):
    w = results.RunWriter(tmp_path / "r1")
    a, b = _columns(300, seed=2), _columns(200, seed=3)
    w.append_samples(a)
    w.append_samples(b)
    empty = results.Samples.empty(names=("/a", "/b", "/c"), groups=("polls", "auth"))
    w.write_meta(meta={"config": "single", "complete": False}, phases=(), checks={}, samples=empty)
    loaded = results.load(tmp_path / "r1")
    assert len(loaded.samples) == 500 and not loaded.complete
    assert np.array_equal(loaded.samples.t, np.concatenate([a["t"], b["t"]]))


def test_mask_selects_window_and_group():
    r = _result()
    window = r.phases[1].window
    assert window == (25, 60)
    m = r.samples.mask(window=window, group="polls")
    assert m.sum() == np.sum((r.samples.t >= 25) & (r.samples.t < 60) & (r.samples.group == 0))
    assert r.samples.mask(group="nope").sum() == 0
    assert r.samples.mask(group="all").all()


def test_find_runs_lists_configs_and_replicates(tmp_path):
    for cfg, rep in (("single", 1), ("single", 2), ("vertical", 1)):
        results.save(_result(10), results.run_dir(tmp_path, "run9", cfg, rep))
    found = [(r.config, r.replicate) for r in results.find_runs(tmp_path, "run9")]
    assert found == [("single", 1), ("single", 2), ("vertical", 1)]


def test_other_schema_or_missing_meta_is_a_clear_error(tmp_path):
    with pytest.raises(ScaleperfError, match="no meta.json"):
        results.load(tmp_path)
    path = results.save(_result(10), tmp_path / "x")
    doc = json.loads((path / "meta.json").read_text())
    doc["schema"] = 99
    (path / "meta.json").write_text(json.dumps(doc))
    with pytest.raises(ScaleperfError, match="schema 99"):
        results.load(path)


def test_meta_is_written_with_its_secrets_masked(tmp_path):
    from test_report_document import AWS_KEY, JWT, PASSWORD, SECRETS, planted_meta

    reasons = [f"login failed for token {JWT}"]
    samples = results.Samples.empty(names=("/a",), groups=("polls",), error_kinds=("ok", f"HTTP 401: Bearer {JWT} expired"))
    meta = {"config": "single", "scale": 0.2, "complete": False, **planted_meta()}
    w = results.RunWriter(tmp_path / "r1")
    w.write_meta(meta=meta, phases=(), checks={"saturated": True, "reasons": reasons, "key": AWS_KEY}, samples=samples)
    text = (tmp_path / "r1" / "meta.json").read_text()
    for secret in SECRETS:
        assert secret not in text, secret
    loaded = results.load(tmp_path / "r1")
    assert loaded.meta["deployment"]["database_url"] == "postgresql://helpdesk:[redacted]@127.0.0.1:5432/helpdesk"
    assert loaded.meta["deployment"]["db_password"] == "[redacted]" and loaded.meta["config"] == "single"
    assert loaded.meta["scale"] == 0.2 and loaded.checks["saturated"] is True
    assert loaded.checks["reasons"] == ["login failed for token [redacted]"]
    assert loaded.samples.error_kinds == ("ok", "HTTP 401: Bearer [redacted] expired")
    assert meta["deployment"]["db_password"] == PASSWORD  # the caller's metadata is left as it was


def test_package_versions_are_the_installed_ones():
    import importlib.metadata

    versions = results.package_versions()
    assert set(versions) == {"locust", "gevent", "geventhttpclient", "numpy", "scipy", "scaleperf"}
    assert versions["numpy"] == importlib.metadata.version("numpy") == np.__version__
    assert versions["scaleperf"] == importlib.metadata.version("scaleperf")
    assert results.package_versions(("no-such-distribution-here",)) == {"no-such-distribution-here": None}


def test_git_dirty_tells_uncommitted_changes_and_none_without_git(tmp_path, monkeypatch):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "a.txt").write_text("one\n")
    subprocess.run([*git, "add", "a.txt"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=repo, check=True)
    assert results.git_dirty(repo) is False
    (repo / "a.txt").write_text("two\n")
    assert results.git_dirty(repo) is True
    assert results.git_dirty(tmp_path / "not-a-checkout") is None  # no such directory
    (tmp_path / "plain").mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert results.git_dirty(tmp_path / "plain") is None  # not a checkout
    monkeypatch.setenv("PATH", str(tmp_path / "plain"))
    assert results.git_dirty(repo) is None  # git absent
