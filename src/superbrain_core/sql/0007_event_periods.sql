-- 0007: an event keeps its end and its recurrence rule; a note can be a secret.
--
-- "в отпуске с 3 по 17 августа" is one event with a start and an end; "по
-- вторникам в 19 бассейн" is one event whose starts_at is the first occurrence
-- and whose recurrence is an RFC 5545 rule without its "RRULE:" prefix
-- ("FREQ=WEEKLY;BYDAY=TU"). Both columns are nullable, so every existing row
-- stays what it was, and the routing whitelist grows by the two names so
-- superbrain_apply_placements may write them.
--
-- notes.sensitive marks a note holding a password, PIN, card number or code:
-- its text is the classifier's masked summary, and readers mask it further.
--
-- Idempotent and additive; SECURITY INVOKER, search_path pinned.

SET search_path = public, pg_temp;

ALTER TABLE events ADD COLUMN IF NOT EXISTS ends_at timestamptz;
ALTER TABLE events ADD COLUMN IF NOT EXISTS recurrence text;
ALTER TABLE notes ADD COLUMN IF NOT EXISTS sensitive boolean NOT NULL DEFAULT false;

-- Mirrors superbrain_core.records.TABLE_COLUMNS.
CREATE OR REPLACE FUNCTION superbrain_routing_columns(p_table text)
RETURNS text[]
LANGUAGE sql
IMMUTABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT CASE p_table
        WHEN 'events'   THEN ARRAY['title', 'starts_at', 'ends_at', 'kind', 'people', 'recurrence']
        WHEN 'tasks'    THEN ARRAY['title', 'due_at', 'status']
        WHEN 'notes'    THEN ARRAY['text', 'tags', 'sensitive']
        WHEN 'files'    THEN ARRAY['raw_file_id', 'title', 'tags']
        WHEN 'people'   THEN ARRAY['name', 'phone', 'email', 'username']
        WHEN 'links'    THEN ARRAY['url', 'title']
        WHEN 'expenses' THEN ARRAY['amount', 'currency', 'description', 'spent_at']
    END;
$$;

SELECT superbrain_lock_down_functions();
