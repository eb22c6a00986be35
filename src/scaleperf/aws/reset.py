"""Putting the seeded data back: restore the snapshot into a new database (of the configuration's class),
point the environment at it, delete the old one.

A database restored from a snapshot loads its blocks from S3 lazily: the first reads of each block are
slow until the volume is warm.  The deployment's facts say so (``database_storage``), so the results show
that a replicate's first minutes ran on a cold volume.
"""

from __future__ import annotations

from scaleperf.aws import database
from scaleperf.aws import environment as envs
from scaleperf.aws.errors import user_errors
from scaleperf.aws.stack import Stack
from scaleperf.configs import ScalingConfig

COLD_NOTE = (
    "restored from the seeded snapshot; RDS loads a restored volume's blocks lazily, so the first minutes of the run "
    "read from a cold volume"
)


def restore(p, cloud, s: Stack, config: ScalingConfig, extra: list[dict[str, str]] | None = None) -> list[str]:
    """Restore the snapshot into a database of ``config``'s class and point the current environment (if it
    exists yet) at it, together with ``extra`` option settings (one update).  Returns the changes made."""
    assert s.snapshot
    with user_errors("restoring the seeded database"):
        old = s.dbs[-1]
        new = f"{s.name}-db{len(s.dbs) + 1}"
        p.say(f"restoring {s.snapshot} into {new} ({config.db_class.name}) so that {config.name} starts from the seeded data")
        cloud.restore_db(new, snapshot=s.snapshot, db_class=config.db_class.name, security_group=s.groups[-1], tags=s.tags)
        s.dbs.append(new)
        host, port = database.endpoint(cloud.wait_db(new))
        s.restored_at = p.clock()
        if s.record is not None:
            point(p, cloud, s, config, host, port, extra or [], "switching to the restored database")
        cloud.delete_db(old)
        s.dirty = False
    return [f"data restored into {new}"]


def point(p, cloud, s: Stack, config: ScalingConfig, host: str, port: int, extra: list, doing: str) -> bool:
    """Update the current environment with ``extra`` and the properties of ``config`` at ``host:port`` (only
    what changed); returns whether there was anything to update."""
    rec = s.record
    assert rec is not None
    props = database.properties(s.kind, s.engine, config, host, port, s.secrets, seed=False, run_id=p.run_id)
    changed = {k: v for k, v in props.items() if rec.properties.get(k) != v}
    options = [*extra, *envs.property_options(changed)]
    if not options:
        return False
    cloud.eb.update_environment(name=rec.name, options=options)
    state = p.waiter(cloud.eb).ready(rec.name, envs.UPDATE_TIMEOUT_S, doing)
    rec.cname = state.cname or rec.cname
    rec.properties = props
    envs.verify_fleet(cloud.eb, rec.name, config)
    return True
