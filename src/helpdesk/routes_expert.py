"""Expert routes (JWT + an expert profile, which every user gets at registration): queue, claim, unclaim, profile, history."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import psycopg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from helpdesk import queries
from helpdesk.errors import ApiError
from helpdesk.payload import read_payload, respond, respond_raw, storable, text_field
from helpdesk.routes_chat import CONVERSATION_NOT_FOUND, existing_id
from helpdesk.runtime import runtime, token_user

BIO_MAX = 10_000  # characters
LINKS_MAX = 100  # knowledge base links per profile
LINK_MAX = 2_048  # characters per link
NOT_AN_EXPERT = "Expert profile not found"

WAITING = "c.status = 'waiting' AND c.assigned_expert_id IS NULL"
MINE_ACTIVE = "c.assigned_expert_id = %(viewer)s AND c.status = 'active'"
SINCE = "(%(since)s::timestamptz IS NULL OR c.updated_at > %(since)s)"


def queue_query(with_since: bool) -> str:
    """``(rows, json object text)``: the waiting conversations (oldest first) and the caller's active ones."""
    extra = f" AND {SINCE}" if with_since else ""
    waiting = queries.conversation_list(WAITING + extra, "c.created_at, c.id")
    mine = queries.conversation_list(MINE_ACTIVE + extra, "c.updated_at DESC, c.id DESC")
    return (
        "SELECT w.n + a.n, '{\"waitingConversations\":' || w.body || ',\"assignedConversations\":' || a.body || '}' "
        f"FROM ({waiting}) w, ({mine}) a"
    )


QUEUE = queue_query(with_since=False)
PROFILE_BY_USER = f"SELECT {queries.PROFILE_JSON}::text FROM expert_profiles p WHERE p.user_id = %s"
HISTORY = queries.json_list(
    queries.ASSIGNMENT_JSON, "expert_assignments a WHERE a.expert_id = %(viewer)s", "a.assigned_at DESC, a.id DESC"
)


async def require_expert(conn, viewer: int) -> None:
    cur = await conn.execute("SELECT 1 FROM expert_profiles WHERE user_id = %s", (viewer,))
    if await cur.fetchone() is None:
        raise ApiError(403, NOT_AN_EXPERT)


async def _expert_list(request: Request, query: str, route: str) -> Response:
    """The shared flow of the expert's list routes: 401/403 for the caller, then ``query``'s rows, charged per row."""
    rt = runtime(request)
    viewer = token_user(request)
    async with rt.pool.connection() as conn:
        await require_expert(conn, viewer)
        rows, body = await (await conn.execute(query, {"viewer": viewer})).fetchone()
    rt.cost.charge(route, rows)
    return respond_raw(200, body)


# Changes one conversation's assignment inside a transaction: (connection, expert's user id, conversation id).
AssignmentChange = Callable[[psycopg.AsyncConnection, int, int], Awaitable[None]]


async def _change_assignment(request: Request, route: str, change: AssignmentChange) -> Response:
    """The shared flow of claim and unclaim: 401/403 for the caller, 404 for the path's id, ``change`` in one transaction."""
    rt = runtime(request)
    viewer = token_user(request)
    async with rt.pool.connection() as conn:
        await require_expert(conn, viewer)
        conversation_id = existing_id(request.path_params["id"], CONVERSATION_NOT_FOUND)
        async with conn.transaction():
            await change(conn, viewer, conversation_id)
    rt.cost.charge(route)
    return respond(200, {"success": True})


async def queue(request: Request) -> Response:
    return await _expert_list(request, QUEUE, "expert.queue")


async def _claim(conn: psycopg.AsyncConnection, viewer: int, conversation_id: int) -> None:
    cur = await conn.execute(
        "UPDATE conversations SET assigned_expert_id = %s, status = 'active', updated_at = now() "
        "WHERE id = %s AND assigned_expert_id IS NULL AND status = 'waiting' RETURNING id",
        (viewer, conversation_id),
    )
    if await cur.fetchone() is None:
        cur = await conn.execute("SELECT 1 FROM conversations WHERE id = %s", (conversation_id,))
        if await cur.fetchone() is None:
            raise ApiError(404, CONVERSATION_NOT_FOUND)
        raise ApiError(422, "Conversation is already assigned to an expert")
    await conn.execute("INSERT INTO expert_assignments (conversation_id, expert_id) VALUES (%s, %s)", (conversation_id, viewer))


async def claim(request: Request) -> Response:
    return await _change_assignment(request, "expert.claim", _claim)


async def _unclaim(conn: psycopg.AsyncConnection, viewer: int, conversation_id: int) -> None:
    cur = await conn.execute("SELECT assigned_expert_id FROM conversations WHERE id = %s FOR UPDATE", (conversation_id,))
    row = await cur.fetchone()
    if row is None:
        raise ApiError(404, CONVERSATION_NOT_FOUND)
    if row[0] != viewer:
        raise ApiError(403, "You are not assigned to this conversation")
    await conn.execute(
        "UPDATE conversations SET assigned_expert_id = NULL, status = 'waiting', updated_at = now() WHERE id = %s",
        (conversation_id,),
    )
    await conn.execute(
        "UPDATE expert_assignments SET status = 'unassigned', resolved_at = now(), updated_at = now() "
        "WHERE conversation_id = %s AND expert_id = %s AND status = 'active'",
        (conversation_id, viewer),
    )


async def unclaim(request: Request) -> Response:
    return await _change_assignment(request, "expert.unclaim", _unclaim)


def _profile_answer(request: Request, row: tuple[str] | None, route: str) -> Response:
    """The caller's profile (a row holding its JSON text), charged to ``route``; 403 when the caller has none."""
    if row is None:
        raise ApiError(403, NOT_AN_EXPERT)
    runtime(request).cost.charge(route)
    return respond_raw(200, row[0])


async def show_profile(request: Request) -> Response:
    rt = runtime(request)
    viewer = token_user(request)
    async with rt.pool.connection() as conn:
        row = await (await conn.execute(PROFILE_BY_USER, (viewer,))).fetchone()
    return _profile_answer(request, row, "expert.profile")


def _links(data: dict, errors: list[str]) -> list[str] | None:
    if "knowledgeBaseLinks" not in data:
        return None
    links = data["knowledgeBaseLinks"]
    if links is None or links == "":
        return []
    if not isinstance(links, list) or not all(isinstance(x, str) and storable(x) for x in links):
        errors.append("Knowledge base links must be an array of strings")
        return None
    if len(links) > LINKS_MAX or any(len(x) > LINK_MAX for x in links):
        errors.append(f"Knowledge base links is too long (at most {LINKS_MAX} links of {LINK_MAX} characters)")
        return None
    return links


async def update_profile(request: Request) -> Response:
    rt = runtime(request)
    viewer = token_user(request)
    data = await read_payload(request)
    nested = data.get("expertProfile", data.get("expert_profile"))
    if isinstance(nested, dict) and "bio" not in data and "knowledgeBaseLinks" not in data:
        data = nested
    errors: list[str] = []
    bio = text_field(data, "bio", "Bio", errors, required=False, max_len=BIO_MAX) if data.get("bio") is not None else None
    links = _links(data, errors)
    if errors:
        raise ApiError(422, errors=errors)
    async with rt.pool.connection() as conn:
        cur = await conn.execute(
            f"UPDATE expert_profiles p SET bio = coalesce(%s, p.bio), knowledge_base_links = coalesce(%s::jsonb, "
            f"p.knowledge_base_links), updated_at = now() WHERE p.user_id = %s RETURNING {queries.PROFILE_JSON}::text",
            (bio, None if links is None else json.dumps(links), viewer),
        )
        row = await cur.fetchone()
    return _profile_answer(request, row, "expert.profile.update")


async def history(request: Request) -> Response:
    return await _expert_list(request, HISTORY, "expert.history")


ROUTES = [
    Route("/expert/queue", queue, methods=["GET"]),
    Route("/expert/conversations/{id}/claim", claim, methods=["POST"]),
    Route("/expert/conversations/{id}/unclaim", unclaim, methods=["POST"]),
    Route("/expert/profile", show_profile, methods=["GET"]),
    Route("/expert/profile", update_profile, methods=["PUT", "PATCH"]),
    Route("/expert/assignments/history", history, methods=["GET"]),
]
