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
        if not path.exists():
            path.mkdir(exist_ok=True)
            path.chmod(0o755)  # not the umask's: as root, PostgreSQL runs as an unprivileged user that must enter it
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
    top = home()
    path = top.joinpath(*parts)
    for folder in [*reversed(path.relative_to(top).parents[:-1]), path.relative_to(top)]:
        here = top / folder
        if not here.exists():
            here.mkdir(exist_ok=True)
            here.chmod(0o755)  # not the umask's (see home)
    return path
