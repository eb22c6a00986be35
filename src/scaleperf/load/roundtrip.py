"""The round trip from this machine to the target, measured before the load starts.

Every latency the load generator records includes one round trip between it and the target. Run from a
laptop against a cloud region, that round trip can be larger than the server's own time, so the engine
measures it first and the report states it beside the latency figures. A few ``GET /health`` requests on one
kept-alive connection (after one untimed request that opens it) are timed; the median is the figure. It is an
upper bound of the network round trip: it includes the target's (tiny) time to answer a health check. When
``/health`` answers an HTTP error, the base URL itself is timed instead.
"""

from __future__ import annotations

import http.client
import logging
import statistics
import time
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

PROBES = 5  # timed requests; their median is the round trip
PROBE_TIMEOUT_S = 4.0  # one probe must answer within this, or the round trip is left unmeasured
HEALTH_PATH = "/health"  # what is timed first; the base URL's own path when this answers an error


def _connection(base_url: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(base_url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return cls(parts.hostname or "", parts.port, timeout=PROBE_TIMEOUT_S), parts.path.rstrip("/")


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, float]:
    """(status, milliseconds) of one GET on ``conn``, body read to the end."""
    started = time.perf_counter()
    conn.request("GET", path or "/", headers={"User-Agent": "scaleperf-rtt"})
    resp = conn.getresponse()
    resp.read()
    return resp.status, (time.perf_counter() - started) * 1000.0


def measure(base_url: str, probes: int = PROBES) -> dict:
    """The round trip to ``base_url``: ``rtt_ms`` (median), ``rtt_samples_ms``, ``rtt_path``, ``rtt_probes``.

    Figures are None (with ``rtt_error``) when the target does not answer; the load run goes on regardless.
    """
    conn, prefix = _connection(base_url)
    path = prefix + HEALTH_PATH
    try:
        status, _ = _get(conn, path)  # opens the connection: not timed
        if status >= 400:
            path = prefix or "/"
            _get(conn, path)
        samples = [round(_get(conn, path)[1], 3) for _ in range(probes)]
    except (OSError, http.client.HTTPException) as exc:
        log.warning("round trip to %s not measured: %s", base_url, exc)
        return {"rtt_ms": None, "rtt_samples_ms": [], "rtt_path": path, "rtt_probes": probes, "rtt_error": str(exc)}
    finally:
        conn.close()
    return {
        "rtt_ms": statistics.median(samples),
        "rtt_samples_ms": samples,
        "rtt_path": path,
        "rtt_probes": probes,
    }
