"""The ``url`` provider: a deployment someone made by hand, tested as it is (nothing created or torn down)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError
from scaleperf.providers.base import LoadScale, StaticDeployment


class UrlProvider:
    """Hands out ``target_url`` for every configuration; the load runs at deployment scale."""

    name = "url"

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ScaleperfError(f"--target-url {target_url!r} is not an http(s)://host[:port] URL")
        self.target_url = target_url.rstrip("/")

    def load_scale(self, config: ScalingConfig) -> LoadScale:
        return LoadScale(factor=1.0, reason="url provider: the target is a real deployment")

    @contextlib.contextmanager
    def provision(self, config: ScalingConfig) -> Iterator[StaticDeployment]:
        yield StaticDeployment(base_url=self.target_url, config=config, facts={"config": config.describe()})
