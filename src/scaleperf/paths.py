"""Where scaleperf keeps its per-user working files.

Everything lives under one folder in the system's temporary area, ``$TMPDIR/scaleperf-<uid>``
(``/tmp/scaleperf-0`` for root), outside any home directory: a home with mode 700 would block the
unprivileged uid that PostgreSQL runs as when scaleperf is started as root.  ``SCALEPERF_HOME``
overrides it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from scaleperf.errors import ScaleperfError


def home() -> Path:
    """The per-user folder, created on first use (mode 0755, owned by the caller)."""
    base = os.environ.get("SCALEPERF_HOME")
    path = Path(base) if base else Path(tempfile.gettempdir()) / f"scaleperf-{os.getuid()}"
    try:
        path.mkdir(mode=0o755, exist_ok=True)
    except OSError as exc:
        raise ScaleperfError(
            f"cannot create scaleperf's folder {path}: {exc.strerror}; set SCALEPERF_HOME to a writable folder"
        ) from exc
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        raise ScaleperfError(f"{path} is not a folder owned by you; remove it or set SCALEPERF_HOME")
    return path


def subdir(*parts: str) -> Path:
    """A folder under :func:`home`, created with mode 0755."""
    path = home().joinpath(*parts)
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    return path
