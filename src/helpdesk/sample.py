"""A realistic data set for benchmarks: users with conversations and messages, inserted in bulk by SQL."""

from __future__ import annotations

import logging

from helpdesk import db

log = logging.getLogger(__name__)

UNUSABLE_DIGEST = "$2b$12$" + "." * 53  # a well-formed digest no password matches (sample users never log in)


def populate(url: str, *, users: int, conversations: int, messages: int) -> None:
    """Add ``users`` users (``sample_<n>``) with expert profiles, conversations spread evenly over them,
    and messages spread evenly over the conversations, alternating initiator and expert."""
    db.apply_schema(url)
    with db.connect(url) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO users (username, password_digest) SELECT 'sample_' || n, %s FROM generate_series(0, %s - 1) n",
            (UNUSABLE_DIGEST, users),
        )
        conn.execute(
            "INSERT INTO expert_profiles (user_id) SELECT id FROM users u "
            "WHERE NOT EXISTS (SELECT 1 FROM expert_profiles p WHERE p.user_id = u.id)"
        )
        conn.execute(
            """
            WITH u AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM users WHERE username LIKE 'sample\\_%%'),
                 n AS (SELECT count(*) AS total FROM u)
            INSERT INTO conversations (title, status, initiator_id, assigned_expert_id, created_at, updated_at)
            SELECT 'question ' || g,
                   CASE WHEN g %% 2 = 0 THEN 'active' ELSE 'waiting' END,
                   asker.id,
                   CASE WHEN g %% 2 = 0 THEN expert.id END,
                   now() - interval '1 day' + g * interval '1 second', now() - interval '1 day' + g * interval '1 second'
            FROM generate_series(0, %s - 1) g CROSS JOIN n
            JOIN u asker ON asker.k = g %% n.total
            JOIN u expert ON expert.k = (g + 1) %% n.total
            """,
            (conversations,),
        )
        conn.execute(
            """
            WITH c AS (SELECT id, initiator_id, assigned_expert_id, row_number() OVER (ORDER BY id) - 1 AS k
                       FROM conversations),
                 n AS (SELECT count(*) AS total FROM c)
            INSERT INTO messages (conversation_id, sender_id, sender_role, content, created_at, updated_at)
            SELECT c.id,
                   CASE WHEN (g / n.total) %% 2 = 1 AND c.assigned_expert_id IS NOT NULL
                        THEN c.assigned_expert_id ELSE c.initiator_id END,
                   CASE WHEN (g / n.total) %% 2 = 1 AND c.assigned_expert_id IS NOT NULL
                        THEN 'expert' ELSE 'initiator' END,
                   'message ' || g, now() - interval '12 hours' + g * interval '1 second',
                   now() - interval '12 hours' + g * interval '1 second'
            FROM generate_series(0, %s - 1) g CROSS JOIN n
            JOIN c ON c.k = g %% n.total
            """,
            (messages,),
        )
        conn.execute(
            "UPDATE conversations c SET last_message_at = m.last FROM "
            "(SELECT conversation_id, max(created_at) AS last FROM messages GROUP BY conversation_id) m "
            "WHERE m.conversation_id = c.id"
        )
        conn.execute("ANALYZE")
    log.info("sample data: %d users, %d conversations, %d messages", users, conversations, messages)
