"""Ways to get a running deployment: ``local`` (a miniature on this machine), ``aws``, ``url``.

Each lives in its own module and satisfies :class:`scaleperf.providers.base.Provider`;
:func:`make_provider` picks one from the session's settings.
"""

from __future__ import annotations

from pathlib import Path

from scaleperf.errors import ScaleperfError


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
        from scaleperf.providers.aws import AwsProvider

        check_aws_app(app)
        return AwsProvider.from_settings(settings)
    raise ScaleperfError(f"unknown provider {settings.provider!r}; use local, aws or url")


def check_aws_app(app: str | None) -> None:
    """``--app`` for the aws provider must be a folder (your Rails app): a command template cannot be deployed
    to Elastic Beanstalk. Without ``--app``, the provider falls back on the older ``SCALEPERF_AWS_APP``."""
    if app and not Path(app).expanduser().is_dir():
        raise ScaleperfError(f"--provider aws deploys a folder (your Rails app); --app {app!r} is not one")
