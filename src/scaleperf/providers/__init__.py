"""Ways to get a running deployment: ``local`` (a miniature on this machine), ``aws``, ``url``.

Each lives in its own module and satisfies :class:`scaleperf.providers.base.Provider`;
:func:`make_provider` picks one from the session's settings.
"""

from __future__ import annotations

from scaleperf.errors import ScaleperfError


def make_provider(settings):
    """The provider named by ``settings.provider`` (a :class:`scaleperf.pytest_plugin.PerfSettings`)."""
    if settings.provider == "local":
        from scaleperf.providers.local import LocalProvider

        return LocalProvider(keep=settings.keep_deployment)
    if settings.provider == "url":
        from scaleperf.providers.url import UrlProvider

        if not settings.target_url:
            raise ScaleperfError("--provider url needs --target-url http://host:port of the deployment to test")
        return UrlProvider(settings.target_url)
    if settings.provider == "aws":
        from scaleperf.providers.aws import AwsProvider

        return AwsProvider.from_settings(settings)
    raise ScaleperfError(f"unknown provider {settings.provider!r}; use local, aws or url")
