"""--provider url: one URL per configuration, the refusal of one URL for several, and facts that say only what
the user told us."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.providers import url


def provision(provider: url.UrlProvider, name: str) -> dict:
    with provider.provision(load_configs()[name]) as dep:
        return {"base_url": dep.base_url, **dep.describe()}


def test_each_configuration_gets_its_own_url() -> None:
    provider = url.UrlProvider("single=http://a.example/,vertical=https://b.example:8443", selected=["single", "vertical"])
    assert provision(provider, "single")["base_url"] == "http://a.example"
    assert provision(provider, "vertical")["base_url"] == "https://b.example:8443"


def test_repeated_options_and_commas_both_work() -> None:
    assert url.parse_targets(["single=http://a", "vertical=http://b,horizontal1=http://c"]) == {
        "single": "http://a",
        "vertical": "http://b",
        "horizontal1": "http://c",
    }


def test_one_bare_url_for_several_configurations_is_refused_with_how_to_give_one_each() -> None:
    with pytest.raises(ScaleperfError) as err:
        url.UrlProvider("http://my-env.elasticbeanstalk.com", selected=["single", "vertical", "horizontal1", "horizontal2"])
    message = str(err.value)
    assert "measured 4 times" in message and "--target-url single=http://" in message and "--targets-file" in message


def test_one_bare_url_for_one_configuration_is_accepted() -> None:
    provider = url.UrlProvider("http://my-env.example", selected=["vertical"])
    facts = provision(provider, "vertical")
    assert facts["base_url"] == "http://my-env.example"
    assert facts["target"]["given_for"] == "every selected configuration (one bare URL)"


def test_a_selected_configuration_without_a_url_is_refused() -> None:
    with pytest.raises(ScaleperfError, match="no URL for vertical"):
        url.UrlProvider("single=http://a", selected=["single", "vertical"])


@pytest.mark.parametrize(
    "spec", ["single=ftp://a", "single=a.example", "http://a,single=http://b", "single=http://a,single=http://b"]
)
def test_malformed_target_lists_are_refused(spec: str) -> None:
    with pytest.raises(ScaleperfError):
        url.parse_targets(spec)


def test_the_facts_say_what_the_user_told_us_and_no_instance_types() -> None:
    provider = url.UrlProvider("single=http://a.example", selected=["single"])
    facts = provision(provider, "single")
    assert facts == {
        "provider": "url",
        "base_url": "http://a.example",
        "config_name": "single",
        "target": {
            "url": "http://a.example",
            "given_by": "--target-url",
            "given_for": "single",
            "note": facts["target"]["note"],
        },
    }
    flat = repr(facts)
    assert "m7g" not in flat and "db.m5" not in flat and "vcpus" not in flat


def test_a_toml_file_names_the_targets(tmp_path: Path) -> None:
    file = tmp_path / "targets.toml"
    file.write_text('[url.targets]\nsingle = "http://a.example"\nvertical = "http://b.example"\n')

    class Settings:
        targets_file = str(file)
        target_url = None

    provider = url.from_settings(Settings(), ["single", "vertical"])
    assert provision(provider, "vertical")["target"]["given_by"] == f"{file} [url.targets]"


def test_a_toml_file_without_the_table_says_what_to_write(tmp_path: Path) -> None:
    file = tmp_path / "targets.toml"
    file.write_text('[url]\nsingle = "http://a"\n')
    with pytest.raises(ScaleperfError, match=r"no \[url.targets\] table"):
        url.read_targets_file(file)
