"""Auth routes: register, login, logout, refresh, me.  JWT in the body, a server-side session in a cookie."""

from __future__ import annotations

import json
import secrets

import psycopg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from helpdesk import queries, tokens
from helpdesk.errors import ApiError
from helpdesk.payload import read_payload, respond, respond_raw, storable, text_field
from helpdesk.runtime import bearer_token, now, runtime

SESSION_COOKIE = "_help_desk_session"  # the Rails app's cookie name
SESSION_LIFETIME_S = 24 * 3600  # activerecord-session_store's expire_after
USERNAME_MIN, USERNAME_MAX = 3, 50  # the usual student rules; user_0 .. user_9999 fit
PASSWORD_MIN, PASSWORD_MAX = 6, 72  # bcrypt reads at most 72 bytes
NO_SESSION = "No session found"
BAD_LOGIN = "Invalid username or password"

USER_BY_ID = f"SELECT {queries.USER_JSON}::text FROM users u WHERE u.id = %s"
TOUCH_USER = f"UPDATE users u SET last_active_at = now() WHERE u.id = %s RETURNING {queries.USER_JSON}::text"
SESSION_USER = (
    "SELECT user_id FROM sessions WHERE session_id = %s AND user_id IS NOT NULL "
    f"AND updated_at > now() - interval '{SESSION_LIFETIME_S} seconds'"
)


def _unwrap_user(data: dict) -> dict:
    """The sign-in fields: some clients send them nested, as ``{"user": {...}}``."""
    nested = data.get("user")
    if isinstance(nested, dict) and "username" not in data:
        return nested
    return data


def _credentials(data: dict) -> tuple[str | None, str | None, list[str]]:
    data = _unwrap_user(data)
    errors: list[str] = []
    username = text_field(data, "username", "Username", errors, min_len=USERNAME_MIN, max_len=USERNAME_MAX)
    password = text_field(data, "password", "Password", errors, min_len=PASSWORD_MIN, max_len=PASSWORD_MAX)
    if password is not None and len(password.encode()) > PASSWORD_MAX:
        errors.append(f"Password is too long (maximum is {PASSWORD_MAX} bytes)")
        password = None
    return username, password, errors


def _session_cookie(response: Response, session_id: str) -> Response:
    # Plain HTTP target: not Secure (a Secure cookie is never sent back over http), so SameSite is Lax.
    response.set_cookie(SESSION_COOKIE, session_id, max_age=SESSION_LIFETIME_S, httponly=True, samesite="lax", path="/")
    return response


async def _start_session(conn: psycopg.AsyncConnection, user_id: int) -> str:
    session_id = secrets.token_hex(32)
    await conn.execute(
        "INSERT INTO sessions (session_id, user_id, data) VALUES (%s, %s, %s)",
        (session_id, user_id, json.dumps({"user_id": user_id})),
    )
    return session_id


def _user_and_token(request: Request, status: int, user_id: int, user_json: str) -> Response:
    """The answer to a signed-in user: ``{"user": ..., "token": ...}`` with a fresh token for ``user_id``."""
    token = tokens.issue(user_id, runtime(request).settings.secret_key, now(request))
    return respond_raw(status, f'{{"user":{user_json},"token":{json.dumps(token)}}}')


async def register(request: Request) -> Response:
    rt = runtime(request)
    username, password, errors = _credentials(await read_payload(request))
    if errors:
        raise ApiError(422, errors=errors)
    async with rt.pool.connection() as conn:
        cur = await conn.execute("SELECT 1 FROM users WHERE username = %s", (username,))
        taken = await cur.fetchone()
    if taken:
        raise ApiError(422, errors=["Username has already been taken"])
    digest = await rt.hasher.hash(password)  # no pool connection is held while hashing
    async with rt.pool.connection() as conn:
        try:
            async with conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO users (username, password_digest, last_active_at) VALUES (%s, %s, now()) RETURNING id",
                    (username, digest),
                )
                user_id = (await cur.fetchone())[0]
                await conn.execute("INSERT INTO expert_profiles (user_id) VALUES (%s)", (user_id,))
                session_id = await _start_session(conn, user_id)
        except psycopg.errors.UniqueViolation as exc:  # a concurrent register of the same name won
            raise ApiError(422, errors=["Username has already been taken"]) from exc
        cur = await conn.execute(USER_BY_ID, (user_id,))
        user_json = (await cur.fetchone())[0]
    rt.cost.charge("register")
    return _session_cookie(_user_and_token(request, 201, user_id, user_json), session_id)


async def login(request: Request) -> Response:
    rt = runtime(request)
    data = _unwrap_user(await read_payload(request))
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not storable(username) or not storable(password):
        raise ApiError(401, BAD_LOGIN)
    async with rt.pool.connection() as conn:
        cur = await conn.execute("SELECT id, password_digest FROM users WHERE username = %s", (username,))
        row = await cur.fetchone()
    # The check runs with no pool connection held, so a login storm cannot starve polls of connections.
    if row is None or not await rt.hasher.check(password, row[1]):
        raise ApiError(401, BAD_LOGIN)
    user_id = row[0]
    async with rt.pool.connection() as conn:
        async with conn.transaction():
            await conn.execute("UPDATE users SET last_active_at = now() WHERE id = %s", (user_id,))
            session_id = await _start_session(conn, user_id)
        cur = await conn.execute(USER_BY_ID, (user_id,))
        user_json = (await cur.fetchone())[0]
    rt.cost.charge("login")
    return _session_cookie(_user_and_token(request, 200, user_id, user_json), session_id)


async def logout(request: Request) -> Response:
    """Reset the session (a new session id, no user) when there is one; 200 either way."""
    rt = runtime(request)
    old = request.cookies.get(SESSION_COOKIE)
    response = respond(200, {"message": "Logged out successfully"})
    if old:
        async with rt.pool.connection() as conn:
            new = secrets.token_hex(32)
            cur = await conn.execute(
                "UPDATE sessions SET session_id = %s, user_id = NULL, data = '{}', updated_at = now() WHERE session_id = %s",
                (new, old),
            )
            if cur.rowcount:
                _session_cookie(response, new)
            else:
                response.delete_cookie(SESSION_COOKIE, path="/")
    rt.cost.charge("logout")
    return response


async def _session_user_id(request: Request, conn: psycopg.AsyncConnection) -> int | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or "\x00" in session_id:
        return None
    cur = await conn.execute(SESSION_USER, (session_id,))
    row = await cur.fetchone()
    return row[0] if row else None


async def _signed_in_user(request: Request, conn: psycopg.AsyncConnection, *, bearer_too: bool) -> int:
    """The session's user (with ``bearer_too``, the Bearer token's when there is no session); 401 when there is none."""
    user_id = await _session_user_id(request, conn)
    if user_id is None and bearer_too and bearer_token(request) is not None:
        try:
            user_id = tokens.verify(bearer_token(request), runtime(request).settings.secret_key, now(request))
        except tokens.TokenError:
            user_id = None
    if user_id is None:
        raise ApiError(401, NO_SESSION)
    return user_id


async def _user_json(conn: psycopg.AsyncConnection, query: str, user_id: int) -> str:
    """The signed-in user's JSON text, which ``query`` returns for the user id it is given; 401 when the user is gone."""
    row = await (await conn.execute(query, (user_id,))).fetchone()
    if row is None:
        raise ApiError(401, NO_SESSION)
    return row[0]


async def refresh(request: Request) -> Response:
    """A new token for the session's user; the session cookie is required (a Bearer token alone is not enough)."""
    rt = runtime(request)
    async with rt.pool.connection() as conn:
        user_id = await _signed_in_user(request, conn, bearer_too=False)
        user_json = await _user_json(conn, TOUCH_USER, user_id)
        await conn.execute("UPDATE sessions SET updated_at = now() WHERE session_id = %s", (request.cookies[SESSION_COOKIE],))
    rt.cost.charge("refresh")
    return _user_and_token(request, 200, user_id, user_json)


async def me(request: Request) -> Response:
    """The session's user (or the Bearer token's), as a bare object."""
    rt = runtime(request)
    async with rt.pool.connection() as conn:
        user_id = await _signed_in_user(request, conn, bearer_too=True)
        user_json = await _user_json(conn, USER_BY_ID, user_id)
    rt.cost.charge("me")
    return respond_raw(200, user_json)


ROUTES = [
    Route("/auth/register", register, methods=["POST"]),
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/auth/refresh", refresh, methods=["POST"]),
    Route("/auth/me", me, methods=["GET"]),
]
