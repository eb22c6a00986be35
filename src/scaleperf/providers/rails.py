"""A Rails app run the way Elastic Beanstalk's Ruby platform runs it.

Each app instance is the app's own ``bundle exec puma`` (cluster mode, ``WEB_CONCURRENCY`` = one worker
per vCPU, ``RAILS_MAX_THREADS`` threads each), in production (``RAILS_ENV``/``RACK_ENV``), with a
generated ``SECRET_KEY_BASE``, ``DATABASE_URL`` and the ``RDS_*`` variables Elastic Beanstalk sets for an
attached RDS database, logs to stdout at level warn.  When nginx is installed it sits in front of puma
inside the instance's limits, as on the platform.  The database is prepared once per golden copy with
the app's own ``bin/rails db:prepare`` (create, load the schema or migrate, seed).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

THREADS = 5  # RAILS_MAX_THREADS: Rails' default, and the database pool per worker
PREPARE_TIMEOUT_S = 900.0  # bin/rails db:prepare on a big schema and seeds, on a loaded machine
CHECK_TIMEOUT_S = 120.0  # bundle check
LOG_LINES = 15  # lines of an app's log shown when it fails to boot
DB_NAME = "ebdb"  # the database name Elastic Beanstalk gives an attached RDS instance
DB_USER = "ebroot"  # the master user name of that instance (ours has a generated password)
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "MY_RUBY_HOME")  # what the app's processes inherit from ours
KEEP_ENV_PREFIXES = ("GEM_", "BUNDLE_", "RBENV_", "RVM_", "RUBY")  # Ruby version managers and bundler settings
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


@dataclass(frozen=True)
class Ruby:
    """The Ruby toolchain found for an app."""

    ruby: str
    bundle: str
    version: str


def find_ruby(app: Path) -> Ruby:
    """ruby and bundler, and the app's gems installed; else a ScaleperfError saying what to run."""
    ruby, bundle = shutil.which("ruby"), shutil.which("bundle")
    if ruby is None or bundle is None:
        missing = " and ".join(n for n, p in (("ruby", ruby), ("bundler", bundle)) if p is None)
        raise ScaleperfError(
            f"{missing} not found on PATH, needed to run the Rails app in {app}; install them "
            "(Debian: apt-get install ruby bundler, or rbenv/rvm with the app's .ruby-version), or test the app "
            "where it is deployed with --provider url"
        )
    version = subprocess.run([ruby, "-v"], capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        check = subprocess.run(
            [bundle, "check"], cwd=app, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, env=base_env(app)
        )
    except subprocess.TimeoutExpired as exc:
        raise ScaleperfError(f"`bundle check` in {app} took over {CHECK_TIMEOUT_S:.0f}s") from exc
    if check.returncode != 0:
        said = " ".join((check.stdout + check.stderr).strip().splitlines()[-2:])
        if "Ruby version" in said or "ruby version" in said:
            raise ScaleperfError(
                f"{app} asks for another Ruby than {version or ruby}: install that version (rbenv, rvm, or your "
                f"distribution's), put it first on PATH and run `bundle install` in {app} (bundler says: {said})"
            )
        raise ScaleperfError(f"the gems of {app} are not installed: run `bundle install` in {app} first (bundle check: {said})")
    return Ruby(ruby=ruby, bundle=bundle, version=version)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if Path(p).exists()), None)


def base_env(app: Path) -> dict[str, str]:
    """The environment every Rails process gets, before the database's variables."""
    keep = {k: v for k, v in os.environ.items() if k in KEEP_ENV or k.startswith(KEEP_ENV_PREFIXES)}
    keep.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    keep.setdefault("LANG", "C.UTF-8")
    return {
        **keep,
        "BUNDLE_GEMFILE": str(app / "Gemfile"),
        "RAILS_ENV": "production",
        "RACK_ENV": "production",
        "RAILS_LOG_TO_STDOUT": "1",
        "RAILS_LOG_LEVEL": "warn",
        "RAILS_SERVE_STATIC_FILES": "1",
        "DISABLE_DATABASE_ENVIRONMENT_CHECK": "1",
        "BOOTSNAP_CACHE_DIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / "scaleperf-bootsnap"),
    }


@dataclass(frozen=True)
class DbFacts:
    """How the app reaches its database: a Rails DATABASE_URL and Elastic Beanstalk's RDS_* variables."""

    adapter: str
    host: str
    port: int
    name: str
    user: str
    password: str

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.password else f"{self.user}@"
        return f"{self.adapter}://{auth}{self.host}:{self.port}/{self.name}"

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.url,
            "RDS_HOSTNAME": self.host,
            "RDS_PORT": str(self.port),
            "RDS_DB_NAME": self.name,
            "RDS_USERNAME": self.user,
            "RDS_PASSWORD": self.password,
        }


def app_env(app: Path, db: DbFacts, *, workers: int, threads: int, secret: str, extra: dict[str, str] | None = None) -> dict:
    return {
        **base_env(app),
        **db.env(),
        "WEB_CONCURRENCY": str(workers),
        "RAILS_MAX_THREADS": str(threads),
        "RAILS_MIN_THREADS": str(threads),
        "SECRET_KEY_BASE": secret,
        **(extra or {}),
    }


def new_secret() -> str:
    """A SECRET_KEY_BASE shared by every instance of one deployment (tokens must verify on any of them)."""
    return secrets.token_hex(64)


def puma_command(app: Path, ruby: Ruby, *, port: int, workers: int, threads: int) -> list[str]:
    """``bundle exec puma`` bound to 127.0.0.1:``port`` with the app's config/puma.rb when it has one.

    Workers and threads are given on the command line too, so that an app whose puma.rb ignores
    WEB_CONCURRENCY still runs one worker per vCPU, as the platform's own puma configuration does."""
    cmd = [ruby.bundle, "exec", "puma"]
    if (app / "config" / "puma.rb").is_file():
        cmd += ["-C", "config/puma.rb"]
    cmd += ["-b", f"tcp://127.0.0.1:{port}", "-e", "production", "-w", str(workers), "-t", f"{threads}:{threads}"]
    return cmd


def nginx_config(workdir: Path, *, listen: int, upstream: int, workers: int) -> str:
    """nginx as the Elastic Beanstalk Ruby platform configures it: a reverse proxy to puma, keep-alive upstream."""
    temp = workdir / "nginx-temp"
    return f"""daemon off;
worker_processes {workers};
pid {workdir / "nginx.pid"};
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    keepalive_timeout 300s;
    client_max_body_size 10m;
    upstream puma {{ server 127.0.0.1:{upstream}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://puma;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto http;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


def write_nginx(workdir: Path, name: str, *, listen: int, upstream: int, workers: int) -> list[str]:
    """Write an instance's nginx configuration; returns the command that runs it in the foreground."""
    binary = nginx_binary()
    if binary is None:
        raise ScaleperfError("nginx is not installed")
    folder = workdir / f"{name}-nginx"
    temp = folder / "nginx-temp"
    temp.mkdir(parents=True, exist_ok=True)
    temp.chmod(0o1777)  # nginx's workers drop to an unprivileged user when started as root
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(folder, listen=listen, upstream=upstream, workers=workers))
    return [binary, "-p", str(folder), "-c", str(conf), "-e", "stderr"]


def prepare_database(app: Path, ruby: Ruby, db: DbFacts, log_path: Path) -> None:
    """``bin/rails db:prepare`` (create, schema or migrations, seeds) against ``db``; its output goes to ``log_path``."""
    rails = [str(app / "bin" / "rails")] if (app / "bin" / "rails").is_file() else [ruby.bundle, "exec", "rails"]
    env = app_env(app, db, workers=1, threads=THREADS, secret=new_secret())
    cmd = [*rails, "db:prepare"]
    log.info("preparing the database of %s: %s", app, " ".join(cmd))
    with open(log_path, "ab") as out:
        try:
            proc = subprocess.run(cmd, cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=PREPARE_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ScaleperfError(f"`bin/rails db:prepare` in {app} took over {PREPARE_TIMEOUT_S:.0f}s (log: {log_path})") from exc
    if proc.returncode != 0:
        raise ScaleperfError(
            f"`bin/rails db:prepare` failed in {app} (exit {proc.returncode}; its output: {log_path}); "
            f"last lines:\n{tail(log_path)}"
        )


def tail(path: Path, lines: int = LOG_LINES) -> str:
    try:
        text = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    return "\n".join("    " + ln for ln in text[-lines:]) if text else "(empty log)"
