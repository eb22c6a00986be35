"""The application source bundle Elastic Beanstalk deploys: a user's Rails app, or the reference backend.

* A Rails app (a folder or a zip with ``Gemfile`` at its root) is bundled as it is, plus
  ``.ebextensions/scaleperf.config``: the Ruby platform runs ``rails db:migrate`` on deploy
  (``RAILS_SKIP_MIGRATIONS=false``) and a leader-only container command seeds the database once, when
  the environment property ``SCALEPERF_SEED`` is ``1``.
* The reference backend (``src/helpdesk``) is bundled with a ``Procfile`` for the Python platform, a
  ``requirements.txt`` pinned to the versions installed here, the user pool (``fixtures/users.tsv``) and
  the same leader-only seed command.  Its server applies its schema when it starts.
"""

from __future__ import annotations

import hashlib
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
GET_CONFIG = "/opt/elasticbeanstalk/bin/get-config environment -k"  # the platform's tool for reading environment properties
SEED_TEST = f'[ "$({GET_CONFIG} SCALEPERF_SEED)" = "1" ]'

RAILS_EXTENSION = f"""# Added by scaleperf: seed the database once per fresh database (leader instance only).
container_commands:
  50_scaleperf_seed:
    command: "bundle exec rails db:seed"
    leader_only: true
    test: '{SEED_TEST}'
"""

REFERENCE_EXTENSION = f"""# Added by scaleperf: seed the user pool once per fresh database (leader instance only).
container_commands:
  50_scaleperf_seed:
    command: >-
      source /var/app/venv/*/bin/activate &&
      python -m helpdesk seed --database-url "$({GET_CONFIG} DATABASE_URL)" --users fixtures/users.tsv
    leader_only: true
    test: '{SEED_TEST}'
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
        _add(zf, ".ebextensions/scaleperf.config", REFERENCE_EXTENSION)
    return _finish(path, "reference")


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
            if ".ebextensions/scaleperf.config" not in names:
                _add(zf, ".ebextensions/scaleperf.config", RAILS_EXTENSION)
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
                if ".ebextensions/scaleperf.config" not in names:
                    _add(zf, ".ebextensions/scaleperf.config", RAILS_EXTENSION)
        except zipfile.BadZipFile as exc:
            raise ScaleperfError(f"{app} is not a readable zip file ({exc})") from exc
        return _finish(path, "rails")
    raise ScaleperfError(f"--app {app}: expected a Rails app folder or a .zip of one")


def build(out_dir: Path, app: Path | None = None) -> Bundle:
    """The bundle for ``app`` (a Rails app) or, without one, for the reference backend."""
    return rails(app, out_dir) if app else reference(out_dir)
