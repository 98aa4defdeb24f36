-- Schema version 5 of the embedded SQLite store: nothing lost, nothing twice,
-- whatever the arrival order (issue 15). The Postgres side is
-- sql/0008_arrival_order.sql. Additive: a new table, new nullable or defaulted
-- columns; every existing row stays what it was.
--
-- update_conflicts: a second, *different* content that arrived under an
-- update_id raw_updates already holds (two bots sharing a database under one
-- bot_id). Both payloads verbatim; one row per distinct content
-- (payload_hash), so a redelivered conflict is recorded once.

CREATE TABLE IF NOT EXISTS update_conflicts (
    id              INTEGER PRIMARY KEY,
    bot_id          INTEGER NOT NULL DEFAULT 0,
    update_id       INTEGER NOT NULL,
    update_type     TEXT    NOT NULL,
    stored_payload  TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    payload_hash    TEXT    NOT NULL,
    received_at     TEXT    NOT NULL,
    source          TEXT    NOT NULL DEFAULT 'bot',
    UNIQUE (bot_id, update_id, payload_hash)
)
;

-- What the bot said is searchable (issue 15 point 10): a message the bot sent
-- has an index entry like a captured one, pointing at its newest bot_responses
-- row (an edit is a row of its own). raw_message_id is 0 for those entries.
ALTER TABLE search_docs ADD COLUMN bot_response_id INTEGER;

CREATE TRIGGER IF NOT EXISTS search_bot_responses_insert AFTER INSERT ON bot_responses WHEN NEW.message_id IS NOT NULL
BEGIN INSERT OR IGNORE INTO search_pending (chat_id, message_id) VALUES (NEW.chat_id, NEW.message_id); END;

CREATE TRIGGER IF NOT EXISTS search_bot_responses_update AFTER UPDATE OF chat_id, message_id, response_text, error ON bot_responses
BEGIN INSERT OR IGNORE INTO search_pending (chat_id, message_id) SELECT OLD.chat_id, OLD.message_id WHERE OLD.message_id IS NOT NULL UNION ALL SELECT NEW.chat_id, NEW.message_id WHERE NEW.message_id IS NOT NULL; END;

-- Everything the bot sent before this version: indexed by the first search.
INSERT OR IGNORE INTO search_pending (chat_id, message_id)
    SELECT chat_id, message_id FROM bot_responses WHERE message_id IS NOT NULL
    GROUP BY chat_id, message_id
;

-- Business connections (issue 15 point 3): the n-th connection seen owns a block
-- of chat ids, -(n * 2**52 + chat id), so a business message's key includes its
-- connection (storage/base.py, business_chat_key).
CREATE TABLE IF NOT EXISTS business_connections (
    id                      INTEGER PRIMARY KEY,
    business_connection_id  TEXT NOT NULL UNIQUE,
    created_at              TEXT NOT NULL
)
