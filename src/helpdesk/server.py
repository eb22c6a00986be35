"""The production ASGI server: granian (measured about 20% faster than uvicorn here; docs/helpdesk.md).

On Linux granian opens each worker's listening socket with SO_REUSEPORT, so several instances can
share one port when asked to (``--reuse-port``).  Without that option the launcher first checks that
the port is free, so a second instance started by mistake fails clearly instead of silently sharing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket

from helpdesk import db
from helpdesk.cost import time_bcrypt12_ms
from helpdesk.errors import HelpdeskError
from helpdesk.settings import BCRYPT12_ENV, COST_MODELS, SETTINGS_ENV, Settings

log = logging.getLogger(__name__)

APP_FACTORY = "helpdesk.app:app_from_environment"  # what granian's workers import and call
BACKLOG = 2048  # pending connections per listening socket (a login storm can queue many)


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise HelpdeskError(
                f"{host}:{port} is in use; pick another --port, or pass --reuse-port to share it with another instance"
            ) from exc


def run(settings: Settings) -> None:
    """Serve in the foreground until SIGINT or SIGTERM (granian stops its workers cleanly)."""
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    if settings.cost_model not in COST_MODELS:
        raise HelpdeskError(f"unknown cost model {settings.cost_model!r}; use one of {', '.join(COST_MODELS)}")
    if settings.workers < 1 or settings.pool_size < 1:
        raise HelpdeskError("--workers and --pool-size must be at least 1")
    if not 4 <= settings.bcrypt_cost <= 31:
        raise HelpdeskError("--bcrypt-cost must be between 4 and 31 (Rails uses 12)")
    if not settings.reuse_port:
        check_port_free(settings.host, settings.port)
    db.apply_schema(settings.database_url)  # once here, so a bad URL fails before any worker starts
    if settings.cost_model == "rails" and settings.bcrypt12_ms <= 0:
        # Once, before the workers start (they inherit it): the yardstick the rails model's figures scale by.
        # Several instances of one deployment share the launcher's timing (BCRYPT12_ENV), so they share one yardstick.
        given = os.environ.get(BCRYPT12_ENV, "")
        timed = float(given) if given.replace(".", "", 1).isdigit() and float(given) > 0 else round(time_bcrypt12_ms(), 2)
        settings = dataclasses.replace(settings, bcrypt12_ms=timed)
        log.info("bcrypt-12 costs %.1f ms here: the rails model scales its figures by that", settings.bcrypt12_ms)
    os.environ[SETTINGS_ENV] = settings.to_env()
    log.info(
        "serving on http://%s:%d (%d workers, cost model %s)", settings.host, settings.port, settings.workers, settings.cost_model
    )
    Server(
        APP_FACTORY,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        factory=True,
        backlog=BACKLOG,
        log_level=LogLevels.warning,
        log_access=False,
        websockets=False,
    ).serve()
