-- Schema version 2 of the embedded SQLite store: the nightly analyzer.
-- Additive only: processing bookkeeping on raw_messages, the structured
-- tables, and routing_log (every placement ever made).

ALTER TABLE raw_messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE raw_messages ADD COLUMN last_error TEXT;
ALTER TABLE raw_messages ADD COLUMN next_attempt_at TEXT;
ALTER TABLE raw_messages ADD COLUMN quarantined_at TEXT;
ALTER TABLE raw_messages ADD COLUMN claimed_by TEXT;
ALTER TABLE raw_messages ADD COLUMN claim_expires_at TEXT;
-- What the claim query walks: unprocessed rows in id order.
CREATE INDEX IF NOT EXISTS idx_raw_messages_pending
    ON raw_messages (id) WHERE is_processed = 0 AND quarantined_at IS NULL;

ALTER TABLE batch_runs ADD COLUMN worker TEXT;
ALTER TABLE batch_runs ADD COLUMN classifier_version TEXT;

CREATE TABLE IF NOT EXISTS events (
    id              INTEGER PRIMARY KEY,
    raw_message_id  INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    title           TEXT,
    starts_at       TEXT,
    kind            TEXT NOT NULL DEFAULT 'other',
    people          TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);

CREATE TABLE IF NOT EXISTS tasks (
    id              INTEGER PRIMARY KEY,
    raw_message_id  INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    title           TEXT,
    due_at          TEXT,
    status          TEXT NOT NULL DEFAULT 'open',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);

CREATE TABLE IF NOT EXISTS notes (
    id              INTEGER PRIMARY KEY,
    raw_message_id  INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    text            TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);

CREATE TABLE IF NOT EXISTS files (
    id              INTEGER PRIMARY KEY,
    raw_message_id  INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    raw_file_id     INTEGER REFERENCES raw_files (id),
    title           TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);

CREATE TABLE IF NOT EXISTS people (
    id              INTEGER PRIMARY KEY,
    raw_message_id  INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    name            TEXT,
    phone           TEXT,
    email           TEXT,
    username        TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);

CREATE TABLE IF NOT EXISTS links (
    id              INTEGER PRIMARY KEY,
    raw_message_id  INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    url             TEXT,
    title           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);

CREATE TABLE IF NOT EXISTS expenses (
    id              INTEGER PRIMARY KEY,
    raw_message_id  INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    amount          TEXT,
    currency        TEXT,
    description     TEXT,
    spent_at        TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);

CREATE TABLE IF NOT EXISTS routing_log (
    id                  INTEGER PRIMARY KEY,
    raw_message_id      INTEGER NOT NULL,
    chat_id             INTEGER NOT NULL,
    message_id          INTEGER NOT NULL,
    destination         TEXT NOT NULL,
    record_id           INTEGER,
    classification      TEXT NOT NULL,
    classifier          TEXT NOT NULL,
    classifier_version  TEXT NOT NULL,
    confidence          REAL NOT NULL,
    input_version       INTEGER NOT NULL DEFAULT 0,
    run_id              INTEGER,
    created_at          TEXT NOT NULL,
    superseded_at       TEXT
);
-- A message lives in exactly one place at a time.
CREATE UNIQUE INDEX IF NOT EXISTS uq_routing_log_current
    ON routing_log (chat_id, message_id) WHERE superseded_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_routing_log_message ON routing_log (chat_id, message_id, id);
CREATE INDEX IF NOT EXISTS idx_routing_log_classifier
    ON routing_log (classifier, classifier_version) WHERE superseded_at IS NULL
;
-- The analyzer reads the bot's side of a chain.
CREATE INDEX IF NOT EXISTS idx_bot_responses_chain ON bot_responses (chain_id)
