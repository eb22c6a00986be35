"""Keeping generated credentials out of every log line.

The provider generates a database password and a Rails ``SECRET_KEY_BASE`` and hands them to RDS and to
the environment's properties.  botocore logs request parameters at DEBUG, so :func:`register` installs
(once) a log record factory that replaces each registered secret in a record's message, whatever logger
emits it.
"""

from __future__ import annotations

import logging
import threading

MASK = "********"
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def _scrub(text: str) -> str:
    for s in _secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def register(secret: str) -> str:
    """Mask ``secret`` in all log records from now on; returns it for convenience."""
    global _installed
    with _lock:
        _secrets.add(secret)
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args, **kwargs) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                if _secrets:
                    try:
                        message = record.getMessage()
                    except Exception:  # a malformed record is the logging module's to report
                        return record
                    clean = _scrub(message)
                    if clean != message:
                        record.msg, record.args = clean, None
                return record

            logging.setLogRecordFactory(factory)
            _installed = True
    return secret


def scrub(text: str) -> str:
    """``text`` with every registered secret masked (for messages that do not go through logging)."""
    return _scrub(text)
