"""What every request handler needs: settings, the connection pool, the password hasher, the cost model, the clock."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

from helpdesk import tokens
from helpdesk.cost import CostModel
from helpdesk.errors import ApiError
from helpdesk.passwords import PasswordHasher
from helpdesk.settings import Settings

CLOCK_OFFSET_HEADER = "x-helpdesk-clock-offset"  # test-only (--clock-offset-header): seconds added to the clock
UNAUTHORIZED = "Unauthorized"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    pool: AsyncConnectionPool
    hasher: PasswordHasher
    cost: CostModel
    clock: Callable[[], float] = time.time
    started_at: float = 0.0


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def now(request: Request) -> float:
    """The server's clock for this request (shifted by the clock-offset header when the test flag allows it)."""
    rt = runtime(request)
    t = rt.clock()
    if rt.settings.clock_offset_header:
        raw = request.headers.get(CLOCK_OFFSET_HEADER)
        if raw:
            try:
                offset = float(raw)
            except ValueError:
                offset = math.nan
            if not math.isfinite(offset):
                raise ApiError(400, f"{CLOCK_OFFSET_HEADER} must be a finite number of seconds")
            t += offset
    return t


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_user(request: Request) -> int:
    """The user id of the request's Bearer token; 401 when it is missing, invalid or expired."""
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, UNAUTHORIZED)
    try:
        return tokens.verify(token, runtime(request).settings.secret_key, now(request))
    except tokens.TokenError as exc:
        raise ApiError(401, str(exc)) from exc
