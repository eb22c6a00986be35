"""The three polling routes: what changed for the caller since a time (strictly after it).

``userId`` / ``expertId`` are required and must be the token's user: a missing one is 400, another
user's id is 403.  ``since`` is optional ISO-8601 (a zone-less time is UTC); unparseable is 400.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from helpdesk import queries
from helpdesk.errors import ApiError
from helpdesk.routes_expert import SINCE, queue_query, require_expert
from helpdesk.runtime import runtime, token_user

CONVERSATION_UPDATES = queries.conversation_list(f"{queries.PARTICIPANT} AND {SINCE}", "c.updated_at, c.id")
MESSAGE_UPDATES = queries.json_list(
    queries.MESSAGE_JSON,
    "messages m JOIN users s ON s.id = m.sender_id WHERE m.conversation_id IN "
    f"(SELECT c.id FROM conversations c WHERE {queries.PARTICIPANT}) "
    "AND (%(since)s::timestamptz IS NULL OR m.created_at > %(since)s)",
    "m.created_at, m.id",
)
QUEUE_UPDATES = queue_query(with_since=True)


def parse_since(raw: str | None) -> datetime | None:
    """An aware datetime from ISO-8601 text; a missing zone means UTC; 400 when it cannot be read."""
    if raw is None or raw == "":
        return None
    text = raw.strip()
    if len(text) > 10 and text[-6] == " " and text[-5:-3].isdigit():  # "+00:00" sent without URL-encoding
        text = text[:-6] + "+" + text[-5:]
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(400, "since must be an ISO-8601 time") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _caller(request: Request, param: str) -> int:
    viewer = token_user(request)
    claimed = request.query_params.get(param)
    if claimed is None or claimed == "":
        raise ApiError(400, f"{param} is required")
    if claimed.strip() != str(viewer):
        raise ApiError(403, f"{param} does not match the authenticated user")
    return viewer


async def _changes(request: Request, param: str, query: str, route: str, *, expert: bool = False) -> str:
    """The shared flow of the polls: the caller named by ``param`` (an expert when ``expert``), ``since``, then the
    JSON text of ``query``'s rows, charged to ``route`` per row."""
    rt = runtime(request)
    viewer = _caller(request, param)
    params = {"viewer": viewer, "since": parse_since(request.query_params.get("since"))}
    async with rt.pool.connection() as conn:
        if expert:
            await require_expert(conn, viewer)
        rows, body = await (await conn.execute(query, params)).fetchone()
    rt.cost.charge(route, rows)
    return body


async def conversation_updates(request: Request) -> Response:
    body = await _changes(request, "userId", CONVERSATION_UPDATES, "updates.conversations")
    return Response(body, media_type="application/json")


async def message_updates(request: Request) -> Response:
    body = await _changes(request, "userId", MESSAGE_UPDATES, "updates.messages")
    return Response(body, media_type="application/json")


async def expert_queue_updates(request: Request) -> Response:
    """A one-element array holding the queue's changes since ``since`` (the spec's shape)."""
    body = await _changes(request, "expertId", QUEUE_UPDATES, "updates.expert_queue", expert=True)
    return Response(f"[{body}]", media_type="application/json")


ROUTES = [
    Route("/api/conversations/updates", conversation_updates, methods=["GET"]),
    Route("/api/messages/updates", message_updates, methods=["GET"]),
    Route("/api/expert-queue/updates", expert_queue_updates, methods=["GET"]),
]
