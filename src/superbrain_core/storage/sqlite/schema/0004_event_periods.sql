-- Schema version 4 of the embedded SQLite store: an event keeps its end and its
-- recurrence rule, and a note can be marked a secret (the Postgres side is
-- sql/0007_event_periods.sql). Additive: nullable or defaulted columns, so every
-- existing row stays what it was.

ALTER TABLE events ADD COLUMN ends_at TEXT;
ALTER TABLE events ADD COLUMN recurrence TEXT;
ALTER TABLE notes ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0
