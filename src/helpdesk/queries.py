"""SQL shared by the routes.  PostgreSQL builds the JSON bodies: ids as strings, times as ISO-8601 UTC with a Z.

Every query that returns a list also returns its row count (the rails cost model charges per row).
"""

from __future__ import annotations

# The auth `user` object: snake_case, numeric id (the course's canonical reading).
USER_JSON = """json_build_object('id', u.id, 'username', u.username, 'created_at', iso_utc(u.created_at),
    'last_active_at', iso_utc(u.last_active_at))"""

# A Conversation as seen by viewer %(viewer)s: unreadCount counts the other side's unread messages.
CONVERSATION_JSON = """json_build_object('id', c.id::text, 'title', c.title, 'status', c.status,
    'questionerId', c.initiator_id::text, 'questionerUsername', q.username,
    'assignedExpertId', c.assigned_expert_id::text, 'assignedExpertUsername', e.username,
    'createdAt', iso_utc(c.created_at), 'updatedAt', iso_utc(c.updated_at), 'lastMessageAt', iso_utc(c.last_message_at),
    'unreadCount', (SELECT count(*) FROM messages m
                    WHERE m.conversation_id = c.id AND m.sender_id <> %(viewer)s AND NOT m.is_read))"""

CONVERSATION_FROM = """conversations c JOIN users q ON q.id = c.initiator_id LEFT JOIN users e ON e.id = c.assigned_expert_id"""

MESSAGE_JSON = """json_build_object('id', m.id::text, 'conversationId', m.conversation_id::text,
    'senderId', m.sender_id::text, 'senderUsername', s.username, 'senderRole', m.sender_role, 'content', m.content,
    'timestamp', iso_utc(m.created_at), 'isRead', m.is_read)"""

PROFILE_JSON = """json_build_object('id', p.id::text, 'userId', p.user_id::text, 'bio', p.bio,
    'knowledgeBaseLinks', p.knowledge_base_links, 'createdAt', iso_utc(p.created_at), 'updatedAt', iso_utc(p.updated_at))"""

ASSIGNMENT_JSON = """json_build_object('id', a.id::text, 'conversationId', a.conversation_id::text,
    'expertId', a.expert_id::text, 'status', a.status, 'assignedAt', iso_utc(a.assigned_at),
    'resolvedAt', iso_utc(a.resolved_at), 'rating', NULL)"""


def json_list(select_json: str, from_where: str, order: str) -> str:
    """A query returning ``(count, json array text)`` of the rows ``from_where`` selects, in ``order``."""
    return (
        f"SELECT count(*) AS n, coalesce(json_agg(j), '[]')::text AS body FROM ("
        f"SELECT {select_json} AS j FROM {from_where} ORDER BY {order}) rows"
    )


def conversation_list(where: str, order: str) -> str:
    return json_list(CONVERSATION_JSON, f"{CONVERSATION_FROM} WHERE {where}", order)


def conversation_one(where: str) -> str:
    return f"SELECT {CONVERSATION_JSON}::text FROM {CONVERSATION_FROM} WHERE {where}"


PARTICIPANT = "(c.initiator_id = %(viewer)s OR c.assigned_expert_id = %(viewer)s)"
