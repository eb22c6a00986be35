"""Auto rounds: who stays in the rounds, when they end, and the decided-callback over declared comparisons."""

from __future__ import annotations

import contextlib
import sys
from types import SimpleNamespace

import pytest
from test_analysis_slo import constant, make_run

from scaleperf.analysis import compare
from scaleperf.campaign import (
    CAPACITY,
    PLATEAU,
    Campaign,
    CampaignSettings,
    comparisons_pending,
    parse_replicates,
    round_order,
)
from scaleperf.errors import ScaleperfError
from scaleperf.results import Phase

NAMES = ("single", "vertical", "horizontal1", "horizontal2")


def latency_claims(*names):
    """A still_needed answer: these configurations' latency comparisons are undecided."""
    return {n: {PLATEAU} for n in names}


def campaign(tmp_path, *, auto=True, replicates=10, max_minutes=None, still_needed=None, said=None):
    settings = CampaignSettings(
        run_id="r", results_dir=tmp_path, profile="compare", replicates=replicates, locustfile=tmp_path / "lf.py",
        auto=auto, max_minutes=max_minutes,
    )  # fmt: skip
    configs = [SimpleNamespace(name=n) for n in NAMES]
    camp = Campaign(
        settings, provider=None, configs=configs, say=(said if said is not None else []).append, still_needed=still_needed
    )
    return camp, configs


class FakeProvider:
    """Deployments that cost nothing: every configuration is up at once at a fake URL, at load scale 1. ``name``:
    the provider whose SLOs a search's steps are held to."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name

    @contextlib.contextmanager
    def provision(self, config):
        yield SimpleNamespace(base_url="http://fake", describe=dict, reset_data=lambda: None)

    def load_scale(self, config):
        from scaleperf.providers.base import LoadScale

        return LoadScale(factor=1.0, reason="test")


def fake_engine(monkeypatch, profile, run) -> None:
    """Campaign._run's load engine replaced: ``load_profile`` returns ``profile``, ``load.run`` is ``run``; no machine lock."""
    import scaleperf
    from scaleperf import campaign as campaign_module

    fake_load = SimpleNamespace(load_profile=lambda name: profile, run=run)
    monkeypatch.setattr(scaleperf, "load", fake_load, raising=False)
    monkeypatch.setitem(sys.modules, "scaleperf.load", fake_load)
    monkeypatch.setattr(campaign_module, "machine_lock", lambda say=None: contextlib.nullcontext())


def play(camp, configs):
    """Walk the rounds as _run does, recording one fake result per run; the order of runs."""
    order = []
    for replicate, round_configs in camp._rounds(configs):
        for c in round_configs:
            order.append((replicate, c.name))
            camp._results.setdefault(c.name, []).append(object())
    return order


def test_fixed_replicates_keep_every_configuration_in_order(tmp_path):
    camp, configs = campaign(tmp_path, auto=False, replicates=2)
    assert play(camp, configs) == [(r, n) for r in (1, 2) for n in NAMES]


def test_auto_rounds_alternate_and_drop_decided_configurations(tmp_path):
    asked = []

    def still_needed(results):
        asked.append({k: len(v) for k, v in results.items()})
        rounds = len(results["single"])
        return (
            latency_claims("single", "vertical", "horizontal1") if rounds < 3
            else latency_claims("single", "horizontal1") if rounds < 4 else {}
        )  # fmt: skip

    said = []
    camp, configs = campaign(tmp_path, still_needed=still_needed, said=said)
    order = play(camp, configs)
    assert [n for r, n in order if r == 1] == list(NAMES)
    assert [n for r, n in order if r == 2] == ["horizontal1", "vertical", "single"]  # horizontal2 decided after round 1
    assert [n for r, n in order if r == 3] == ["single", "vertical", "horizontal1"]
    assert [n for r, n in order if r == 4] == ["horizontal1", "single"]
    assert max(r for r, _ in order) == 4 and asked[0] == dict.fromkeys(NAMES, 1)
    assert any("decided after 4 round(s)" in line for line in said)


def test_auto_rounds_stop_at_the_most_rounds(tmp_path):
    camp, configs = campaign(tmp_path, replicates=5, still_needed=lambda results: latency_claims(*NAMES))
    assert max(r for r, _ in play(camp, configs)) == 5


def test_auto_rounds_stop_when_the_minutes_are_spent(tmp_path, monkeypatch):
    said = []
    camp, configs = campaign(tmp_path, max_minutes=10, still_needed=lambda results: latency_claims(*NAMES), said=said)
    minute_per_run = SimpleNamespace(monotonic=lambda: 60.0 * sum(len(v) for v in camp._results.values()))
    monkeypatch.setattr("scaleperf.campaign.time", minute_per_run)
    # Before round 2: 4 minutes spent on 4 runs, 4 more fit in 10; before round 3: 8 + 4 > 10.
    assert max(r for r, _ in play(camp, configs)) == 2
    assert any("--max-minutes 10: no time for round 3" in line for line in said)


def test_round_order():
    assert round_order([1, 2, 3], 1) == [1, 2, 3] and round_order([1, 2, 3], 2) == [3, 2, 1]


@pytest.mark.parametrize(("raw", "minutes", "parsed"), [
    ("3", None, (False, 3, None)), ("auto", None, (True, 10, None)), ("auto:20", "90", (True, 20, 90.0)),
])  # fmt: skip
def test_parse_replicates(raw, minutes, parsed):
    assert parse_replicates(raw, minutes) == parsed


@pytest.mark.parametrize(("raw", "minutes"), [("auto:2", None), ("4", "30"), ("auto", "0")])
def test_bad_replicates_are_refused(raw, minutes):
    with pytest.raises(ScaleperfError):
        parse_replicates(raw, minutes)


def runs(config: str, values_ms: list[float]):
    plateau = Phase(kind="plateau", label="plateau", start_s=0, end_s=120, users=20, deploy_users=20, warmup_s=15)
    return [make_run([(plateau, 20, constant(v), 0.0)], config=config, replicate=r + 1, seed=r) for r, v in enumerate(values_ms)]


def test_the_callback_keeps_only_undecided_comparisons_in_the_rounds():
    claims = [
        compare.Expectation(id="v", a="vertical", b="single", metric="polls.p95", expect="better"),
        compare.Expectation(id="s", a="horizontal2", b="horizontal1", metric="polls.p95", expect="same"),
    ]
    pending = comparisons_pending(claims, family_size=4)
    clear = {"vertical": runs("vertical", [60, 61, 59]), "single": runs("single", [100, 101, 99])}
    noisy = {"horizontal1": runs("horizontal1", [100, 130, 80]), "horizontal2": runs("horizontal2", [90, 125, 110])}
    assert pending({**clear, **noisy}) == latency_claims("horizontal1", "horizontal2")
    assert pending(clear) == {}  # a claim whose configurations are not both in the rounds does not hold them
    early = {"vertical": runs("vertical", [60, 61]), "single": runs("single", [100, 101])}
    assert pending(early) == latency_claims("vertical", "single")  # before the first look


def test_an_auto_campaign_runs_rounds_until_the_shipped_comparisons_are_decided(tmp_path, monkeypatch):
    """The real _run loop with a fake provider and load engine: clear differences decide within a few rounds."""

    levels = {"single": 100.0, "vertical": 60.0, "horizontal1": 60.0, "horizontal2": 60.0}  # every shipped claim true
    made = []

    def run(base_url, locustfile, profile, *, meta, **kw):
        made.append(meta["config"])
        level = levels[meta["config"]] * (1 + 0.01 * (len(made) % 3))
        [result] = runs(meta["config"], [level])
        result.meta.update(replicate=meta["replicate"])
        return result

    fake_engine(monkeypatch, SimpleNamespace(name="compare", has_search=False, has_load_steps=False), run)
    claims = compare.load_expectations(None)
    latency = [e for e in claims if compare.parse_metric(e.metric).statistic != "throughput"]
    settings = CampaignSettings(run_id="r", results_dir=tmp_path, profile="compare", replicates=10, locustfile=tmp_path / "lf",
                                auto=True)  # fmt: skip
    configs = [SimpleNamespace(name=n, describe=dict) for n in NAMES]
    said = []
    camp = Campaign(
        settings, FakeProvider(), configs, said.append, still_needed=comparisons_pending(latency, family_size=len(claims))
    )
    got = camp.results(configs[0])
    assert len(got) == 3 and all(len(camp.results(c)) == 3 for c in configs)  # decided at the first look
    assert made[4:8] == ["horizontal2", "horizontal1", "vertical", "single"]  # the second round runs in reverse
    assert any("decided after 3 round(s)" in line for line in said)


def test_a_failed_configuration_leaves_the_rounds_and_its_comparisons_do_not_hold_them(tmp_path):
    asked = []

    def still_needed(results):
        asked.append(sorted(results))
        return latency_claims(*results)  # everything still undecided

    camp, configs = campaign(tmp_path, replicates=3, still_needed=still_needed)
    camp._failures["vertical"] = object()
    order = play(camp, configs)
    assert "vertical" not in asked[0] and all(n != "vertical" for r, n in order if r > 1)


def test_auto_rounds_run_load_steps_only_where_an_undecided_comparison_reads_capacity(tmp_path, monkeypatch):
    """The first round runs the whole profile everywhere (every saturation point); later rounds keep the load steps
    only for configurations with an undecided capacity claim, and each run's metadata says what it left out."""
    from scaleperf.profiles import load_profile

    full = load_profile("compare")
    assert full.has_search
    made = []

    def run(base_url, locustfile, profile, *, meta, step_criteria, **kw):
        made.append((meta["replicate"], meta["config"], profile.has_load_steps, step_criteria is not None, meta.get("left_out")))
        return SimpleNamespace(meta=meta)

    def still_needed(results):
        rounds = len(results["horizontal1"])
        if rounds < 3:  # before the first look: every claim undecided
            return {
                "single": {PLATEAU, CAPACITY},
                "horizontal1": {PLATEAU, CAPACITY},
                **latency_claims("vertical", "horizontal2"),
            }
        return latency_claims("horizontal1", "horizontal2") if rounds < 4 else {}  # capacity decided at the first look

    fake_engine(monkeypatch, full, run)
    settings = CampaignSettings(run_id="r", results_dir=tmp_path, profile="compare", replicates=10, locustfile=tmp_path / "lf",
                                auto=True)  # fmt: skip
    configs = [SimpleNamespace(name=n, describe=dict) for n in NAMES]
    said = []
    camp = Campaign(settings, FakeProvider("local"), configs, said.append, still_needed=still_needed)
    camp.results(configs[0])
    stepped = {(r, c) for r, c, steps, criteria, _ in made if steps}
    assert all(steps == criteria and (why is None) == steps for _, _, steps, criteria, why in made)
    assert {c for r, c in stepped if r == 1} == set(NAMES)  # the first round: every configuration's saturation point
    assert {(r, c) for r, c in stepped if r > 1} == {(r, c) for r in (2, 3) for c in ("single", "horizontal1")}
    assert [(r, c) for r, c, *_ in made if r > 3] == [(4, "horizontal2"), (4, "horizontal1")]  # even rounds reversed
    assert all("capacity" in why for *_, why in made if why)
    assert any("without its load steps" in line for line in said)


def test_a_profile_without_its_load_steps_keeps_its_ramp_and_plateau():
    from scaleperf.profiles import load_profile

    full = load_profile("compare")
    short = full.without_load_steps()
    assert [p.kind for p in short.phases_spec] == ["ramp", "plateau"] and not short.has_load_steps
    assert short.duration_s < full.duration_s and short.name == full.name
    smoke = load_profile("smoke")
    assert [p.kind for p in smoke.without_load_steps().phases_spec] == ["ramp", "plateau"]
    only_ramp_and_plateau = full.without_load_steps()
    assert only_ramp_and_plateau.without_load_steps() is only_ramp_and_plateau
