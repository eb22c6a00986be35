"""One set of verdicts for every reader: judged once, kept in verdicts.json, read by the perf tests, the
session summary and the results document alike; rebuilt from disk, the same verdicts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_report_document import RUN_ID, save_campaign

from scaleperf.analysis.verdict import key, to_json
from scaleperf.report import document, store, verdicts_text

PERF_TESTS = Path(__file__).resolve().parents[1] / "perf"
REPLICATES = 3


@pytest.fixture(scope="module")
def partial(tmp_path_factory) -> Path:
    """Three replicates each of two of the four configurations: half the declared family has not run."""
    return save_campaign(tmp_path_factory.mktemp("results"), configs=("single", "horizontal1"), replicates=REPLICATES)


def perf_test_reading(run_root: Path, name: str, *, inconclusive: str = "skip"):
    """The verdict a perf test reads (tests/perf/verdicts.py), with a session's settings and options."""
    sys.path.insert(0, str(PERF_TESTS))
    try:
        import verdicts as perf_verdicts
    finally:
        sys.path.remove(str(PERF_TESTS))
    options = {"scaleperf_accept_unlimited": False, "scaleperf_inconclusive": inconclusive}
    config = SimpleNamespace(getoption=lambda n, default=None: options.get(n, default), getini=lambda n: "skip")
    settings = SimpleNamespace(results_dir=run_root, run_id=RUN_ID)
    return perf_verdicts.verdict_of(settings, SimpleNamespace(config=config), name), perf_verdicts


@pytest.mark.slow
def test_the_document_and_the_perf_tests_give_the_same_verdicts_on_the_same_runs(partial):
    run_dir = partial / RUN_ID
    md_path, _ = document.build(partial, RUN_ID)
    md = md_path.read_text()
    stored = store.read(run_dir)
    assert stored is not None
    kinds = {v.kind for v in stored.verdicts}
    assert kinds == {"slo", "saturation", "comparison"}
    for v in stored.verdicts:
        seen, _ = perf_test_reading(partial, key(v))
        assert to_json(seen) == to_json(v)  # what the perf test settles on is the stored verdict
        assert md.count(v.reason) == 1, v.reason  # and the document shows it once, in the same words
    slo_verdicts = [v for v in stored.verdicts if v.kind == "slo"]
    assert all(len(v.replicates) == REPLICATES for v in slo_verdicts)  # every replicate judged together
    comparisons = {v.expectation_id: v for v in stored.of_kind("comparison")}
    assert len(comparisons) == 4 and all(v.figures["family_size"] == 4 for v in comparisons.values())
    missing = comparisons["vertical-faster-polls"]  # vertical has not run: refused, the family stays the declared four
    assert missing.outcome == "inconclusive" and "vertical has no stored runs" in missing.reason
    # Judged again in memory from the runs on disk, by the same function, the same verdicts.
    again = document.analyse(store.load_runs(run_dir))
    in_memory = [*(v for vs in again.slo_verdicts.values() for v in vs), *(v for v in again.saturation.values() if v),
                 *again.comparisons]  # fmt: skip
    assert sorted(json.dumps(to_json(v), sort_keys=True) for v in in_memory) == sorted(
        json.dumps(to_json(v), sort_keys=True) for v in stored.verdicts
    )


@pytest.mark.slow
def test_rebuilding_from_disk_gives_the_same_verdicts_and_new_runs_are_judged_afresh(tmp_path, monkeypatch):
    root = save_campaign(tmp_path, configs=("single", "vertical"), replicates=2)
    run_dir = root / RUN_ID
    first = store.ensure(run_dir)
    written = (run_dir / store.FILE_NAME).read_text()
    assert store.ensure(run_dir).verdicts == first.verdicts  # unchanged inputs: read, not judged again
    (run_dir / store.FILE_NAME).unlink()
    monkeypatch.setattr(store, "_cache", {})  # a new process: nothing judged in memory
    rebuilt = store.ensure(run_dir)
    assert json.loads((run_dir / store.FILE_NAME).read_text()) == json.loads(written)
    assert [to_json(v) for v in rebuilt.verdicts] == [to_json(v) for v in first.verdicts]
    save_campaign(root, configs=("horizontal1",), replicates=1)  # another session adds a configuration
    grown = store.ensure(run_dir)
    assert grown.inputs["fingerprint"] != first.inputs["fingerprint"]
    assert any(v.config == "horizontal1" for v in grown.of_kind("slo"))


@pytest.mark.slow
def test_the_summary_shows_each_verdict_once_in_the_same_words_with_the_counts(partial):
    stored = store.ensure(partial / RUN_ID)
    text = "\n".join(verdicts_text.lines(stored))
    for v in stored.verdicts:
        assert text.count(v.reason) == 1, v.reason
    counts = {o: sum(v.outcome == o for v in stored.verdicts) for o in ("pass", "fail", "inconclusive")}
    assert text.splitlines()[-1] == (
        f"verdicts: {counts['pass']} passed, {counts['fail']} failed, {counts['inconclusive']} inconclusive"
    )
    assert text.splitlines()[0] == "single" and "comparisons" in text.splitlines()


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "raised"), [("skip", pytest.skip.Exception), ("fail", pytest.fail.Exception)])
def test_inconclusive_reaches_the_exit_status_as_chosen(partial, mode, raised):
    verdict, perf_verdicts = perf_test_reading(partial, "comparison/vertical-faster-polls", inconclusive=mode)
    assert verdict.outcome == "inconclusive"
    request = SimpleNamespace(config=SimpleNamespace(getoption=lambda n, default=None: mode, getini=lambda n: "skip"))
    with pytest.raises(raised) as err:
        perf_verdicts.settle(verdict, request)
    assert verdict.reason in str(err.value)


@pytest.mark.slow
def test_scaleperf_report_prints_the_stored_verdicts(partial, capsys):
    from scaleperf import cli

    assert cli.main(["report", str(partial / RUN_ID)]) == 0
    out = capsys.readouterr().out
    stored = store.read(partial / RUN_ID)
    assert all(out.count(v.reason) == 1 for v in stored.verdicts)
    assert out.rstrip().splitlines()[-1].startswith("verdicts: ")


def test_the_summary_says_how_many_rounds_and_minutes_open_comparisons_need(tmp_path):
    from scaleperf.analysis.verdict import ComparisonVerdict

    for config, minutes in (("single", 3.0), ("vertical", 4.0)):
        for rep, extra in ((1, 0), (2, 1)):
            d = tmp_path / config / f"r{rep}"
            d.mkdir(parents=True)
            meta = {"started_at": "2026-12-03T10:00:00Z", "ended_at": f"2026-12-03T10:0{minutes + extra:.0f}:00Z"}
            (d / "meta.json").write_text(json.dumps({"meta": meta}))
    open_ = ComparisonVerdict(
        kind="comparison", subject="vertical better than single on polls.p95", outcome="inconclusive", reason="r",
        a="vertical", b="single", n_a=1, n_b=1, replicates_needed=5,
    )  # fmt: skip
    stored = SimpleNamespace(path=tmp_path / "verdicts.json", verdicts=(open_,))
    assert verdicts_text.run_minutes(tmp_path) == {"single": 3.5, "vertical": 4.5}
    hint = verdicts_text.rounds_hint(stored)
    assert "about 5 rounds in all" in hint and "4 more" in hint and "about 32 min" in hint
    decided = SimpleNamespace(path=tmp_path / "verdicts.json", verdicts=(open_.__class__(**{**vars(open_), "outcome": "pass"}),))
    assert verdicts_text.rounds_hint(decided) is None


def test_a_comparison_this_profile_cannot_value_is_named_apart(tmp_path):
    from scaleperf.analysis.verdict import ComparisonVerdict

    thin = ComparisonVerdict(
        kind="comparison", subject="horizontal2 same as horizontal1 on reads.p95", outcome="inconclusive", reason="r",
        a="horizontal2", b="horizontal1", n_a=0, n_b=0, replicates_needed=2,
        excluded=("horizontal2 r1: too few reads requests per 5 s batch",),
    )  # fmt: skip
    hint = verdicts_text.rounds_hint(SimpleNamespace(path=tmp_path / "verdicts.json", verdicts=(thin,)))
    assert hint.startswith("horizontal2 same as horizontal1 on reads.p95: no replicate gave a value")
    assert "--profile compare" in hint
