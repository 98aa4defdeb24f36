-- Schema version 3 of the embedded SQLite store: full-text search.
-- Additive only. storage/sqlite/search.py says why it is built this way.
--
-- search_pending: messages whose index entry is stale. Triggers on the raw
-- tables fill it from every writer (capture, ingest, an import, a hand-written
-- UPDATE in the sqlite3 shell), in plain SQL, so no writer needs anything
-- registered on its connection and odd text can never make a write fail.
-- The store indexes what is pending right before every search (and when
-- asked), never inside a capture.
--
-- search_docs: one row per message (chat_id, message_id), pointing at the
-- version that was indexed (the newest); its id is the rowid in search_fts.
-- It carries the message date, so matches are ordered without reading messages.
--
-- search_fts: the stemmed terms (superbrain_core.search.terms) of the newest
-- version's text and of the message's file names, as space-separated words.
--
-- The schema runner splits scripts at ";" + newline, so each trigger keeps its
-- one statement and END on a single line.

CREATE TABLE IF NOT EXISTS search_pending (
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    PRIMARY KEY (chat_id, message_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS search_docs (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    raw_message_id  INTEGER NOT NULL,
    message_date    TEXT    NOT NULL,
    UNIQUE (chat_id, message_id)
);

CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5 (
    body, files, detail = none, tokenize = 'unicode61 remove_diacritics 0'
);

CREATE TRIGGER IF NOT EXISTS search_raw_messages_insert AFTER INSERT ON raw_messages
BEGIN INSERT OR IGNORE INTO search_pending (chat_id, message_id) VALUES (NEW.chat_id, NEW.message_id); END;

CREATE TRIGGER IF NOT EXISTS search_raw_messages_update
AFTER UPDATE OF chat_id, message_id, version, message_text ON raw_messages
BEGIN INSERT OR IGNORE INTO search_pending (chat_id, message_id) VALUES (OLD.chat_id, OLD.message_id), (NEW.chat_id, NEW.message_id); END;

CREATE TRIGGER IF NOT EXISTS search_raw_messages_delete AFTER DELETE ON raw_messages
BEGIN INSERT OR IGNORE INTO search_pending (chat_id, message_id) VALUES (OLD.chat_id, OLD.message_id); END;

CREATE TRIGGER IF NOT EXISTS search_raw_files_insert AFTER INSERT ON raw_files
BEGIN INSERT OR IGNORE INTO search_pending (chat_id, message_id) VALUES (NEW.chat_id, NEW.message_id); END;

CREATE TRIGGER IF NOT EXISTS search_raw_files_update
AFTER UPDATE OF chat_id, message_id, file_name ON raw_files
BEGIN INSERT OR IGNORE INTO search_pending (chat_id, message_id) VALUES (OLD.chat_id, OLD.message_id), (NEW.chat_id, NEW.message_id); END;

CREATE TRIGGER IF NOT EXISTS search_raw_files_delete AFTER DELETE ON raw_files
BEGIN INSERT OR IGNORE INTO search_pending (chat_id, message_id) VALUES (OLD.chat_id, OLD.message_id); END;

-- Everything stored before this version: indexed by the first search.
INSERT OR IGNORE INTO search_pending (chat_id, message_id)
    SELECT chat_id, message_id FROM raw_messages GROUP BY chat_id, message_id
