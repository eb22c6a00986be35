"""Moving a session from one configuration to the next.

The environment of the configuration's shape is used (created when it is the first of its shape); on it
the fleet changes with ``update_environment`` (instance type, count), never the shape.  A new database
class is modified in place while the data is fresh, or comes with the restore when the data must be reset
anyway (the restore and the move are then one update).
"""

from __future__ import annotations

from scaleperf.aws import create, database, reset
from scaleperf.aws import environment as envs
from scaleperf.aws.stack import Stack
from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError

DB_CLASS_POLL_S = 30  # seconds between checks that a DB class change has been applied


def arrive(p, cloud, s: Stack, config: ScalingConfig) -> None:
    shape = envs.shape(config)
    prev = s.config
    if prev is not None and prev.name == config.name and s.current == shape:
        return
    changes: list[str] = []
    if prev is not None and prev.db_class.name != config.db_class.name and not s.dirty:
        changes.append(f"database class {prev.db_class.name} -> {config.db_class.name} (modified in place)")
        p.say(f"modifying {s.dbs[-1]} to {config.db_class.name} (reusing the database, not recreating it)")
        cloud.modify_db_class(s.dbs[-1], config.db_class.name)
        wait_db_class(p, cloud, s.dbs[-1], config.db_class.name)
    rec = s.envs.get(shape)
    s.current = shape
    if rec is None:
        if s.dirty:  # the new environment starts on the seeded data too
            changes += reset.restore(p, cloud, s, config)
        create.environment(p, cloud, s, config, seed=False)
        changes.append(f"new {shape} environment {s.env} (the shape is chosen at creation, so each shape has its own)")
        p.say(f"{config.name} on {s.env}: " + "; ".join(changes))
        return
    was = rec.config
    extra = []
    if was is None or (was.app_type.name, was.app_instances) != (config.app_type.name, config.app_instances):
        extra = envs.fleet_options(config)
        if was is not None:
            changes.append(f"app {was.app_instances} x {was.app_type.name} -> {config.app_instances} x {config.app_type.name}")
    rec.config = config
    if s.dirty:
        if prev is not None and prev.db_class.name != config.db_class.name:
            changes.append(
                f"database class {prev.db_class.name} -> {config.db_class.name} (applied when the seeded snapshot is restored)"
            )
        changes += reset.restore(p, cloud, s, config, extra)
    else:
        host, port = database.endpoint(cloud.wait_db(s.dbs[-1]))
        reset.point(p, cloud, s, config, host, port, extra, f"updating to {config.name}")
    p.say(f"reused environment {s.env} for {config.name}: " + ("; ".join(changes) if changes else "nothing to change"))


def wait_db_class(p, cloud, ident: str, db_class: str) -> None:
    # Right after ModifyDBInstance the status may still read "available" with the old class: poll for the new one.
    deadline = p.clock() + envs.UPDATE_TIMEOUT_S
    while True:
        db = cloud.wait_db(ident)
        if db["DBInstanceClass"] == db_class:
            return
        if p.clock() > deadline:
            raise ScaleperfError(f"{ident} did not change to {db_class} in time; check it in the RDS console")
        p.sleep(DB_CLASS_POLL_S)
