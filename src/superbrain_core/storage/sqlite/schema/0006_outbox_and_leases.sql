-- Crash rescue and at-most-once notifications on the embedded SQLite store (the
-- Postgres side is sql/0009_outbox_and_leases.sql). Additive: one nullable
-- column and one new table, so every existing row stays what it was.
--
-- batch_runs.heartbeat_at: renewed with the run's claims; a run still marked
-- 'running' whose heartbeat has gone quiet is dead, and the next run closes it
-- as 'crashed' and takes its messages back.
--
-- notification_outbox: one row per (night, owner, kind, item) the nightly run
-- means to send. A row is claimed ('sending') before the Bot API is called and
-- marked 'sent' (or 'failed') after Telegram answers, so a retried Job or a
-- second run never sends the same digest or question twice in one night.

ALTER TABLE batch_runs ADD COLUMN heartbeat_at TEXT;

CREATE TABLE IF NOT EXISTS notification_outbox (
    id                   INTEGER PRIMARY KEY,
    night                TEXT    NOT NULL,
    owner_id             INTEGER NOT NULL,
    kind                 TEXT    NOT NULL,
    item_key             TEXT    NOT NULL DEFAULT '',
    status               TEXT    NOT NULL,
    holder               TEXT,
    body                 TEXT    NOT NULL,
    reply_to_message_id  INTEGER,
    message_id           INTEGER,
    error                TEXT,
    sends                INTEGER NOT NULL DEFAULT 1,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL,
    UNIQUE (night, owner_id, kind, item_key)
);

CREATE INDEX IF NOT EXISTS idx_notification_outbox_owner
    ON notification_outbox (owner_id, kind, item_key)
