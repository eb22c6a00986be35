"""A configuration that failed stays failed: recorded once, never provisioned or run again in the session."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest

import scaleperf.load
from scaleperf.campaign import Campaign, CampaignSettings
from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.providers.base import LoadScale


class Deployment:
    def __init__(self, name: str) -> None:
        self.base_url = f"http://{name}.invalid"

    def reset_data(self) -> None:
        pass

    def describe(self) -> dict:
        return {}


class Provider:
    """Provisions every configuration but those named in ``broken`` (which raise an unexpected error)."""

    name = "fake"

    def __init__(self, broken: tuple[str, ...] = ()) -> None:
        self.broken = broken
        self.provisioned: list[str] = []

    @contextlib.contextmanager
    def provision(self, config):
        self.provisioned.append(config.name)
        if config.name in self.broken:
            raise RuntimeError(f"quota exceeded for {config.name}")  # a provider's own error, not a ScaleperfError
        yield Deployment(config.name)

    def load_scale(self, config) -> LoadScale:
        return LoadScale()


@pytest.fixture
def runs(monkeypatch, tmp_path):
    """Every load run the campaign starts, by base URL; a run of ``runs.failing`` raises OSError."""
    monkeypatch.setenv("SCALEPERF_HOME", str(tmp_path / "home"))
    started = SimpleNamespace(urls=[], failing=())

    def run(base_url, *args, **kw):
        started.urls.append(base_url)
        if any(name in base_url for name in started.failing):
            raise OSError("Too many open files")
        return SimpleNamespace(base_url=base_url)

    monkeypatch.setattr(scaleperf.load, "run", run)
    monkeypatch.setattr(scaleperf.load, "load_profile", lambda name: SimpleNamespace(name=name, has_search=False))
    return started


def _campaign(tmp_path, provider, replicates=2) -> tuple[Campaign, list]:
    configs = [load_configs()[name] for name in ("single", "vertical")]
    settings = CampaignSettings(
        run_id="r", results_dir=tmp_path / "results", profile="smoke", replicates=replicates, locustfile=tmp_path / "lf.py"
    )
    said: list[str] = []
    return Campaign(settings, provider, configs, said.append), configs


def test_a_provisioning_error_of_any_kind_is_recorded_once_and_not_retried(tmp_path, runs):
    provider = Provider(broken=("single",))
    campaign, (single, vertical) = _campaign(tmp_path, provider)
    for _ in range(3):  # three tests of the failed configuration, and its deployment fixture
        with pytest.raises(ScaleperfError, match="single: provisioning failed: RuntimeError: quota exceeded for single"):
            campaign.results(single)
        with pytest.raises(ScaleperfError, match="quota exceeded"):
            campaign.deployment_for(single)
    assert len(campaign.results(vertical)) == 2  # the other configuration still ran, each replicate
    assert provider.provisioned.count("single") == 1
    assert runs.urls == ["http://vertical.invalid"] * 2


def test_a_load_run_error_of_any_kind_is_recorded_once_and_not_retried(tmp_path, runs):
    runs.failing = ("single",)
    provider = Provider()
    campaign, (single, vertical) = _campaign(tmp_path, provider)
    for _ in range(3):
        with pytest.raises(ScaleperfError, match=r"single \(replicate 1/2\): OSError: Too many open files"):
            campaign.results(single)
    assert len(campaign.results(vertical)) == 2
    assert runs.urls.count("http://single.invalid") == 1 and provider.provisioned.count("single") == 1


def test_an_interrupt_is_not_a_configurations_failure(tmp_path, runs, monkeypatch):
    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(scaleperf.load, "run", interrupted)
    campaign, (single, _vertical) = _campaign(tmp_path, Provider())
    with pytest.raises(KeyboardInterrupt):
        campaign.results(single)
    assert campaign._failures == {}
    campaign.close()
