"""A Rails app as it is: which Ruby it needs, whether its lock file can install on the instances, and what
it expects of its environment.  Reads the app folder (or zip) only; nothing here talks to AWS.

* The Ruby platform branch comes from ``.ruby-version`` or the Gemfile's ``ruby`` line (major.minor).
* ``Gemfile.lock``'s PLATFORMS must list one the instances can use: ``aarch64-linux`` (or plain ``ruby``) on
  Graviton, ``x86_64-linux`` (or ``ruby``) on Intel/AMD; otherwise ``bundle install`` fails on deploy.
* An app that forces SSL (``config.force_ssl = true``) redirects every request of an HTTP-only environment.
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

DEFAULT_RUBY = "3.4"  # the platform branch when the app does not say
LOCK_PLATFORMS = {  # instance architecture -> Gemfile.lock platforms bundler can install there
    "arm64": ("aarch64-linux", "aarch64-linux-gnu", "aarch64-linux-musl", "ruby"),
    "x86_64": ("x86_64-linux", "x86_64-linux-gnu", "x86_64-linux-musl", "ruby"),
}
LOCK_NAMES = {"arm64": "aarch64-linux", "x86_64": "x86_64-linux"}


def _read(app: Path, rel: str) -> str | None:
    app = Path(app)
    if app.is_dir():
        path = app / rel
        return path.read_text(errors="replace") if path.is_file() else None
    try:
        with zipfile.ZipFile(app) as zf:
            return zf.read(rel).decode(errors="replace") if rel in zf.namelist() else None
    except (OSError, zipfile.BadZipFile):
        return None


def _major_minor(text: str) -> str | None:
    m = re.search(r"(\d+)\.(\d+)", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def ruby_version(app: Path) -> tuple[str, str]:
    """(major.minor, where it came from): ``.ruby-version``, else the Gemfile's ``ruby`` line, else the default."""
    text = _read(app, ".ruby-version")
    if text and (v := _major_minor(text.strip().removeprefix("ruby-"))):
        return v, ".ruby-version"
    gemfile = _read(app, "Gemfile") or ""
    for line in gemfile.splitlines():
        m = re.match(r"""\s*ruby\s+['"]([^'"]+)['"]""", line)
        if m and (v := _major_minor(m.group(1))):
            return v, "the Gemfile's ruby line"
    return DEFAULT_RUBY, "the default (no .ruby-version, no ruby line in the Gemfile)"


def lock_platforms(app: Path) -> tuple[str, ...] | None:
    """The PLATFORMS of ``Gemfile.lock`` (None without a lock file)."""
    text = _read(app, "Gemfile.lock")
    if text is None:
        return None
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == "PLATFORMS" and not line.startswith(" "):
            inside = True
        elif inside and line.startswith("  ") and line.strip():
            out.append(line.strip())
        elif inside:
            break
    return tuple(out)


def check_lock(app: Path, arch: str) -> None:
    """Refuse an app whose lock file names no platform the ``arch`` instances can install."""
    found = lock_platforms(app)
    if found is None:
        log.info("%s has no Gemfile.lock: bundler resolves the gems on the instances", app)
        return
    if not set(found) & set(LOCK_PLATFORMS[arch]):
        raise ScaleperfError(
            f"{app}/Gemfile.lock lists the platforms {', '.join(found) or 'none'}, none of which installs on the {arch} "
            f"instances; run `bundle lock --add-platform {LOCK_NAMES[arch]}` in the app and commit Gemfile.lock. "
            "Nothing was created."
        )


def forces_ssl(app: Path) -> bool:
    text = _read(app, "config/environments/production.rb") or ""
    return any(re.match(r"\s*config\.force_ssl\s*=\s*true\b", line) for line in text.splitlines())


@dataclass(frozen=True)
class RailsApp:
    """What the provider needs to know of a Rails app before it uploads it."""

    ruby: str
    ruby_source: str
    warnings: tuple[str, ...] = ()


def inspect(app: Path, archs: set[str]) -> RailsApp:
    """Check a Rails app against the instances it will run on (``archs``); raises what cannot work."""
    for arch in sorted(archs):
        check_lock(app, arch)
    ruby, source = ruby_version(app)
    warnings = ()
    if forces_ssl(app):
        warnings = (
            "the app sets config.force_ssl = true, but the environment serves plain HTTP: every request will be "
            "redirected to https:// and fail. Set it from an environment variable (for example "
            "config.force_ssl = ENV['FORCE_SSL'] == '1') for the load test.",
        )
    return RailsApp(ruby=ruby, ruby_source=source, warnings=warnings)
