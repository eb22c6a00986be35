"""What a run records about itself: the software and machine it ran on, and Locust's own (bucketed) totals."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import locust
from locust.env import Environment

from scaleperf import results

REPO_ROOT = Path(__file__).resolve().parents[3]  # for the git commit in the metadata
LOCUST_OWN_Q = (0.5, 0.95, 0.99)  # Locust's own percentiles kept in the metadata, beside the exact ones
GIT_TIMEOUT_S = 5.0  # `git rev-parse` must answer within this


def software() -> dict:
    """Versions and the checkout the run came from."""
    return {
        "locust_version": locust.__version__,
        "python_version": platform.python_version(),
        "versions": results.package_versions(),  # locust, gevent, geventhttpclient, numpy, scipy, scaleperf
        "git_commit": git_commit(),
        "git_dirty": results.git_dirty(REPO_ROOT),  # uncommitted changes in the checkout; None: no git
        "machine": machine(),
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine() -> dict:
    return {
        "node": platform.node(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def locust_own(env: Environment) -> dict:
    """Locust's own (bucketed) totals, kept beside the exact figures for comparison."""
    total = env.stats.total
    return {
        "num_requests": total.num_requests,
        "num_failures": total.num_failures,
        "total_rps": total.total_rps,
        **{f"p{round(q * 100)}_ms": total.get_response_time_percentile(q) if total.num_requests else None for q in LOCUST_OWN_Q},
        "note": "Locust rounds each response time into buckets before its percentiles; the exact figures are in samples",
    }
