"""The ASGI application: routes, JSON error answers, the body-size limit, the pool's life cycle.

``create_app(settings)`` builds it; ``app_from_environment()`` is the factory the server's worker
processes call (settings arrive in ``$HELPDESK_SETTINGS``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from importlib import resources

import psycopg
from psycopg_pool import PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import helpdesk
from helpdesk import db, routes_auth, routes_chat, routes_expert, routes_updates
from helpdesk.cost import CostModel, Metered
from helpdesk.errors import ApiError
from helpdesk.passwords import PasswordHasher
from helpdesk.payload import MAX_BODY_BYTES, respond, respond_raw
from helpdesk.runtime import Runtime, runtime
from helpdesk.settings import Settings

log = logging.getLogger(__name__)

SERVER_NAME = "granian"  # the production ASGI server the launcher runs (see helpdesk.server)
CORS_ORIGINS = ["http://localhost:5173", "http://127.0.0.1:5173"]  # the course frontend's dev server


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def health(request: Request) -> Response:
    runtime(request).cost.charge("health")
    return respond(200, {"status": "ok", "timestamp": iso_now()})


async def about(request: Request) -> Response:
    rt = runtime(request)
    s = rt.settings
    return respond(
        200,
        {
            "name": "helpdesk",
            "version": helpdesk.__version__,
            "costModel": s.cost_model,
            "bcryptCost": s.bcrypt_cost,
            "bcrypt12Ms": s.bcrypt12_ms,
            "workers": s.workers,
            "poolSize": s.pool_size,
            "pid": os.getpid(),
            "server": SERVER_NAME,
            "startedAt": datetime.fromtimestamp(rt.started_at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    )


_OPENAPI: str | None = None


async def openapi(request: Request) -> Response:
    global _OPENAPI
    if _OPENAPI is None:
        _OPENAPI = resources.files("helpdesk").joinpath("openapi.json").read_text()
    return respond_raw(200, _OPENAPI)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return respond(exc.status, exc.body)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, exc.detail)
    return respond(exc.status_code, {"error": message})


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return respond(503, {"error": "Database unavailable, try again"})


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return respond(500, {"error": "Internal server error"})


class BodyLimit:
    """Refuse a declared body over 1 MiB before any route runs (routes also count streamed bodies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                    await respond(413, {"error": "Request body is larger than 1 MiB"})(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(settings: Settings, clock: Callable[[], float] = time.time) -> Starlette:
    """The help desk as an ASGI app; ``clock`` (seconds since the epoch) is what tokens are issued and checked against."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db.apply_schema(settings.database_url)
        pool = db.make_pool(settings.database_url, settings.pool_size)
        await pool.open(wait=True)
        hasher = PasswordHasher(settings.bcrypt_cost)
        app.state.runtime = Runtime(
            settings=settings,
            pool=pool,
            hasher=hasher,
            cost=CostModel(settings.cost_model, settings.bcrypt12_ms),
            clock=clock,
            started_at=time.time(),
        )
        try:
            yield
        finally:
            hasher.close()
            await pool.close()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/about", about, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *routes_auth.ROUTES,
        *routes_chat.ROUTES,
        *routes_expert.ROUTES,
        *routes_updates.ROUTES,
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(Metered),  # outermost: a request's whole native CPU, for the rails model
            Middleware(BodyLimit),
            Middleware(
                CORSMiddleware, allow_origins=CORS_ORIGINS, allow_methods=["*"], allow_headers=["*"], allow_credentials=True
            ),
        ],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            PoolTimeout: database_unavailable,
            psycopg.OperationalError: database_unavailable,
            Exception: internal_error,
        },
    )


def app_from_environment() -> Starlette:
    """The factory the server's worker processes call."""
    return create_app(Settings.from_env())
