"""Small process and HTTP helpers of the local miniature: start a logged server, ask a URL its status, find a listener."""

from __future__ import annotations

import contextlib
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import psutil

HTTP_TIMEOUT_S = 2.0  # one health request


def _http_status(url: str) -> int | None:
    """The HTTP status ``url`` answers with (redirects not followed), or None when nothing answers."""
    try:
        with urllib.request.build_opener(_NoRedirect).open(url, timeout=HTTP_TIMEOUT_S) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 301 to https (force_ssl) is reported, not followed
        return None


def _spawn(cmd: list[str], log_path: Path, *, env: dict | None, cwd: Path | None) -> subprocess.Popen:
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # stopped by the teardown, not by a terminal's Ctrl-C halfway through
        )


def golden_env() -> dict[str, str]:
    from scaleperf.providers.golden import python_env

    return python_env()


def _listening(pid: int, port: int) -> bool:
    """Whether a process of ``pid``'s tree listens on ``port``."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in p.net_connections("tcp")):
                return True
    return False
