"""Finding and deleting what a run left on AWS (``scaleperf aws sweep``).

Everything scaleperf creates carries the tag ``scaleperf:run-id``.  Deletion goes in dependency order
(environments and instances before the security groups they use, databases before their snapshots'
clean-up is confirmed, applications last), waits for what takes time, then lists again: anything still
tagged is reported and the sweep fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from scaleperf.aws import groups
from scaleperf.aws.cloud import Resource
from scaleperf.aws.environment import TERMINATE_TIMEOUT_S, Waiter
from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

ORDER = (
    "eb-environment",
    "ec2-instance",
    "rds-instance",
    "rds-snapshot",
    "eb-application",
    "security-group",
    "s3-object",
    "eb-bucket-object",
)


def find(cloud, run_id: str | None = None) -> list[Resource]:
    """Everything tagged with ``run_id`` (any run when None), in deletion order."""
    return sorted(cloud.tagged(run_id), key=lambda r: (ORDER.index(r.kind), r.ident))


def sweep(
    cloud,
    run_id: str | None = None,
    *,
    say: Callable[[str], None] = log.info,
    waiter: Waiter | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Resource]:
    """Delete everything tagged with ``run_id``; returns what was deleted, raises if anything remains."""
    found = find(cloud, run_id)
    if not found:
        say(f"nothing tagged with {'run ' + run_id if run_id else 'any scaleperf run'} found in {cloud.region}")
        return []
    waiter = waiter or Waiter(cloud.eb, say)
    for kind in ORDER:
        batch = [r for r in found if r.kind == kind]
        if kind == "security-group" and batch:  # rules between them first, then retries while interfaces linger
            try:
                groups.delete_groups(cloud, [r.ident for r in batch], say=say, clock=clock, sleep=sleep)
            except Exception as exc:  # report and go on; the final listing decides success
                say(f"could not delete the security groups: {exc}")
            continue
        for r in batch:
            say(f"deleting {r}")
            try:
                cloud.delete(r)
            except Exception as exc:  # report and go on; the final listing decides success
                say(f"could not delete {r}: {exc}")
        for r in batch:
            try:
                if r.kind == "eb-environment":
                    waiter.gone(r.ident, TERMINATE_TIMEOUT_S)
                else:
                    cloud.wait_deleted(r)
            except Exception as exc:
                say(f"{r} is not gone yet: {exc}")
    left = find(cloud, run_id)
    if left:
        raise ScaleperfError(
            f"{len(left)} tagged resource(s) remain after the sweep: "
            + "; ".join(map(str, left))
            + ". Run the sweep again in a few "
            "minutes; if they stay, delete them in the AWS console (they cost money while they exist)."
        )
    say(f"deleted {len(found)} resource(s); nothing tagged remains")
    return found
