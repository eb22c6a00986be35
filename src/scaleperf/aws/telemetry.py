"""Target-side telemetry from CloudWatch for a run's window, in the shape the local miniature reports.

CloudWatch publishes a minute's datapoint a few minutes after the minute, and a run's window is read right
after the run: the reads repeat every ``TELEMETRY_POLL_S`` until every series' newest datapoint covers the
window's end, or the wait allowed has passed.  The series that still end early get NaN (unknown) for their
missing minutes, and the facts say which they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from scaleperf.aws import plan as plans
from scaleperf.aws.environment import lb_type
from scaleperf.aws.errors import user_errors
from scaleperf.results import Telemetry

METRIC_PERIOD_S = 60  # CloudWatch period: detailed monitoring has 1-minute points
TELEMETRY_WAIT_S = plans.CLOUDWATCH_WAIT_MINUTES * 60  # wait at most this long for CloudWatch to publish a run's end
TELEMETRY_POLL_S = 30.0  # seconds between CloudWatch reads while waiting
TELEMETRY_SOURCE = f"CloudWatch, {METRIC_PERIOD_S} s periods"


def read_environment(
    cloud,
    env: str,
    db: str | None,
    t0: float,
    t1: float,
    *,
    wait_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    say: Callable[[str], None],
) -> tuple[tuple[Telemetry, ...], dict]:
    """CloudWatch's series for the window [t0, t1] of the Elastic Beanstalk environment ``env`` (its instances and
    load balancers as it has them now) and of the RDS instance ``db`` when one is named, and facts about how they
    were read.  Shared by the aws provider (its own stack) and the url provider (an environment found by its CNAME)."""
    with user_errors("reading CloudWatch metrics"):
        res = cloud.eb.resources(env)
        started = clock()
        deadline = started + wait_s
        while True:
            found = _metrics(cloud, res, db, t0, t1)
            short = [name for name, (_, points) in found.items() if not points or points[-1][0] + METRIC_PERIOD_S < t1]
            left = deadline - clock()
            if not short or left <= 0:
                break
            sleep(min(TELEMETRY_POLL_S, left))
    waited = clock() - started
    facts: dict = {"source": TELEMETRY_SOURCE, "complete": not short, "waited_s": round(waited)}
    unread = [lb for lb in res.load_balancers if _lb_metric(lb) is None]
    if unread:
        facts["not_read"] = f"{', '.join(unread)}: a network load balancer counts no requests"
    if short:
        facts["gave_up"] = (
            f"CloudWatch had not published up to the end of the run for {', '.join(short)}; their last minutes are NaN"
        )
        say(
            f"gave up waiting for CloudWatch after {waited:.0f} s: it has not published the last minutes of the run for "
            f"{', '.join(short)}; they are recorded as unknown (NaN), and the run's metadata says so"
        )
    out = []
    for name, (tier, points) in found.items():
        points = _pad(points, t0, t1)
        if tier == "lb":
            out.append(_series(name, tier, [], t0, requests=[(t, v / METRIC_PERIOD_S) for t, v in points]))
        else:
            out.append(_series(name, tier, points, t0))
    return tuple(out), facts


def _metrics(cloud, res, db: str | None, t0: float, t1: float) -> dict[str, tuple[str, list[tuple[float, float]]]]:
    """component -> (tier, its datapoints in [t0, t1]), as CloudWatch has them now."""
    out: dict[str, tuple[str, list[tuple[float, float]]]] = {}
    for n, iid in enumerate(res.instance_ids, 1):
        pts = cloud.metric("AWS/EC2", "CPUUtilization", {"InstanceId": iid}, t0, t1, period=METRIC_PERIOD_S, stat="Average")
        out[f"app-{n}"] = ("app", pts)
    if db:
        pts = cloud.metric(
            "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": db}, t0, t1, period=METRIC_PERIOD_S, stat="Average"
        )
        out["db"] = ("db", pts)
    balancers = [m for m in map(_lb_metric, res.load_balancers) if m is not None]
    for n, (namespace, dims) in enumerate(balancers, 1):
        pts = cloud.metric(namespace, "RequestCount", dims, t0, t1, period=METRIC_PERIOD_S, stat="Sum")
        out["lb" if n == 1 else f"lb-{n}"] = ("lb", pts)
    return out


def _lb_metric(lb: str) -> tuple[str, dict[str, str]] | None:
    """Where CloudWatch counts a load balancer's requests (namespace, dimensions), from the name
    DescribeEnvironmentResources gives it; None for a network load balancer, which counts connections only."""
    kind = lb_type(lb)
    if kind == "application":
        return "AWS/ApplicationELB", {"LoadBalancer": lb.split(":loadbalancer/", 1)[1]}
    if kind == "classic":
        return "AWS/ELB", {"LoadBalancerName": lb}
    return None


def _pad(points: list[tuple[float, float]], t0: float, t1: float) -> list[tuple[float, float]]:
    """``points`` followed by NaN for every period up to t1 that CloudWatch has not published (it stamps a
    period by its start, and rounds a query's start down to the minute)."""
    first = math.floor(t0 / METRIC_PERIOD_S) * METRIC_PERIOD_S
    t = points[-1][0] + METRIC_PERIOD_S if points else first
    out = list(points)
    while t < t1:
        out.append((t, math.nan))
        t += METRIC_PERIOD_S
    return out


def _series(component: str, tier: str, points: list[tuple[float, float]], t0: float, requests=None) -> Telemetry:
    src = points or requests or []
    t = np.array([p[0] - t0 for p in src], dtype=float)
    nan = np.full(len(t), np.nan)
    cpu = np.array([p[1] for p in points], dtype=float) if points else nan
    req = np.array([p[1] for p in requests], dtype=float) if requests is not None else None
    return Telemetry(component=component, tier=tier, t=t, cpu_pct=cpu, throttled_pct=nan, memory_mb=nan.copy(), requests=req)
