"""The raw-sample recorder, the per-second series and the Locust-format CSVs, without a load run."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from locust.env import Environment
from locust.exception import CatchResponseError
from locust.stats import StatsCSV, StatsCSVFileWriter

from scaleperf import results
from scaleperf.load import csv as locust_csv
from scaleperf.load import recorder as rec_mod
from scaleperf.load.recorder import COLUMNS, MAX_ERROR_KINDS, OTHER_ERRORS, Recorder
from scaleperf.load.series import per_second


def _record(rec: Recorder, n: int, *, name="/a", group="reads", start=1000.0, latency=1.5, error=None) -> None:
    for i in range(n):
        rec.record(start=start + i * 0.01, method="GET", name=name, group=group, latency_ms=latency + i, size=10, exception=error)


def test_a_request_costs_at_most_40_bytes():
    assert sum(np.dtype(v).itemsize for v in COLUMNS.values()) == 20
    assert sum(np.dtype(v).itemsize for v in results.SAMPLE_DTYPES.values()) <= 40


def test_latencies_are_kept_exact_and_full_chunks_spill():
    chunks = []
    rec = Recorder(sink=chunks.append, chunk_rows=4)
    _record(rec, 10, latency=0.123)
    assert [len(c["t"]) for c in chunks] == [4, 4]
    assert rec.buffered == 2
    rec.spill()
    lat = np.concatenate([c["latency_ms"] for c in chunks])
    np.testing.assert_allclose(lat, np.float32(0.123 + np.arange(10)), rtol=0, atol=0)
    assert rec.total == 10


def test_error_kinds_are_interned_and_capped():
    rec = Recorder(sink=lambda c: None)
    _record(rec, 1, error=CatchResponseError("expected 200, got 500"))
    _record(rec, 1, error=ConnectionRefusedError("refused"))
    assert rec.table(rec.errors)[:3] == ("ok", "expected 200, got 500", "ConnectionRefusedError: refused")
    for i in range(MAX_ERROR_KINDS + 5):
        _record(rec, 1, error=CatchResponseError(f"kind {i}"))
    kinds = rec.table(rec.errors)
    assert len(kinds) <= MAX_ERROR_KINDS + 1 and kinds[-1] == OTHER_ERRORS
    assert rec.take()["error"].max() == len(kinds) - 1


def test_worker_reports_merge_exactly_into_the_masters_tables():
    master_chunks = []
    master = Recorder(sink=master_chunks.append)
    _record(master, 2, name="/m", group="polls")
    w1, w2 = Recorder(), Recorder()
    _record(w1, 3, name="/x", group="auth", error=CatchResponseError("bad body"))
    _record(w2, 5, name="/y", group="writes")
    _record(w2, 1, name="/x", group="auth")
    assert master.merge("w1", w1.report(users=3)) == 3
    assert master.merge("w2", w2.report(users=0)) == 6
    master.spill()
    cols = {k: np.concatenate([c[k] for c in master_chunks]) for k in COLUMNS}
    names, groups, errors = master.table(master.names), master.table(master.groups), master.table(master.errors)
    got = sorted(
        zip((names[i] for i in cols["name"]), (groups[i] for i in cols["group"]), (errors[i] for i in cols["error"]), strict=True)
    )
    want = sorted(
        [("/m", "polls", "ok")] * 2 + [("/x", "auth", "bad body")] * 3 + [("/y", "writes", "ok")] * 5 + [("/x", "auth", "ok")]
    )
    assert got == want
    assert master.workers["w2"]["users"] == 0 and master.workers["w1"]["requests"] == 3
    assert w1.report(users=0)["cols"]["t"] == b""  # a report ships each row once


def test_task_lag_travels_from_workers_with_its_times():
    master, worker, old = Recorder(), Recorder(), Recorder()
    worker.lag_ms.extend([3.0, 250.0])
    worker.lag_at.extend([1_764_400_010.25, 1_764_400_011.5])
    old.lag_ms.extend([7.0])  # a worker of an earlier version ships no times
    master.merge("w1", worker.report(users=2))
    payload = old.report(users=1)
    del payload["lag_at"]
    master.merge("w2", payload)
    assert list(master.lag_ms) == [3.0, 250.0, 7.0]
    assert list(master.lag_at)[:2] == [1_764_400_010.25, 1_764_400_011.5] and len(master.lag_at) == 3
    assert master.lag_at[2] > 1_764_400_011.5  # placed at its report's arrival
    assert len(worker.lag_at) == 0  # shipped once


def test_the_request_hook_feeds_only_the_active_recorder():
    rec = rec_mod.activate(Recorder(sink=lambda c: None))
    try:
        env = Environment(events=rec_mod.events)
        env.events.request.fire(
            request_type="GET", name="/h", response_time=2.25, response_length=7, exception=None, context={"group": "reads"},
            start_time=123.0, url="/h", response=None,
        )  # fmt: skip
    finally:
        rec_mod.deactivate()
    env.events.request.fire(request_type="GET", name="/h", response_time=1, response_length=1, exception=None, context={})
    cols = rec.take()
    assert list(cols["latency_ms"]) == [2.25] and list(cols["t"]) == [123.0] and rec.table(rec.groups) == ("reads",)


def _samples(t, lat, err=None, names=("/a",)):
    n = len(t)
    return results.Samples(
        t=np.asarray(t, dtype=np.float64),
        latency_ms=np.asarray(lat, dtype=np.float32),
        name=np.zeros(n, dtype=np.uint16),
        group=np.zeros(n, dtype=np.uint8),
        size=np.full(n, 5, dtype=np.uint32),
        error=np.asarray(err if err is not None else np.zeros(n), dtype=np.uint8),
        names=names,
        groups=("reads",),
        error_kinds=("ok", "boom"),
    )


def test_per_second_percentiles_are_exact_not_bucketed():
    rng = np.random.default_rng(3)
    lat = rng.lognormal(np.log(104.0), 0.3, 3000).astype(np.float32)  # around 100 ms Locust rounds to 10 ms steps
    t = np.repeat(np.arange(3), 1000) + rng.uniform(0, 0.999, 3000)
    series = per_second(_samples(t, lat), 4, users=np.array([5, 5, 5]))
    assert tuple(series) == results.SERIES_KEYS
    for s in range(3):
        chunk = lat[s * 1000 : (s + 1) * 1000].astype(np.float64)
        for key, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
            assert series[key][s] == pytest.approx(np.percentile(chunk, q, method="linear"), rel=1e-12)
    assert np.isnan(series["p95_ms"][3]) and series["rps"][3] == 0 and np.isnan(series["users"][3])
    assert any(v % 10 != 0 for v in series["p95_ms"][:3])  # not rounded to Locust's 10 ms buckets


def test_csv_files_have_locusts_columns_and_exact_figures(tmp_path):
    ours = StatsCSV(Environment(), [0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0])
    assert ours.requests_csv_columns == locust_csv.STATS_COLUMNS
    assert ours.failures_columns == locust_csv.FAILURE_COLUMNS
    lat = np.array([1.0, 2.0, 3.0, 4.0, 104.3])
    samples = _samples([0.1, 0.2, 1.1, 1.2, 1.3], lat, err=[0, 1, 0, 0, 1])
    series = per_second(samples, 2, users=np.array([2, 3]))
    stats_path, history_path, failures_path = locust_csv.write(tmp_path, samples, {"/a": "GET"}, series, t0=1_700_000_000.0)
    rows = list(csv.DictReader(stats_path.open()))
    assert [r["Name"] for r in rows] == ["/a", "Aggregated"]
    agg = rows[-1]
    assert (agg["Request Count"], agg["Failure Count"], agg["Max Response Time"]) == ("5", "2", "104.3")
    assert float(agg["95%"]) == pytest.approx(np.percentile(lat, 95))
    history = list(csv.DictReader(history_path.open()))
    assert [h["User Count"] for h in history] == ["2", "3"]
    assert [h["Total Request Count"] for h in history] == ["2", "5"]
    writer = StatsCSVFileWriter(Environment(), list(locust_csv.PERCENTILES), str(tmp_path / "theirs"))
    assert next(csv.reader(history_path.open())) == writer.stats_history_csv_columns
    writer.close_files()
    failures = list(csv.DictReader(failures_path.open()))
    assert [(f["Method"], f["Name"], f["Error"], f["Occurrences"]) for f in failures] == [("GET", "/a", "boom", "2")]
