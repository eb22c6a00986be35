"""The RDS database of a session: its engine and pinned version, and how the app is told where it is.

Rails apps get ``DATABASE_URL`` (which Rails merges over ``config/database.yml``) as well as the ``RDS_*``
variables an Elastic Beanstalk ``database.yml`` reads; the reference backend gets ``DATABASE_URL``.
"""

from __future__ import annotations

import secrets

from scaleperf.aws import redact
from scaleperf.configs import ScalingConfig

DB_USER = "scaleperf"  # master user of the RDS instance
DB_NAMES = {"rails": "ebdb", "reference": "helpdesk"}  # database name per app kind (ebdb: Elastic Beanstalk's usual name)
DB_PORTS = {"mysql": 3306, "postgres": 5432}
ENGINES = {"rails": "mysql", "reference": "postgres"}  # default engine per app kind
# Pinned major versions (RDS picks the default minor): MySQL 8.0 as the course's Rails apps use it, and
# PostgreSQL's current major on RDS for the reference backend.
ENGINE_VERSIONS = {"mysql": "8.0", "postgres": "17"}
URL_SCHEMES = {("rails", "mysql"): "mysql2", ("rails", "postgres"): "postgresql", ("reference", "postgres"): "postgresql"}


def new_secrets(kind: str) -> dict[str, str]:
    """The generated master password (and a Rails ``SECRET_KEY_BASE``), masked in every log line from now on."""
    out = {"password": redact.register(secrets.token_hex(16))}
    if kind == "rails":
        out["secret_key_base"] = redact.register(secrets.token_hex(64))
    return out


def properties(
    kind: str, engine: str, config: ScalingConfig, host: str, port: int, generated: dict[str, str], *, seed: bool, run_id: str
) -> dict[str, str]:
    """The environment properties of ``config``'s environment pointing at the database at ``host:port``."""
    db_name = DB_NAMES[kind]
    password = generated["password"]
    scheme = URL_SCHEMES.get((kind, engine), engine)
    props = {
        "SCALEPERF_SEED": "1" if seed else "0",
        "SCALEPERF_RUN_ID": run_id,
        "DATABASE_URL": f"{scheme}://{DB_USER}:{password}@{host}:{port}/{db_name}",
    }
    if kind == "rails":
        props |= {
            "RAILS_ENV": "production",
            "RACK_ENV": "production",
            "RAILS_SKIP_MIGRATIONS": "false",
            "SECRET_KEY_BASE": generated["secret_key_base"],
            "RDS_HOSTNAME": host,
            "RDS_PORT": str(port),
            "RDS_DB_NAME": db_name,
            "RDS_USERNAME": DB_USER,
            "RDS_PASSWORD": password,
        }
    else:
        props |= {"HELPDESK_WORKERS": str(config.app_type.vcpus), "HELPDESK_COST_MODEL": "rails"}
    return props


def endpoint(db: dict) -> tuple[str, int]:
    return db["Endpoint"]["Address"], int(db["Endpoint"]["Port"])
