"""Deleting security groups so that it finishes: dependency order, then retries.

A group cannot go while another group's rule references it, nor while a network interface uses it, and the
interfaces of a deleted RDS instance (or of terminated instances) linger for minutes.  So: first remove the
rules of these groups that name other groups (then their order no longer matters), then delete each group,
retrying ``DependencyViolation`` every ``RETRY_S`` for up to ``TIMEOUT_S``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from scaleperf.aws.errors import error_code

log = logging.getLogger(__name__)

RETRY_S = 20.0  # seconds between attempts while a group is still in use
TIMEOUT_S = 15 * 60.0  # RDS releases a deleted instance's network interfaces within about ten minutes
GONE = ("InvalidGroup.NotFound", "InvalidGroupId.NotFound")


def delete_groups(
    cloud,
    groups: list[str],
    *,
    say: Callable[[str], None] = log.info,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = TIMEOUT_S,
) -> list[str]:
    """Delete ``groups``; returns those still there when the time ran out (each with why in the log)."""
    for group in groups:
        try:
            cloud.revoke_group_references(group)
        except Exception as exc:  # a group already gone has no rules to remove
            if error_code(exc) not in GONE:
                log.warning("could not remove the rules of %s that reference other groups: %s", group, exc)
    left = list(groups)
    deadline = clock() + timeout_s
    while left:
        still = []
        for group in left:
            try:
                cloud.delete_security_group(group)
            except Exception as exc:
                code = error_code(exc)
                if code in GONE:
                    continue
                if code != "DependencyViolation":
                    raise
                still.append(group)
        left = still
        if not left:
            break
        if clock() >= deadline:
            say(f"security group(s) {', '.join(left)} still in use after {timeout_s:.0f} s")
            break
        say(f"security group(s) {', '.join(left)} still in use (network interfaces linger after deletions); retrying")
        sleep(RETRY_S)
    return left
