"""Load profiles: the shipped sizes, phase labels, scaling of users, the shape Locust drives, bad input."""

from __future__ import annotations

import itertools
import re

import pytest

from scaleperf.errors import ScaleperfError
from scaleperf.load.shape import ProfileShape
from scaleperf.profiles import load_profile, load_profiles, local_users, profile_from_dict, step_levels


def test_shipped_profiles_have_the_promised_sizes():
    profiles = load_profiles()
    assert set(profiles) >= {"smoke", "standard", "full"}
    assert 45 <= profiles["smoke"].duration_s <= 90  # about a minute per configuration
    assert 180 <= profiles["standard"].duration_s <= 900  # several minutes
    full = profiles["full"]
    ramp = full.phases(1.0)[0]
    assert (ramp.kind, ramp.deploy_users, ramp.end_s - ramp.start_s) == ("ramp", 100, 100.0)  # one new user per second
    assert full.max_deploy_users > 500  # steps continue past the assignment's 500 users


def test_every_profile_has_a_plateau_and_steps_with_warmups():
    for name, profile in load_profiles().items():
        kinds = [p.kind for p in profile.phases()]
        assert kinds[0] == "ramp" and "plateau" in kinds and ("step" in kinds or name == "compare")  # compare: plateau only
        for phase in profile.phases():
            if phase.kind != "ramp":
                assert 0 < phase.warmup_s < phase.end_s - phase.start_s


def test_phases_are_contiguous_and_labelled():
    phases = load_profile("smoke").phases()
    assert phases[0].start_s == 0
    for a, b in itertools.pairwise(phases):
        assert a.end_s == b.start_s
    assert [p.label for p in phases] == ["ramp", "plateau", "step 1", "step 2"]
    assert [p.deploy_users for p in phases] == [60, 60, 80, 100]


def test_scale_multiplies_users_and_keeps_both_numbers():
    phases = load_profile("full").phases(0.1)
    assert [p.deploy_users for p in phases[:3]] == [100, 100, 120]
    assert [p.users for p in phases[:3]] == [10, 10, 12]
    assert local_users(3, 0.1) == 1  # at least one user
    assert local_users(0, 0.1) == 0


def test_shape_holds_each_phase_then_stops():
    profile = profile_from_dict(
        "t",
        {
            "phases": [
                {"kind": "ramp", "users": 10, "rate": 5},
                {"kind": "plateau", "duration_s": 4},
                {"kind": "steps", "start": 20, "step": 10, "max_users": 30, "step_s": 3, "warmup_s": 1, "rate": 10},
            ]
        },
    )
    shape = ProfileShape.of(profile, 0.5)
    assert shape.at(0.0) == (5, 2.5)  # 10 users at 5/s, scaled by 0.5: 5 users at 2.5/s
    assert shape.at(3.0)[0] == 5
    assert shape.at(6.5) == (10, 5.0)
    assert shape.at(9.5) == (15, 5.0)
    assert shape.at(12.0) is None
    assert profile.duration_s == 12.0


def test_geometric_steps_grow_by_a_factor_and_keep_their_time():
    profile = profile_from_dict(
        "g",
        {
            "phases": [
                {"kind": "ramp", "users": 100, "rate": 10},
                {"kind": "steps", "start": 100, "factor": 1.5, "max_users": 400, "step_s": 30, "warmup_s": 10, "rate": 10},
            ]
        },
    )
    steps = [p for p in profile.phases() if p.kind == "step"]
    assert [p.deploy_users for p in steps] == [100, 150, 225, 338] == step_levels(profile.phases_spec[1])
    assert [p.end_s - p.start_s for p in steps] == [30.0] * 4  # arrivals happen inside each step (its warm-up)
    # Small numbers still grow: a factor that rounds to no change adds one user.
    assert step_levels(
        profile_from_dict(
            "s", {"phases": [{"kind": "steps", "start": 1, "factor": 1.1, "max_users": 3, "step_s": 1}]}
        ).phases_spec[0]
    ) == [1, 2, 3]


@pytest.mark.parametrize(
    ("phase", "complaint"),
    [
        ({"kind": "sprint", "users": 5}, r"phases\[1\]\.kind: 'sprint' is not one of"),
        ({"kind": "ramp"}, "needs users"),
        ({"kind": "plateau"}, "duration_s"),
        ({"kind": "steps", "start": 10, "step": 0, "max_users": 20, "step_s": 5}, "either step"),
        ({"kind": "steps", "start": 10, "step": 5, "factor": 1.5, "max_users": 20, "step_s": 5}, "not both"),
        ({"kind": "steps", "start": 10, "factor": 0.5, "max_users": 20, "step_s": 5}, "factor must be above 1"),
        ({"kind": "steps", "start": 10, "step": 5, "max_users": 20}, "step_s > 0"),
        ({"kind": "ramp", "users": 5, "rate": 0}, "rate"),
        ({"kind": "ramp", "users": 5, "speed": 3}, "unknown keys"),
    ],
)
def test_bad_phases_are_reported(phase, complaint):
    with pytest.raises(ScaleperfError, match=complaint):
        profile_from_dict("bad", {"phases": [phase]})


def test_unknown_profile_and_bad_file(tmp_path):
    with pytest.raises(ScaleperfError, match=r"no load profile 'huge' in .*fixtures/profiles.toml; choose one of smoke"):
        load_profile("huge")
    bad = tmp_path / "profiles.toml"
    bad.write_text("[profiles.x\n")
    with pytest.raises(ScaleperfError, match="not valid TOML"):
        load_profile("x", bad)
    bad.write_text("[profiles.x]\ndescription = 'no phases'\n")
    with pytest.raises(ScaleperfError, match="has no phases"):
        load_profile("x", bad)
    with pytest.raises(ScaleperfError, match="not found"):
        load_profile("x", tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("phase", "key", "complaint"),
    [
        ({"kind": "ramp", "users": "ten"}, "users", "'ten' is not a whole number"),
        ({"kind": "ramp", "users": 10.5}, "users", "10.5 is not a whole number"),
        ({"kind": "ramp", "users": 10, "rate": True}, "rate", "True is not a number"),
        ({"kind": "plateau", "duration_s": -5}, "duration_s", "must be finite and not negative"),
        ({"kind": "plateau", "duration_s": 60, "warmup_s": "5s"}, "warmup_s", "'5s' is not a number"),
        ({"users": 10}, "kind", "missing"),
    ],
)
def test_a_bad_value_names_the_file_and_its_key(tmp_path, phase, key, complaint):
    path = tmp_path / "mine.toml"
    body = "".join(f"{k} = {v!r}\n".replace("True", "true") for k, v in phase.items())
    first = "kind = 'ramp'\nusers = 5\n"
    path.write_text(f"[profiles.ok]\n[[profiles.ok.phases]]\n{first}[profiles.mine]\n[[profiles.mine.phases]]\n{first}"
                    f"[[profiles.mine.phases]]\n{body}")  # fmt: skip
    with pytest.raises(ScaleperfError) as caught:
        load_profiles(path)
    assert str(caught.value).startswith(f"{path}: profiles.mine.phases[2].{key}: ") and complaint in str(caught.value)


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ("[profiles.mine]\nphases = 3\n", "profiles.mine.phases: the profile has no phases"),
        ("[profiles.mine]\nduration = 3\n", "profiles.mine: unknown keys ['duration']"),
        ("[profiles.mine]\ndescription = 3\nphases = [{kind = 'ramp', users = 2}]\n", "profiles.mine.description: 3 is not text"),
        ("[profiles]\nmine = 3\n", "profiles.mine: a profile is a table"),
        ("[profiles.mine]\nphases = [3]\n", "profiles.mine.phases[1]: a phase is a table"),
    ],
)
def test_a_bad_profile_table_names_the_file_and_its_key(tmp_path, table, complaint):
    path = tmp_path / "mine.toml"
    path.write_text(table)
    with pytest.raises(ScaleperfError, match=re.escape(f"{path}: {complaint}")):
        load_profiles(path)


def test_a_profiles_file_of_ones_own_replaces_the_shipped_one_for_every_lookup(tmp_path):
    from scaleperf import profiles

    mine = tmp_path / "mine.toml"
    mine.write_text("[profiles.soak]\n[[profiles.soak.phases]]\nkind = 'ramp'\nusers = 5\n"
                    "[[profiles.soak.phases]]\nkind = 'plateau'\nduration_s = 3600\n")  # fmt: skip
    try:
        profiles.use(mine)
        assert load_profile("soak").duration_s == 3605 and set(load_profiles()) == {"soak"}
        with pytest.raises(ScaleperfError, match=f"no load profile 'smoke' in {re.escape(str(mine))}; choose one of soak"):
            load_profile("smoke")
    finally:
        profiles.use(None)
    assert "smoke" in load_profiles()
