"""The ``url`` provider: deployments someone made by hand, tested as they are (nothing created or torn down).

Each configuration needs its own deployment: ``--target-url single=http://a,vertical=http://b`` or a TOML
file (``--targets-file``) with a ``[url.targets]`` table.  One bare URL is accepted only when one
configuration is selected; otherwise the same deployment would be "compared" with itself under several
names.  The run's facts say what the user told us about each target (its URL, the configuration name it
was given for, where that came from), and nothing more: no instance types are claimed for a URL.

A URL that is an Elastic Beanstalk environment's CNAME gets that environment's CloudWatch telemetry when AWS
credentials allow (:mod:`scaleperf.providers.url_cloudwatch`); ``--url-telemetry off`` turns that off.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError
from scaleperf.providers import url_cloudwatch
from scaleperf.providers.base import LoadScale, StaticDeployment, TelemetrySource

HOW_TO = (
    "give one URL per configuration: --target-url single=http://a.example,vertical=http://b.example "
    "(or a [url.targets] table in a TOML file named by --targets-file), or select one configuration with --config"
)


def check_url(url: str, what: str = "--target-url") -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ScaleperfError(f"{what} {url!r} is not an http(s)://host[:port] URL")
    return url.strip().rstrip("/")


def parse_targets(spec: str | Iterable[str] | None) -> dict[str, str]:
    """``name=url`` pairs (comma-separated or repeated) -> {name: url}; a bare URL -> {"": url}."""
    items = [spec] if isinstance(spec, str) else list(spec or [])
    out: dict[str, str] = {}
    for item in items:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            name, sep, url = part.partition("=")
            if not sep or "://" in name:
                name, url = "", part
            name = name.strip()
            if name in out:
                raise ScaleperfError(f"--target-url names {name or 'a bare URL'} twice; give each configuration one URL")
            out[name] = check_url(url, f"--target-url for {name}" if name else "--target-url")
    if "" in out and len(out) > 1:
        raise ScaleperfError(f"--target-url mixes a bare URL with named ones; {HOW_TO}")
    return out


def read_targets_file(path: Path) -> dict[str, str]:
    """The ``[url.targets]`` table of a TOML file: ``single = "http://..."``."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ScaleperfError(f"cannot read the targets file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScaleperfError(f"the targets file {path} is not valid TOML: {exc}") from exc
    table = data.get("url", {}).get("targets")
    if not isinstance(table, dict) or not table:
        raise ScaleperfError(f'{path} has no [url.targets] table; write one line per configuration: single = "http://..."')
    out = {}
    for name, url in table.items():
        if not isinstance(url, str):
            raise ScaleperfError(f"{path}: [url.targets] {name} must be a URL string")
        out[name] = check_url(url, f"{path} [url.targets] {name}")
    return out


class UrlProvider:
    """Hands each configuration its own URL; the load runs at deployment scale.

    ``targets``: {configuration name: URL}, or {"": URL} for one bare URL (one configuration only).
    ``selected``: the configurations the run selects (checked against the targets up front).
    ``telemetry``: ``auto`` attaches CloudWatch to Elastic Beanstalk CNAMEs when credentials allow (``cloudwatch``
    finds it: URL -> source, or None for a URL that is no such CNAME); ``off`` never looks.
    """

    name = "url"

    def __init__(
        self,
        target_url: str | None = None,
        *,
        targets: dict[str, str] | None = None,
        selected: Iterable[str] = (),
        source: str = "--target-url",
        telemetry: str = "auto",
        cloudwatch: Callable[[str], TelemetrySource | None] = url_cloudwatch.attach,
    ) -> None:
        if telemetry not in url_cloudwatch.MODES:
            raise ScaleperfError(f"--url-telemetry must be one of {', '.join(url_cloudwatch.MODES)}, not {telemetry!r}")
        self.telemetry = telemetry
        self._cloudwatch = cloudwatch
        self._sources: dict[str, TelemetrySource | None] = {}  # per URL: looked up once a session
        if targets is None:
            targets = parse_targets(target_url) if target_url else {}
        if not targets:
            raise ScaleperfError(f"--provider url needs the deployments to test; {HOW_TO}")
        self.targets = dict(targets)
        self.source = source
        chosen = list(selected)
        if "" in self.targets and len(chosen) > 1:
            raise ScaleperfError(
                f"one bare --target-url was given for {len(chosen)} configurations ({', '.join(chosen)}): the same "
                f"deployment would be measured {len(chosen)} times under different names; {HOW_TO}"
            )
        if "" not in self.targets:
            missing = [name for name in chosen if name not in self.targets]
            if missing:
                raise ScaleperfError(
                    f"no URL for {', '.join(missing)} (given: {', '.join(sorted(self.targets))}); "
                    f"add name=URL for each, or select only those with --config"
                )

    @property
    def target_url(self) -> str:
        """The only URL (a single-target provider); kept for callers of the older one-URL provider."""
        return next(iter(self.targets.values()))

    def url_for(self, config: ScalingConfig) -> str:
        url = self.targets.get(config.name) or self.targets.get("")
        if url is None:
            raise ScaleperfError(f"no URL for configuration {config.name}; {HOW_TO}")
        return url

    def load_scale(self, config: ScalingConfig) -> LoadScale:
        return LoadScale(factor=1.0, reason="url provider: the target is a real deployment")

    @contextlib.contextmanager
    def provision(self, config: ScalingConfig) -> Iterator[StaticDeployment]:
        url = self.url_for(config)
        facts = {
            "config_name": config.name,
            "target": {
                "url": url,
                "given_by": self.source,
                "given_for": config.name if config.name in self.targets else "every selected configuration (one bare URL)",
                "note": "a deployment made outside scaleperf: its instances, database and balancer are as its owner made "
                "them; nothing here is claimed about them",
            },
        }
        yield StaticDeployment(base_url=url, config=config, facts=facts, telemetry_source=self.telemetry_source(url))

    def telemetry_source(self, url: str) -> TelemetrySource | None:
        """The target-side telemetry attached to ``url`` (None: nothing, not even a fact, for a URL that is no
        Elastic Beanstalk CNAME)."""
        if url not in self._sources:
            find = self._cloudwatch if self.telemetry == "auto" else url_cloudwatch.turned_off
            self._sources[url] = find(url)
        return self._sources[url]


def from_settings(settings, selected: Iterable[str]) -> UrlProvider:
    """The url provider from the plugin's settings: ``--targets-file`` if given, else ``--target-url``;
    ``--url-telemetry``."""
    telemetry = getattr(settings, "url_telemetry", None) or "auto"
    file = getattr(settings, "targets_file", None)
    if file:
        path = Path(file)
        if settings.target_url:
            raise ScaleperfError("give the targets either with --target-url or with --targets-file, not both")
        return UrlProvider(
            targets=read_targets_file(path), selected=selected, source=f"{path} [url.targets]", telemetry=telemetry
        )
    return UrlProvider(settings.target_url, selected=selected, telemetry=telemetry)
