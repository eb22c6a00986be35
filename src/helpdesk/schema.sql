-- The help desk schema: applied at every start, idempotent (the launcher holds an advisory lock while it runs).

CREATE TABLE IF NOT EXISTS users (
    id              bigserial PRIMARY KEY,
    username        text NOT NULL UNIQUE,
    password_digest text NOT NULL,
    last_active_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS expert_profiles (
    id                   bigserial PRIMARY KEY,
    user_id              bigint NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    bio                  text NOT NULL DEFAULT '',
    knowledge_base_links jsonb NOT NULL DEFAULT '[]',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS conversations (
    id                 bigserial PRIMARY KEY,
    title              text NOT NULL,
    status             text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'active', 'resolved')),
    initiator_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assigned_expert_id bigint REFERENCES users (id) ON DELETE SET NULL,
    last_message_at    timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- The conversation poll: the caller's conversations (as initiator or as expert) changed since a time.
CREATE INDEX IF NOT EXISTS conversations_initiator_updated ON conversations (initiator_id, updated_at);
CREATE INDEX IF NOT EXISTS conversations_expert_updated ON conversations (assigned_expert_id, updated_at);
-- The expert queue: waiting, unassigned conversations.
CREATE INDEX IF NOT EXISTS conversations_waiting ON conversations (created_at) WHERE status = 'waiting' AND assigned_expert_id IS NULL;

CREATE TABLE IF NOT EXISTS messages (
    id              bigserial PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sender_role     text NOT NULL CHECK (sender_role IN ('initiator', 'expert')),
    content         text NOT NULL,
    is_read         boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- The message poll and conversation pages: a conversation's messages in time order; unread counts.
CREATE INDEX IF NOT EXISTS messages_conversation_created ON messages (conversation_id, created_at);
CREATE INDEX IF NOT EXISTS messages_unread ON messages (conversation_id, sender_id) WHERE NOT is_read;

CREATE TABLE IF NOT EXISTS expert_assignments (
    id              bigserial PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    expert_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unassigned', 'resolved')),
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS expert_assignments_expert_status ON expert_assignments (expert_id, status);
CREATE INDEX IF NOT EXISTS expert_assignments_conversation ON expert_assignments (conversation_id, status);

-- Server-side sessions (Rails' activerecord-session_store): the cookie holds session_id only.
CREATE TABLE IF NOT EXISTS sessions (
    id         bigserial PRIMARY KEY,
    session_id text NOT NULL UNIQUE,
    user_id    bigint REFERENCES users (id) ON DELETE CASCADE,
    data       text NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions (updated_at);

-- ISO-8601 in UTC with microseconds and a trailing Z (what clients send back as `since`).
CREATE OR REPLACE FUNCTION iso_utc(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
