"""Removing what a session created, in reverse order, each step tolerant of what is already gone, and going
on through failures (and a second Ctrl-C): whatever could not go is named with the sweep command that
finishes the job."""

from __future__ import annotations

import logging
from collections.abc import Callable

from scaleperf.aws import groups as security_groups
from scaleperf.aws.errors import error_code
from scaleperf.aws.stack import Stack

log = logging.getLogger(__name__)

MISSING_DB = ("DBInstanceNotFound", "DBInstanceNotFoundFault", "InvalidDBInstanceState")


def _ignore_missing(step: Callable[[], None]) -> None:
    try:
        step()
    except Exception as exc:
        if error_code(exc) not in MISSING_DB:
            raise


def steps(cloud, s: Stack, waiter, *, worker_key: str, clock, sleep, say) -> list[tuple[str, Callable[[], None]]]:
    """The teardown of ``s`` as (what, step) pairs, in the order they run."""
    out: list[tuple[str, Callable[[], None]]] = []
    if s.workers:
        out.append(("stop load generators", s.workers.stop))
    for rec in s.envs.values():
        out.append((f"terminate environment {rec.name}", lambda n=rec.name: cloud.eb.terminate_environment(n)))
    for rec in s.envs.values():
        out.append((f"wait for {rec.name} to terminate", lambda n=rec.name: waiter.gone(n)))
    for db in s.dbs:
        out.append((f"delete database {db}", lambda db=db: _ignore_missing(lambda: cloud.delete_db(db))))
    for db in s.dbs:
        out.append((f"wait for {db} to go", lambda db=db: cloud.wait_db_deleted(db)))
    if s.snapshot:
        snap = s.snapshot
        out.append((f"delete snapshot {snap}", lambda: cloud.delete_snapshot(snap)))
    if s.application:
        app = s.application
        out.append((f"delete application {app}", lambda: cloud.eb.delete_application(app)))
    if s.groups:
        groups = list(s.groups)

        def delete_groups() -> None:
            left = security_groups.delete_groups(cloud, groups, say=say, clock=clock, sleep=sleep)
            if left:
                raise RuntimeError(f"still in use: {', '.join(left)}")

        out.append((f"delete security groups {', '.join(groups)}", delete_groups))
    if s.key:
        bucket, key = s.bucket, s.key
        out.append(("delete the source bundle", lambda: cloud.delete_object(bucket, key)))
        out.append(("delete the worker bundle", lambda: cloud.delete_object(bucket, worker_key)))
    return out


def run(steps_: list[tuple[str, Callable[[], None]]], *, run_id: str, say: Callable[[str], None]) -> list[str]:
    """Run every step whatever happens to the others; returns what failed."""
    failed = []
    for what, step in steps_:
        try:
            step()
        except (Exception, KeyboardInterrupt) as exc:  # keep going (even on a second Ctrl-C): the rest must go too
            failed.append(what)
            log.warning("teardown: %s failed: %s", what, exc)
    if failed:
        say(f"teardown could not {', '.join(failed)}; run `scaleperf aws sweep --run-id {run_id}`")
    else:
        say("teardown complete")
    return failed
