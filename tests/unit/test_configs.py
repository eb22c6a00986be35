"""Scaling configurations and the instance catalogue."""

from __future__ import annotations

import pytest

from scaleperf import configs
from scaleperf.errors import ScaleperfError


def test_the_assignments_four_configurations_exactly():
    cfgs = configs.load_configs()
    assert list(cfgs)[:4] == ["single", "vertical", "horizontal1", "horizontal2"]
    shape = {n: (c.app_instances, c.app_type.name, c.db_class.name) for n, c in cfgs.items()}
    assert shape["single"] == (1, "m7g.medium", "db.m5.large")
    assert shape["vertical"] == (1, "m7g.large", "db.m5.large")
    assert shape["horizontal1"] == (4, "m7g.medium", "db.m5.large")
    assert shape["horizontal2"] == (4, "m7g.medium", "db.m5.xlarge")
    assert cfgs["horizontal2"].total_vcpus == 8
    assert cfgs["vertical"].app_vcpus == 2 * cfgs["single"].app_vcpus


def test_catalogue_is_dated_and_priced():
    cat = configs.load_catalogue()
    assert cat.prices_as_of and cat.prices_as_of != "unknown"
    assert cat.ec2["m7g.medium"].arch == "arm64"
    assert cat.rds["db.m5.xlarge"].price("postgres") > cat.rds["db.m5.large"].price("postgres")


def _write(tmp_path, body: str):
    p = tmp_path / "configs.toml"
    p.write_text(body)
    return p


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[configs.a]\napp_instance_type = "m9x.huge"\napp_instances = 1\ndb_instance_class = "db.m5.large"\n',
            "unknown app_instance_type 'm9x.huge'",
        ),
        ('[configs.a]\napp_instance_type = "m7g.medium"\napp_instances = 0\ndb_instance_class = "db.m5.large"\n', "at least 1"),
        (
            '[configs.a]\napp_instance_type = "m7g.medium"\napp_instances = 1\ndb_instance_class = "db.m5.large"\ncolour = 1\n',
            "unknown key 'colour'",
        ),
        ('[configs.a]\napp_instance_type = "m7g.medium"\napp_instances = 1\n', "missing key 'db_instance_class'"),
        (
            '[configs.a]\napp_instance_type = "m7g.medium"\napp_instances = 1\ndb_instance_class = "db.zz"\n',
            "unknown db_instance_class",
        ),
        ("[configs.a\n", "not valid TOML"),
        ("[other]\nx = 1\n", "unknown top-level key 'other'"),
    ],
)
def test_bad_configurations_name_file_and_problem(tmp_path, body, message):
    path = _write(tmp_path, body)
    with pytest.raises(ScaleperfError, match=message) as err:
        configs.load_configs(path)
    assert str(path) in str(err.value)


def test_user_can_add_a_configuration(tmp_path):
    path = _write(
        tmp_path, '[configs.big]\napp_instance_type = "m7g.xlarge"\napp_instances = 2\ndb_instance_class = "db.m5.2xlarge"\n'
    )
    big = configs.load_configs(path)["big"]
    assert big.load_balanced and big.app_vcpus == 8


def test_unknown_config_name_lists_the_known_ones():
    with pytest.raises(ScaleperfError, match="unknown configuration 'nope'; known: single, vertical, horizontal1, horizontal2"):
        configs.select(configs.load_configs(), ["nope"])


def test_names_accept_repeats_and_comma_lists():
    assert configs.parse_names(["single", "vertical,horizontal1", " horizontal2 "]) == [
        "single",
        "vertical",
        "horizontal1",
        "horizontal2",
    ]
    cfgs = configs.load_configs()
    assert [c.name for c in configs.select(cfgs, [])] == list(cfgs)
    assert [c.name for c in configs.select(cfgs, ["vertical", "single", "vertical"])] == ["vertical", "single"]
