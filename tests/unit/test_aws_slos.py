"""The aws saturation minimums and the full profile's steps follow from the project's own proportional
measurements (docs/local-miniature.md), so a run on AWS can meet them and can check them."""

import re
import tomllib
from pathlib import Path

from scaleperf.profiles import load_profile, step_levels

ROOT = Path(__file__).resolve().parents[2]
FACTOR = 1.25  # the standard and full profiles' geometric step


def measured_held() -> dict[str, int]:
    """'SLOs held up to (deployment users)' per configuration, from the miniature's scaling table."""
    text = (ROOT / "docs" / "local-miniature.md").read_text()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^\| (\w+) \| [^|]+ \| (\d+) \(broke at \d+\)", text, re.M)}


def test_aws_minimums_are_one_step_below_what_the_miniature_held():
    held = measured_held()
    assert held == {"single": 150, "vertical": 235, "horizontal1": 294}
    minimums = tomllib.loads((ROOT / "fixtures" / "slos.toml").read_text())["aws"]["saturation_min_users"]
    for config, users in held.items():
        assert minimums[config] == round(users / FACTOR)
    assert minimums["horizontal2"] == minimums["horizontal1"]  # the app tier limits both: same fleet


def test_full_profile_steps_start_below_the_smallest_expected_saturation_and_check_every_minimum():
    held = measured_held()
    minimums = tomllib.loads((ROOT / "fixtures" / "slos.toml").read_text())["aws"]["saturation_min_users"]
    full = load_profile("full")
    steps = next(s for s in full.phases_spec if s.kind == "steps")
    plateau_users = full.phases(1.0)[1].deploy_users
    assert steps.start < min(held.values()) and plateau_users < min(held.values())
    assert steps.start <= min(minimums.values())  # a minimum below the first step could never be checked
    levels = step_levels(steps)
    assert all(m in levels for m in minimums.values()) and levels[-1] > 500  # past the assignment's 500 users
