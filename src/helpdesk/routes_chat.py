"""Conversations and messages (JWT).  Someone else's conversation is 404, as if it did not exist."""

from __future__ import annotations

import psycopg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from helpdesk import queries
from helpdesk.errors import ApiError
from helpdesk.payload import path_id, read_payload, respond, respond_raw, text_field
from helpdesk.runtime import UNAUTHORIZED, runtime, token_user

TITLE_MAX = 255  # a Rails string column
CONTENT_MAX = 100_000  # characters in one message
CONVERSATION_NOT_FOUND = "Conversation not found"
MESSAGE_NOT_FOUND = "Message not found"

LIST_CONVERSATIONS = queries.conversation_list(queries.PARTICIPANT, "c.updated_at DESC, c.id DESC")
SHOW_CONVERSATION = queries.conversation_one(f"c.id = %(id)s AND {queries.PARTICIPANT}")
LIST_MESSAGES = queries.json_list(
    queries.MESSAGE_JSON, "messages m JOIN users s ON s.id = m.sender_id WHERE m.conversation_id = %(id)s", "m.created_at, m.id"
)
IS_PARTICIPANT = "SELECT initiator_id FROM conversations c WHERE c.id = %(id)s AND " + queries.PARTICIPANT


def existing_id(text: str, not_found: str) -> int:
    """The id a request names (in its path or body); 404 with ``not_found`` when the text cannot name a row."""
    row_id = path_id(text)
    if row_id is None:
        raise ApiError(404, not_found)
    return row_id


async def conversation_initiator(conn: psycopg.AsyncConnection, params: dict, *, lock: bool = False) -> int:
    """The initiator of conversation ``params["id"]`` when ``params["viewer"]`` takes part in it; 404 otherwise.

    ``lock`` holds the conversation's row until the transaction ends.
    """
    row = await (await conn.execute(IS_PARTICIPANT + (" FOR UPDATE" if lock else ""), params)).fetchone()
    if row is None:
        raise ApiError(404, CONVERSATION_NOT_FOUND)
    return row[0]


async def list_conversations(request: Request) -> Response:
    rt = runtime(request)
    viewer = token_user(request)
    async with rt.pool.connection() as conn:
        count, body = await (await conn.execute(LIST_CONVERSATIONS, {"viewer": viewer})).fetchone()
    rt.cost.charge("conversations.list", count)
    return respond_raw(200, body)


async def show_conversation(request: Request) -> Response:
    rt = runtime(request)
    viewer = token_user(request)
    conversation_id = existing_id(request.path_params["id"], CONVERSATION_NOT_FOUND)
    async with rt.pool.connection() as conn:
        row = await (await conn.execute(SHOW_CONVERSATION, {"viewer": viewer, "id": conversation_id})).fetchone()
    if row is None:
        raise ApiError(404, CONVERSATION_NOT_FOUND)
    rt.cost.charge("conversations.show")
    return respond_raw(200, row[0])


async def create_conversation(request: Request) -> Response:
    rt = runtime(request)
    viewer = token_user(request)
    errors: list[str] = []
    title = text_field(await read_payload(request), "title", "Title", errors, max_len=TITLE_MAX)
    if errors:
        raise ApiError(422, errors=errors)
    async with rt.pool.connection() as conn:
        try:
            cur = await conn.execute(
                "INSERT INTO conversations (title, initiator_id) VALUES (%s, %s) RETURNING id", (title, viewer)
            )
        except psycopg.errors.ForeignKeyViolation as exc:  # a valid token for a user that no longer exists (wiped)
            raise ApiError(401, UNAUTHORIZED) from exc
        conversation_id = (await cur.fetchone())[0]
        row = await (await conn.execute(SHOW_CONVERSATION, {"viewer": viewer, "id": conversation_id})).fetchone()
    rt.cost.charge("conversations.create")
    return respond_raw(201, row[0])


async def list_messages(request: Request) -> Response:
    rt = runtime(request)
    viewer = token_user(request)
    conversation_id = existing_id(request.path_params["id"], CONVERSATION_NOT_FOUND)
    params = {"viewer": viewer, "id": conversation_id}
    async with rt.pool.connection() as conn:
        await conversation_initiator(conn, params)
        count, body = await (await conn.execute(LIST_MESSAGES, params)).fetchone()
    rt.cost.charge("messages.list", count)
    return respond_raw(200, body)


async def create_message(request: Request) -> Response:
    rt = runtime(request)
    viewer = token_user(request)
    data = await read_payload(request)
    raw_id = data.get("conversationId", data.get("conversation_id"))
    errors: list[str] = []
    content = text_field(data, "content", "Content", errors, max_len=CONTENT_MAX)
    if raw_id is None or raw_id == "":
        errors.insert(0, "Conversation can't be blank")
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        errors.insert(0, "Conversation must be a conversation id")
    if errors:
        raise ApiError(422, errors=errors)
    conversation_id = existing_id(str(raw_id), CONVERSATION_NOT_FOUND)
    params = {"viewer": viewer, "id": conversation_id}
    async with rt.pool.connection() as conn:
        async with conn.transaction():
            initiator = await conversation_initiator(conn, params, lock=True)
            role = "initiator" if initiator == viewer else "expert"
            cur = await conn.execute(
                "INSERT INTO messages (conversation_id, sender_id, sender_role, content) VALUES (%s, %s, %s, %s) "
                "RETURNING id, created_at",
                (conversation_id, viewer, role, content),
            )
            message_id, created_at = await cur.fetchone()
            await conn.execute(
                "UPDATE conversations SET last_message_at = %s, updated_at = %s WHERE id = %s",
                (created_at, created_at, conversation_id),
            )
        cur = await conn.execute(
            f"SELECT {queries.MESSAGE_JSON}::text FROM messages m JOIN users s ON s.id = m.sender_id WHERE m.id = %s",
            (message_id,),
        )
        body = (await cur.fetchone())[0]
    rt.cost.charge("messages.create")
    return respond_raw(201, body)


async def mark_read(request: Request) -> Response:
    rt = runtime(request)
    viewer = token_user(request)
    message_id = existing_id(request.path_params["id"], MESSAGE_NOT_FOUND)
    async with rt.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT m.sender_id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            f"WHERE m.id = %(id)s AND {queries.PARTICIPANT}",
            {"viewer": viewer, "id": message_id},
        )
        row = await cur.fetchone()
        if row is None:
            raise ApiError(404, MESSAGE_NOT_FOUND)
        if row[0] == viewer:
            raise ApiError(403, "Cannot mark your own messages as read")
        await conn.execute("UPDATE messages SET is_read = true, updated_at = now() WHERE id = %s AND NOT is_read", (message_id,))
    rt.cost.charge("messages.read")
    return respond(200, {"success": True})


ROUTES = [
    Route("/conversations", list_conversations, methods=["GET"]),
    Route("/conversations", create_conversation, methods=["POST"]),
    Route("/conversations/{id}", show_conversation, methods=["GET"]),
    Route("/conversations/{id}/messages", list_messages, methods=["GET"]),
    Route("/messages", create_message, methods=["POST"]),
    Route("/messages/{id}/read", mark_read, methods=["PUT"]),
]
