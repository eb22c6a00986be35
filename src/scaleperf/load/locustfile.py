"""A locustfile's user classes, imported as ``locust -f`` imports them, once per process and file version."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from locust.util.load_locustfile import load_locustfile

from scaleperf.errors import ScaleperfError
from scaleperf.load.lifecycle import Listeners, added_since, listeners

_loaded: dict[Path, tuple[float, dict[str, type]]] = {}
_listeners: dict[Path, Listeners] = {}  # the module-level hooks each locustfile registered when imported


def user_classes(locustfile: Path | str) -> dict[str, type]:
    """The locustfile's user classes (imported once per process and file version)."""
    path = Path(locustfile).resolve()
    if not path.is_file():
        raise ScaleperfError(f"locustfile {locustfile} not found; pass the path of a Python file with Locust user classes")
    mtime = path.stat().st_mtime
    cached = _loaded.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    # Locust imports the file under its stem (locustfiles/helpdesk.py -> "helpdesk"). Where another module of that
    # name exists (the reference backend's package is also "helpdesk"), it keeps the name afterwards.
    shadowed = sys.modules.get(path.stem)
    elsewhere = shadowed is not None or _importable_elsewhere(path)
    before = listeners()
    try:
        users, _shapes = load_locustfile(str(path))
    except ScaleperfError as exc:
        raise ScaleperfError(f"locustfile {locustfile}: {exc}") from None
    except (Exception, SystemExit) as exc:
        raise ScaleperfError(
            f"locustfile {locustfile} does not import: {type(exc).__name__}: {exc}; run `python {locustfile}` to see where"
        ) from exc
    finally:
        _listeners[path] = added_since(before)
        if shadowed is not None:
            sys.modules[path.stem] = shadowed
        elif elsewhere and getattr(sys.modules.get(path.stem), "__file__", None) == str(path):
            del sys.modules[path.stem]
    if not users:
        raise ScaleperfError(f"locustfile {locustfile} defines no Locust user classes (non-abstract subclasses of User)")
    _loaded[path] = (mtime, users)
    return users


def own_listeners(locustfile: Path | str) -> Listeners:
    """The hooks ``locustfile`` registered on ``locust.events`` when it was imported (by :func:`user_classes`)."""
    return _listeners.get(Path(locustfile).resolve(), {})


def _importable_elsewhere(path: Path) -> bool:
    """Whether ``import <stem>`` finds a module other than this file (found without importing it)."""
    try:
        spec = importlib.util.find_spec(path.stem)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin != str(path)
