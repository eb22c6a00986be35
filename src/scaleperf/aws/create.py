"""Creating a session's deployment: the shared part once (bundle, application version, security groups,
database), then one Elastic Beanstalk environment per shape as configurations need it.

Order of business, so that a failure costs as little as possible: the application version must be
PROCESSED before the database is created; an environment's real instances and load balancer are read back
after creation and compared with the configuration.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from scaleperf.aws import bundle as bundles
from scaleperf.aws import database
from scaleperf.aws import environment as envs
from scaleperf.aws.stack import EnvRecord, Stack
from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

VERSION_POLL_S = 5.0  # seconds between checks of the application version's processing
VERSION_TIMEOUT_S = 10 * 60  # processing a bundle takes seconds to a few minutes


def wait_processed(cloud, s: Stack, p) -> None:
    """Wait until the application version is PROCESSED; stop (before the database exists) when it FAILED."""
    deadline = p.clock() + VERSION_TIMEOUT_S
    while True:
        status = cloud.eb.version_status(s.application, s.version)
        if status == "PROCESSED":
            return
        if status == "FAILED":
            raise ScaleperfError(
                f"Elastic Beanstalk could not process the source bundle (application version {s.version} FAILED); look at "
                "the application's events in the console: the zip must hold the app at its root. Nothing but the "
                "application was created, and it is removed now"
            )
        if p.clock() >= deadline:
            raise ScaleperfError(f"application version {s.version} still {status or 'unknown'} after {VERSION_TIMEOUT_S} s")
        p.sleep(VERSION_POLL_S)


def shared(p, cloud, s: Stack, config: ScalingConfig) -> None:
    """Bundle, application version, security groups and the database: what every environment of ``s`` uses."""
    say = p.say
    work = p.work_dir or Path(tempfile.mkdtemp(prefix="scaleperf-aws-"))
    b = bundles.build(work, p.app)
    s.bucket = cloud.bucket()
    key = f"runs/{p.run_id}/{p.slot}/{b.path.name}"
    cloud.upload(s.bucket, key, b.path, s.tags)
    s.key = key
    say(f"uploaded the {b.kind} source bundle to s3://{s.bucket}/{key}")
    cloud.eb.create_application(s.name, s.tags)
    s.application = s.name
    cloud.eb.create_application_version(application=s.name, label=b.label, bucket=s.bucket, key=key, tags=s.tags)
    s.version = b.label
    wait_processed(cloud, s, p)
    say(f"application {s.name}, version {b.label} processed, platform {s.platform!r}")

    vpc = s.network.vpc if s.network else cloud.default_vpc()[0]
    app_group = cloud.create_security_group(f"{s.name}-app", vpc, "scaleperf app instances", s.tags)
    s.groups.append(app_group)
    db_group = cloud.create_security_group(f"{s.name}-db", vpc, "scaleperf database", s.tags)
    s.groups.append(db_group)
    cloud.allow_from_group(db_group, database.DB_PORTS[s.engine], app_group, "scaleperf app instances")

    s.secrets = database.new_secrets(s.kind)
    db_id = f"{s.name}-db1"
    version = database.ENGINE_VERSIONS[s.engine]
    say(f"creating RDS {s.engine} {version} {config.db_class.name} {db_id} (5-20 minutes)")
    cloud.create_db(
        db_id,
        db_class=config.db_class.name,
        engine=s.engine,
        engine_version=version,
        db_name=database.DB_NAMES[s.kind],
        user=database.DB_USER,
        password=s.secrets["password"],
        security_group=db_group,
        tags=s.tags,
    )
    s.dbs.append(db_id)
    cloud.wait_db(db_id)


def environment(p, cloud, s: Stack, config: ScalingConfig, *, seed: bool) -> EnvRecord:
    """Create the environment of ``config``'s shape, pointing at the current database; wait; check its fleet."""
    shape = envs.shape(config)
    name = s.env_name(shape)
    host, port = database.endpoint(cloud.wait_db(s.dbs[-1]))
    props = database.properties(s.kind, s.engine, config, host, port, s.secrets, seed=seed, run_id=p.run_id)
    options = envs.creation_options(
        config, security_group=s.groups[0], properties=props, health_path=p.health_path, network=s.network
    )
    log.info("creating environment %s with %s", name, envs.describe_options(options, frozenset(s.secrets.values())))
    p.say(f"creating environment {name} ({shape}) for {config.name} (10-30 minutes)")
    cloud.eb.create_environment(
        application=s.application, name=name, version=s.version, stack=s.platform, options=options, tags=s.tags
    )
    rec = EnvRecord(name=name, properties=props)
    s.envs[shape] = rec
    state = p.waiter(cloud.eb).ready(name, envs.CREATE_TIMEOUT_S, f"creating {config.name}")
    rec.cname = state.cname
    envs.verify_fleet(cloud.eb, name, config)
    rec.config = config
    return rec


def snapshot(p, cloud, s: Stack) -> None:
    """Snapshot the freshly seeded database, so that every configuration starts from the same data."""
    snap = f"{s.dbs[-1]}-seeded"
    p.say(f"snapshotting the seeded database as {snap}, so every configuration starts from the same data")
    cloud.snapshot_db(s.dbs[-1], snap, s.tags)
    s.snapshot = snap
    cloud.wait_snapshot(snap)
