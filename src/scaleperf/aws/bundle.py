"""The application source bundle Elastic Beanstalk deploys: a user's Rails app, or the reference backend.

* A Rails app (a folder or a zip with ``Gemfile`` at its root) is bundled as it is, plus
  ``.ebextensions/scaleperf.config`` and its script: one leader-only container command runs
  ``rails db:migrate`` and then, when the environment property ``SCALEPERF_SEED`` is ``1`` and the database
  has no ``scaleperf_seeded`` table yet, ``rails db:seed`` (so the seed runs once per fresh database).
* The reference backend (``src/helpdesk``) is bundled with a ``Procfile`` for the Python platform, a
  ``requirements.txt`` pinned to the versions installed here, the user pool (``fixtures/users.tsv``) and
  the same leader-only seed command.  Its server applies its schema when it starts.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from scaleperf.configs import FIXTURES
from scaleperf.errors import ScaleperfError

REPO = FIXTURES.parent  # the repository root (src/helpdesk lives below it)
SKIP_DIRS = frozenset({".git", "log", "tmp", "node_modules", ".bundle", "coverage", "__pycache__", ".venv"})
APP_PORT = 8000  # the Python platform's nginx proxies to port 8000
REFERENCE_REQUIREMENTS = ("starlette", "granian", "uvicorn", "psycopg", "psycopg-binary", "psycopg-pool", "bcrypt", "pyjwt")
GET_CONFIG = "/opt/elasticbeanstalk/bin/get-config environment"  # the platform's tool: environment properties as JSON
SEED_SCRIPT = ".ebextensions/scaleperf_seed.sh"
# The environment properties as exported variables (container commands do not get them on their own).
EXPORT_PROPERTIES = (
    f"eval \"$({GET_CONFIG} | python3 -c 'import json, shlex, sys; "
    'print("\\n".join(f"export {k}={shlex.quote(v)}" for k, v in json.load(sys.stdin).items()))\')"'
)
# One leader-only command, with no `test` (leader_only and test do not combine: leader_only wins and the
# test is ignored): the condition is inside the script it runs.  Container commands run in name order.
EXTENSION = json.dumps(
    {"container_commands": {"50_scaleperf_migrate_then_seed": {"command": f"bash {SEED_SCRIPT}", "leader_only": True}}},
    indent=2,
)
RAILS_SEED = f"""#!/bin/bash
# Added by scaleperf: migrate, then seed once per fresh database (leader instance only).
set -euo pipefail
{EXPORT_PROPERTIES}
bundle exec rails db:migrate
seeded='exit(ActiveRecord::Base.connection.table_exists?("scaleperf_seeded") ? 0 : 1)'
if [ "${{SCALEPERF_SEED:-0}}" = "1" ] && ! bundle exec rails runner "$seeded"; then
  bundle exec rails db:seed
  bundle exec rails runner 'ActiveRecord::Base.connection.create_table(:scaleperf_seeded)'
fi
"""
REFERENCE_SEED = f"""#!/bin/bash
# Added by scaleperf: seed the user pool once per fresh database (leader instance only; seeding is idempotent).
set -euo pipefail
{EXPORT_PROPERTIES}
source /var/app/venv/*/bin/activate
if [ "${{SCALEPERF_SEED:-0}}" = "1" ]; then
  python -m helpdesk seed --database-url "$DATABASE_URL" --users fixtures/users.tsv
fi
"""

REFERENCE_PROCFILE = (
    'web: python -m helpdesk serve --database-url "$DATABASE_URL" --host 127.0.0.1 '
    f'--port {APP_PORT} --workers "$HELPDESK_WORKERS" --cost-model "$HELPDESK_COST_MODEL"\n'
)


@dataclass(frozen=True)
class Bundle:
    path: Path
    kind: str  # "rails" | "reference"
    sha256: str

    @property
    def label(self) -> str:
        """The application version label: the content hash, so an unchanged app is one version."""
        return f"sp-{self.sha256[:12]}"


def _requirements() -> str:
    lines = []
    for name in REFERENCE_REQUIREMENTS:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return "\n".join(lines) + "\n"


def _add(zf: zipfile.ZipFile, name: str, data: bytes | str, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed dates: same content, same hash
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data.encode() if isinstance(data, str) else data)


def _tree(root: Path) -> list[tuple[str, Path]]:
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not (set(rel.parts[:-1]) & SKIP_DIRS) and not path.is_symlink():
            out.append((rel.as_posix(), path))
    return out


def _finish(path: Path, kind: str) -> Bundle:
    return Bundle(path=path, kind=kind, sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def reference(out_dir: Path, repo: Path | None = None) -> Bundle:
    """The reference backend as a Python-platform bundle."""
    repo = repo or REPO
    src = repo / "src" / "helpdesk"
    users = repo / "fixtures" / "users.tsv"
    if not (src / "__init__.py").is_file() or not users.is_file():
        raise ScaleperfError(f"the reference backend is incomplete ({src}, {users}); reinstall scaleperf from its repository")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / "reference-bundle.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for rel, file in _tree(src):
            _add(zf, f"helpdesk/{rel}", file.read_bytes())
        _add(zf, "fixtures/users.tsv", users.read_bytes())
        _add(zf, "Procfile", REFERENCE_PROCFILE)
        _add(zf, "requirements.txt", _requirements())
        _add(zf, ".ebextensions/scaleperf.config", EXTENSION)
        _add(zf, SEED_SCRIPT, REFERENCE_SEED, 0o755)
    return _finish(path, "reference")


def _add_rails_extension(zf: zipfile.ZipFile, names: set[str]) -> None:
    if ".ebextensions/scaleperf.config" not in names:  # an app with its own keeps it
        _add(zf, ".ebextensions/scaleperf.config", EXTENSION)
        _add(zf, SEED_SCRIPT, RAILS_SEED, 0o755)


def rails(app: Path, out_dir: Path) -> Bundle:
    """A Rails app folder or zip (``Gemfile`` at its root) as a Ruby-platform bundle."""
    app = Path(app)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / "app-bundle.zip"
    if app.is_dir():
        files = _tree(app)
        names = {rel for rel, _ in files}
        if "Gemfile" not in names:
            raise ScaleperfError(f"{app} has no Gemfile at its root; point --app at the Rails app's folder")
        with zipfile.ZipFile(path, "w") as zf:
            for rel, file in files:
                _add(zf, rel, file.read_bytes(), 0o755 if file.stat().st_mode & 0o111 else 0o644)
            _add_rails_extension(zf, names)
        return _finish(path, "rails")
    if app.suffix == ".zip" and app.is_file():
        try:
            with zipfile.ZipFile(app) as src, zipfile.ZipFile(path, "w") as zf:
                names = set(src.namelist())
                if "Gemfile" not in names:
                    tops = {n.split("/")[0] for n in names}
                    hint = (
                        f" (it holds the folder {tops.pop()!r}: zip the app's contents, not its folder)" if len(tops) == 1 else ""
                    )
                    raise ScaleperfError(f"{app} has no Gemfile at its root{hint}")
                for info in src.infolist():
                    if not info.is_dir():
                        _add(zf, info.filename, src.read(info), (info.external_attr >> 16) & 0o777 or 0o644)
                _add_rails_extension(zf, names)
        except zipfile.BadZipFile as exc:
            raise ScaleperfError(f"{app} is not a readable zip file ({exc})") from exc
        return _finish(path, "rails")
    raise ScaleperfError(f"--app {app}: expected a Rails app folder or a .zip of one")


def build(out_dir: Path, app: Path | None = None) -> Bundle:
    """The bundle for ``app`` (a Rails app) or, without one, for the reference backend."""
    return rails(app, out_dir) if app else reference(out_dir)
