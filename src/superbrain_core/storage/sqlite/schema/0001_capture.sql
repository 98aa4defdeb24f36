-- Schema of the embedded SQLite store (version 1).
-- Column names follow the production Postgres/Supabase schema so the same
-- queries, exports and notebooks work on both. Timestamps are ISO-8601 text in
-- UTC with an explicit +00:00 offset; JSON is text.

CREATE TABLE IF NOT EXISTS raw_updates (
    id           INTEGER PRIMARY KEY,
    bot_id       INTEGER NOT NULL DEFAULT 0,
    update_id    INTEGER NOT NULL,
    update_type  TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    received_at  TEXT    NOT NULL,
    source       TEXT    NOT NULL DEFAULT 'bot',
    UNIQUE (bot_id, update_id)
);

CREATE TABLE IF NOT EXISTS raw_messages (
    id                   INTEGER PRIMARY KEY,
    user_id              INTEGER,
    message_id           INTEGER NOT NULL,
    message_text         TEXT,
    message_type         TEXT    NOT NULL,
    reply_to_message_id  INTEGER,
    reply_to_text        TEXT,
    is_clarification     INTEGER NOT NULL DEFAULT 0,
    raw_telegram_json    TEXT    NOT NULL,
    is_processed         INTEGER NOT NULL DEFAULT 0,
    processed_at         TEXT,
    created_at           TEXT    NOT NULL,
    chat_id              INTEGER NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1,
    message_date         TEXT    NOT NULL,
    edit_date            TEXT,
    media_group_id       TEXT,
    message_thread_id    INTEGER,
    chain_id             TEXT,
    sender_is_bot        INTEGER NOT NULL DEFAULT 0,
    entities             TEXT    NOT NULL DEFAULT '[]',
    forward_origin       TEXT,
    update_id            INTEGER,
    bot_id               INTEGER NOT NULL DEFAULT 0,
    update_type          TEXT,
    source               TEXT    NOT NULL DEFAULT 'bot',
    content_hash         TEXT    NOT NULL DEFAULT '',
    UNIQUE (chat_id, message_id, version)
);
-- One row per distinct version: the original (no edit_date) and each edit;
-- content_hash separates two edits made within the same second.
CREATE UNIQUE INDEX IF NOT EXISTS uq_raw_messages_edit
    ON raw_messages (chat_id, message_id, coalesce(edit_date, ''), content_hash);
CREATE INDEX IF NOT EXISTS idx_raw_messages_user ON raw_messages (user_id);
CREATE INDEX IF NOT EXISTS idx_raw_messages_processed ON raw_messages (is_processed, id);
CREATE INDEX IF NOT EXISTS idx_raw_messages_chain ON raw_messages (chain_id);
CREATE INDEX IF NOT EXISTS idx_raw_messages_date ON raw_messages (message_date);

CREATE TABLE IF NOT EXISTS raw_files (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER,
    message_id       INTEGER NOT NULL,
    file_type        TEXT    NOT NULL,
    file_name        TEXT,
    file_path        TEXT,
    file_size        INTEGER,
    file_hash        TEXT,
    raw_metadata     TEXT    NOT NULL,
    is_processed     INTEGER NOT NULL DEFAULT 0,
    processed_at     TEXT,
    uploaded_at      TEXT    NOT NULL,
    chat_id          INTEGER NOT NULL,
    file_id          TEXT,
    file_unique_id   TEXT,
    file_key         TEXT    NOT NULL,
    mime_type        TEXT,
    status           TEXT    NOT NULL DEFAULT 'pending',
    download_reason  TEXT,
    UNIQUE (chat_id, message_id, file_key)
);
CREATE INDEX IF NOT EXISTS idx_raw_files_user ON raw_files (user_id);
CREATE INDEX IF NOT EXISTS idx_raw_files_hash ON raw_files (file_hash);
CREATE INDEX IF NOT EXISTS idx_raw_files_status ON raw_files (status, id);

CREATE TABLE IF NOT EXISTS bot_responses (
    id                       INTEGER PRIMARY KEY,
    user_id                  INTEGER,
    message_id               INTEGER,
    response_text            TEXT,
    response_type            TEXT NOT NULL DEFAULT 'text',
    related_user_message_id  INTEGER,
    ai_analysis              TEXT,
    chain_id                 TEXT,
    created_at               TEXT NOT NULL,
    chat_id                  INTEGER NOT NULL,
    method                   TEXT,
    request                  TEXT,
    result                   TEXT,
    error                    TEXT,
    is_edit                  INTEGER NOT NULL DEFAULT 0,
    idempotency_key          TEXT
);
-- A sent message is recorded once; each edit of it is a row of its own.
CREATE UNIQUE INDEX IF NOT EXISTS uq_bot_responses_message
    ON bot_responses (chat_id, message_id) WHERE message_id IS NOT NULL AND is_edit = 0;
CREATE UNIQUE INDEX IF NOT EXISTS uq_bot_responses_key
    ON bot_responses (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_bot_responses_message
    ON bot_responses (chat_id, message_id);
CREATE INDEX IF NOT EXISTS idx_bot_responses_related
    ON bot_responses (chat_id, related_user_message_id);

CREATE TABLE IF NOT EXISTS message_chains (
    chain_id             TEXT PRIMARY KEY,
    user_id              INTEGER,
    original_message_id  INTEGER NOT NULL,
    original_text        TEXT,
    replies              TEXT NOT NULL DEFAULT '[]',
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    chat_id              INTEGER NOT NULL,
    UNIQUE (chat_id, original_message_id)
);
CREATE INDEX IF NOT EXISTS idx_chains_user ON message_chains (user_id);

-- One row per nightly analyzer run; the bot's /last shows the newest digest.
CREATE TABLE IF NOT EXISTS batch_runs (
    id           INTEGER PRIMARY KEY,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL DEFAULT 'running',
    classifier   TEXT,
    counts       TEXT NOT NULL DEFAULT '{}',
    digest       TEXT
);
