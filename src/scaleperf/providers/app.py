"""The application under test: what ``--app`` names, the same for every provider.

``--app`` is either

* a folder holding a Rails app (``Gemfile`` and ``config.ru`` at its root): run as Elastic Beanstalk runs
  it (see :mod:`scaleperf.providers.rails`), its database engine read from ``config/database.yml``;
* a command template, each word formatted with placeholders (``{port}``, ``{database_url}``, ...): any
  server that listens on ``{port}``;
* nothing: the reference help desk backend (itself a command template, :data:`REFERENCE_COMMAND`).
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from scaleperf.errors import ScaleperfError

REFERENCE_COMMAND = (
    "{python} -m helpdesk serve --database-url {database_url} --cost-model rails --port {port}"
    " --pool-size {pool_size} --workers {workers}"
)  # the reference backend, through the same path as any user's command
DEFAULT_HEALTH_PATH = "/health"  # the course's Elastic Beanstalk health check; Rails 7.1+ apps also answer /up
ENGINES = ("postgresql", "mysql")
ADAPTER_ENGINES = {"mysql2": "mysql", "trilogy": "mysql", "postgresql": "postgresql", "postgis": "postgresql"}
PLACEHOLDERS = (
    "port",
    "database_url",
    "pool_size",
    "workers",
    "threads",
    "python",
    "db_host",
    "db_port",
    "db_name",
    "db_user",
    "db_password",
)


@dataclass(frozen=True)
class AppSpec:
    """What to run as each app instance.  ``kind``: reference, command or rails."""

    kind: str
    command: str = REFERENCE_COMMAND  # the template (reference and command kinds)
    path: Path | None = None  # the Rails app's root (rails kind)
    health_path: str = DEFAULT_HEALTH_PATH
    db_engine: str = "postgresql"
    engine_source: str = "the reference backend speaks PostgreSQL"
    adapter: str = "postgresql"  # the Rails adapter named in database.yml (the DATABASE_URL scheme)
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> dict:
        out = {
            "kind": self.kind,
            "health_path": self.health_path,
            "db_engine": self.db_engine,
            "db_engine_from": self.engine_source,
        }
        if self.path is not None:
            out["path"] = str(self.path)
        else:
            out["command"] = self.command
        return out


def engine_from_database_yml(folder: Path) -> tuple[str, str] | None:
    """(engine, adapter) named by ``config/database.yml``'s production (else default) adapter, or None."""
    try:
        text = (folder / "config" / "database.yml").read_text(errors="replace")
    except OSError:
        return None
    adapters = re.findall(r"^\s*adapter:\s*[\"']?([A-Za-z0-9_]+)", text, flags=re.MULTILINE)
    section = re.search(r"^production:\s*\n((?:[ \t]+.*\n?|\s*\n)*)", text, flags=re.MULTILINE)
    if section:
        own = re.findall(r"^\s*adapter:\s*[\"']?([A-Za-z0-9_]+)", section.group(1), flags=re.MULTILINE)
        adapters = own or adapters
    for adapter in adapters:
        if adapter in ADAPTER_ENGINES:
            return ADAPTER_ENGINES[adapter], adapter
    return None


def _check_engine(engine: str | None) -> str | None:
    if engine in (None, ""):
        return None
    aliases = {"postgres": "postgresql", "pg": "postgresql", "mariadb": "mysql", "mysql2": "mysql", "trilogy": "mysql"}
    engine = aliases.get(engine.lower(), engine.lower())
    if engine not in ENGINES:
        raise ScaleperfError(f"--db-engine {engine!r} is not known; use postgresql or mysql (MariaDB/MySQL)")
    return engine


def _check_health_path(path: str) -> str:
    if not path.startswith("/"):
        raise ScaleperfError(f"--health-path {path!r} must start with / (e.g. /health, or /up for Rails 7.1+)")
    return path


def resolve(app: str | Path | None, *, health_path: str = DEFAULT_HEALTH_PATH, db_engine: str | None = None) -> AppSpec:
    """The :class:`AppSpec` for ``--app``'s value (None: the reference backend)."""
    health_path = _check_health_path(health_path or DEFAULT_HEALTH_PATH)
    engine = _check_engine(db_engine)
    text = str(app).strip() if app is not None else ""
    if not text:
        if engine == "mysql":
            raise ScaleperfError(
                "the reference backend speaks PostgreSQL only; drop --db-engine mysql or give your own app with --app"
            )
        return AppSpec(kind="reference", health_path=health_path)
    folder = Path(text).expanduser()
    if folder.is_dir():
        return _rails(folder.resolve(), health_path, engine)
    if "{" not in text:
        if len(shlex.split(text)) == 1:
            raise ScaleperfError(
                f"--app {text!r} is not a folder; give the root folder of a Rails app (Gemfile and config.ru) "
                "or a command template such as 'my-server --port {port} --db {database_url}'"
            )
        raise ScaleperfError(
            f"--app command {text!r} has no {{port}} placeholder; the miniature must tell each instance its port "
            f"(placeholders: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
        )
    if "{port}" not in text:
        raise ScaleperfError(f"--app command {text!r} has no {{port}} placeholder; each instance must listen on {{port}}")
    render_command(text, **{p: "x" for p in PLACEHOLDERS})  # an unknown placeholder fails now, not at provisioning
    reference = text == REFERENCE_COMMAND
    return AppSpec(
        kind="command",
        command=text,
        health_path=health_path,
        db_engine=engine or "postgresql",
        engine_source="--db-engine"
        if engine
        else "default for command templates (PostgreSQL, seeded like the reference backend)",
        notes=("the reference backend's own command",) if reference else (),
    )


def _rails(folder: Path, health_path: str, engine: str | None) -> AppSpec:
    missing = [name for name in ("Gemfile", "config.ru") if not (folder / name).is_file()]
    if missing:
        raise ScaleperfError(
            f"--app {folder} has no {' and no '.join(missing)} at its root; give the root folder of a Rails app "
            "(where Gemfile and config.ru are) or a command template with {port}"
        )
    found = engine_from_database_yml(folder)
    if engine:
        adapter = {"mysql": "mysql2", "postgresql": "postgresql"}[engine]
        if found and found[0] == engine:
            adapter = found[1]
        source = "--db-engine"
    elif found:
        engine, adapter = found
        source = f"config/database.yml (adapter {adapter})"
    else:
        raise ScaleperfError(
            f"cannot tell the database engine of {folder}: config/database.yml names no mysql2, trilogy or postgresql "
            "adapter; pass --db-engine mysql or --db-engine postgresql"
        )
    return AppSpec(
        kind="rails", command="", path=folder, health_path=health_path, db_engine=engine, engine_source=source, adapter=adapter
    )


def render_command(template: str, **values: object) -> list[str]:
    """``template`` split like a shell command, each word formatted with ``values`` ({port}, {database_url}, ...)."""
    values = {"python": sys.executable, **values}
    try:
        return [word.format(**values) for word in shlex.split(template)]
    except (KeyError, IndexError, ValueError) as exc:
        raise ScaleperfError(
            f"app command template {template!r} is not valid ({exc}); placeholders: {', '.join(sorted(values))}"
        ) from exc
