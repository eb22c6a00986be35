"""Ways to get a running deployment: ``local`` (a miniature on this machine), ``aws``, ``url``.

Each lives in its own module and satisfies :class:`scaleperf.providers.base.Provider`;
:func:`make_provider` picks one from the session's settings.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)


def make_provider(settings):
    """The provider named by ``settings.provider`` (a :class:`scaleperf.pytest_plugin.PerfSettings`)."""
    app = getattr(settings, "app", None)
    health_path = getattr(settings, "health_path", None) or "/health"
    if settings.provider == "local":
        from scaleperf.providers.local import LocalProvider

        engine = getattr(settings, "db_engine", None)
        return LocalProvider(keep=settings.keep_deployment, app=app, health_path=health_path, db_engine=engine)
    if settings.provider == "url":
        from scaleperf.configs import load_configs, select
        from scaleperf.providers import url

        selected = [c.name for c in select(load_configs(), list(settings.configs))]
        return url.from_settings(settings, selected)
    if settings.provider == "aws":
        from scaleperf.configs import load_configs, select
        from scaleperf.providers.aws import AwsProvider

        return AwsProvider(
            run_id=settings.run_id,
            configs=select(load_configs(), list(settings.configs)),
            engine=getattr(settings, "db_engine", None) or os.environ.get("SCALEPERF_AWS_ENGINE") or None,
            keep=settings.keep_deployment,
            loadgen=settings.loadgen,
            locustfile=settings.locustfile,
            max_cost=settings.max_cost,
            profile=settings.profile,
            replicates=settings.replicates,
            **aws_app(app, health_path),
        )
    raise ScaleperfError(f"unknown provider {settings.provider!r}; use local, aws or url")


def aws_app(app: str | None, health_path: str) -> dict:
    """The app the aws provider deploys: ``--app`` when it is a folder (a command template cannot be deployed
    to Elastic Beanstalk), else the older ``SCALEPERF_AWS_APP``, which ``--app`` supersedes."""
    folder = Path(app).expanduser() if app else None
    if app and not (folder and folder.is_dir()):
        raise ScaleperfError(f"--provider aws deploys a folder (your Rails app); --app {app!r} is not one")
    legacy = os.environ.get("SCALEPERF_AWS_APP")
    if folder is None and legacy:
        log.warning("SCALEPERF_AWS_APP is superseded by --app (ini scaleperf_app); it still works for now")
        folder = Path(legacy)
    return {"app": folder, "health_path": health_path}
