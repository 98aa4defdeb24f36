-- Schema version 4 of the embedded SQLite store: an event keeps its end and its
-- recurrence rule (the Postgres side is sql/0007_event_periods.sql). Additive:
-- two nullable columns, so every existing row stays what it was.

ALTER TABLE events ADD COLUMN ends_at TEXT;
ALTER TABLE events ADD COLUMN recurrence TEXT
