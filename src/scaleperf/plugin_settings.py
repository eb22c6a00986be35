"""The perf session's settings: every scaleperf option read once, from the command line or the ini file.

:func:`read` turns the pytest options the plugin declares into one frozen :class:`PerfSettings`; the plugin's
fixtures and hooks take it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PerfSettings:
    configs: tuple[str, ...]
    provider: str
    target_url: str | None
    profile: str
    replicates: int  # with auto: the most rounds
    results_dir: Path
    locustfile: Path
    keep_deployment: bool
    loadgen: str | None
    max_cost: float | None
    run_id: str
    rootdir: Path
    app: str | None = None
    health_path: str = "/health"
    db_engine: str | None = None
    targets_file: str | None = None
    url_telemetry: str = "auto"  # --url-telemetry: auto | off
    auto: bool = False  # --replicates auto[:MAX]
    max_minutes: float | None = None


def value(config: pytest.Config, name: str):
    given = config.getoption(name)
    if given not in (None, False, []):
        return given
    return config.getini(name)


def read(config: pytest.Config) -> PerfSettings:
    from scaleperf.campaign import parse_replicates
    from scaleperf.configs import parse_names
    from scaleperf.errors import ScaleperfError

    root = Path(config.rootpath)
    raw_configs = value(config, "scaleperf_configs")
    names = parse_names(raw_configs if isinstance(raw_configs, list) else [raw_configs] if raw_configs else [])
    try:
        auto, replicates, max_minutes = parse_replicates(
            value(config, "scaleperf_replicates"), value(config, "scaleperf_max_minutes")
        )
        max_cost = value(config, "scaleperf_max_cost")
        max_cost = float(max_cost) if max_cost not in (None, "") else None
    except ValueError as exc:
        raise ScaleperfError(f"--replicates must be a whole number or auto[:MAX], --max-cost a number ({exc})") from exc
    if replicates < 1:
        raise ScaleperfError("--replicates must be at least 1")
    if auto and getattr(config.option, "numprocesses", None):
        raise ScaleperfError("--replicates auto decides across configurations in one process; run it without -n")
    results_dir = Path(value(config, "scaleperf_results_dir"))
    locustfile = Path(value(config, "scaleperf_locustfile"))
    return PerfSettings(
        configs=tuple(names),
        provider=value(config, "scaleperf_provider"),
        target_url=value(config, "scaleperf_target_url") or None,
        profile=value(config, "scaleperf_profile"),
        replicates=replicates,
        results_dir=results_dir if results_dir.is_absolute() else root / results_dir,
        locustfile=locustfile if locustfile.is_absolute() else root / locustfile,
        keep_deployment=bool(value(config, "scaleperf_keep_deployment")),
        loadgen=value(config, "scaleperf_loadgen") or None,
        max_cost=max_cost,
        run_id="",  # a perf session's own, set in pytest_configure
        rootdir=root,
        **app_settings(config, root),
        auto=auto,
        max_minutes=max_minutes,
    )


def app_settings(config: pytest.Config, root: Path) -> dict:
    """--app (a folder relative to the rootdir when it is one), --health-path, --db-engine, --targets-file,
    --url-telemetry."""
    app = value(config, "scaleperf_app") or None
    if app and "{" not in app and not Path(app).expanduser().is_absolute() and (root / app).is_dir():
        app = str(root / app)
    return {
        "app": app,
        "health_path": value(config, "scaleperf_health_path") or "/health",
        "db_engine": value(config, "scaleperf_db_engine") or None,
        "targets_file": value(config, "scaleperf_targets_file") or None,
        "url_telemetry": value(config, "scaleperf_url_telemetry") or "auto",
    }
