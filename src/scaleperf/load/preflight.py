"""Before any load: is something answering at the base URL?"""

from __future__ import annotations

import urllib.error
import urllib.request

from scaleperf.errors import ScaleperfError

PREFLIGHT_TIMEOUT_S = 4.0  # the target must answer GET /health within this (whole check stays under 10 s)


def preflight(base_url: str) -> None:
    """Fail fast, with one message, when nothing answers at ``base_url``."""
    if not base_url.startswith(("http://", "https://")):
        raise ScaleperfError(f"base URL {base_url!r} must start with http:// or https://")
    url = base_url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=PREFLIGHT_TIMEOUT_S) as resp:
            resp.read(1024)
    except urllib.error.HTTPError:
        return  # something answered HTTP: reachable (whether it has /health is not ours to judge)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ScaleperfError(
            f"the target {base_url} is unreachable (GET {url}: {reason}); start it or check the URL before running load"
        ) from None
