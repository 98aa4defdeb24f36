-- 0009: leases on the database's clock, crash rescue, at-most-once notifications.
--
-- Leases: a worker passes its own "now" and "lease until"; only their
-- difference (the lease's length) is used. Whether a lease is live and when it
-- ends is decided by this server's clock, so workers whose clocks disagree
-- can never both believe they hold one row.
--
-- Crash rescue: a run's heartbeat (batch_runs.heartbeat_at) is renewed with its
-- claims. A run left 'running' by a process that died (kill -9, a lost node) is
-- closed as 'crashed' by the next run, and its claims are handed back at once.
--
-- Notifications: notification_outbox holds one row per (night, owner, kind,
-- item). It is claimed before the Bot API is called and marked sent after
-- Telegram answers, so a retried Job or a racing run sends nothing twice.

SET search_path = public, pg_temp;

ALTER TABLE batch_runs ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz;

-- == leases on the server's clock ================================================

CREATE OR REPLACE FUNCTION superbrain_lease_length(p_now timestamptz, p_lease_until timestamptz)
RETURNS interval
LANGUAGE sql
IMMUTABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT greatest(coalesce(p_lease_until - p_now, interval '1 second'), interval '1 second');
$$;

CREATE OR REPLACE FUNCTION superbrain_claim_work(
    p_worker text, p_limit integer, p_now timestamptz, p_lease_until timestamptz)
RETURNS TABLE (id bigint, chat_id bigint, message_id bigint,
               target_message_id bigint, attempts integer)
LANGUAGE sql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    WITH picked AS (
        SELECT m.id FROM raw_messages m
        WHERE NOT m.is_processed AND m.quarantined_at IS NULL
          AND (m.claim_expires_at IS NULL OR m.claim_expires_at <= now())
          AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= p_now)
        ORDER BY m.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE raw_messages m
        SET claimed_by = p_worker,
            claim_expires_at = now() + superbrain_lease_length(p_now, p_lease_until)
        FROM picked WHERE m.id = picked.id
        RETURNING m.id, m.chat_id, m.message_id, m.chain_id, m.attempts
    )
    SELECT c.id, c.chat_id, c.message_id,
           superbrain_work_target(c.message_id, c.chain_id), c.attempts
    FROM claimed c
    ORDER BY c.id;
$$;

CREATE OR REPLACE FUNCTION superbrain_peek_work(
    p_after bigint, p_limit integer, p_now timestamptz,
    p_classifier text DEFAULT NULL, p_version text DEFAULT NULL)
RETURNS TABLE (id bigint, chat_id bigint, message_id bigint,
               target_message_id bigint, attempts integer)
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT m.id, m.chat_id, m.message_id,
           superbrain_work_target(m.message_id, m.chain_id), m.attempts
    FROM raw_messages m
    WHERE m.id > p_after
      AND ((NOT m.is_processed AND m.quarantined_at IS NULL
            AND (m.claim_expires_at IS NULL OR m.claim_expires_at <= now())
            AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= p_now))
           OR (p_classifier IS NOT NULL AND m.id IN (
                SELECT l.raw_message_id FROM routing_log l
                WHERE l.superseded_at IS NULL
                  AND NOT (l.classifier = p_classifier AND l.classifier_version = p_version))))
    ORDER BY m.id
    LIMIT p_limit;
$$;

CREATE OR REPLACE FUNCTION superbrain_pending_work(p_now timestamptz)
RETURNS bigint
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT count(*) FROM raw_messages m
    WHERE NOT m.is_processed AND m.quarantined_at IS NULL
      AND (m.claim_expires_at IS NULL OR m.claim_expires_at <= now())
      AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= p_now);
$$;

-- The heartbeat: renew the worker's claims for p_lease_seconds from now (the
-- server's now) and mark its run alive.
CREATE OR REPLACE FUNCTION superbrain_renew_claims(p_worker text, p_lease_seconds double precision)
RETURNS integer
LANGUAGE sql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    WITH alive AS (
        UPDATE batch_runs SET heartbeat_at = now()
        WHERE worker = p_worker AND status = 'running'
        RETURNING 1
    ), extended AS (
        UPDATE raw_messages
        SET claim_expires_at = now() + make_interval(secs => greatest(p_lease_seconds, 1))
        WHERE claimed_by = p_worker AND NOT is_processed
        RETURNING 1)
    -- (a data-modifying WITH runs in full whether or not it is read)
    SELECT count(*)::integer FROM extended;
$$;

CREATE OR REPLACE FUNCTION superbrain_start_batch_run(
    p_classifier text, p_version text, p_worker text, p_now timestamptz)
RETURNS bigint
LANGUAGE sql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    INSERT INTO batch_runs (started_at, status, classifier, classifier_version, worker,
                            heartbeat_at)
    VALUES (p_now, 'running', p_classifier, p_version, p_worker, now())
    RETURNING id;
$$;

-- Close the runs that died: every other 'running' run when p_exclusive (the
-- caller holds the run lock, so no other run is alive), otherwise those whose
-- heartbeat is older than p_stale_seconds. Their unfinished claims are handed
-- back (with p_exclusive, every claim not p_worker's). Returns
-- {"runs": [ids closed], "released": claims handed back}.
CREATE OR REPLACE FUNCTION superbrain_rescue_crashed_runs(
    p_worker text, p_stale_seconds double precision, p_exclusive boolean)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_runs bigint[];
    v_workers text[];
    v_released integer;
BEGIN
    WITH dead AS (
        UPDATE batch_runs
        SET status = 'crashed', finished_at = now()
        WHERE status = 'running' AND worker IS DISTINCT FROM p_worker
          AND (p_exclusive OR coalesce(heartbeat_at, started_at)
                              < now() - make_interval(secs => greatest(p_stale_seconds, 0)))
        RETURNING id, worker
    )
    SELECT coalesce(array_agg(id ORDER BY id), '{}'), coalesce(array_agg(worker), '{}')
    INTO v_runs, v_workers FROM dead;
    WITH released AS (
        UPDATE raw_messages
        SET claimed_by = NULL, claim_expires_at = NULL
        WHERE NOT is_processed AND claimed_by IS NOT NULL
          AND claimed_by IS DISTINCT FROM p_worker
          AND (p_exclusive OR claimed_by = ANY (v_workers))
        RETURNING 1
    )
    SELECT count(*)::integer INTO v_released FROM released;
    RETURN jsonb_build_object('runs', to_jsonb(v_runs), 'released', v_released);
END;
$$;

-- == one batch, one transaction ===================================================

-- The bot's group commit interleaves updates and its own replies. Through
-- PostgREST each rpc is its own transaction, so a batch sent as several calls
-- could be half stored; this takes the whole batch in one call: p_runs is
-- [{"kind": "updates"|"bot_responses", "items": [...]}, ...] (the items the two
-- functions below take), and the answer holds each run's answer, in order.
CREATE OR REPLACE FUNCTION superbrain_write_batch(p_runs jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_run jsonb;
    v_out jsonb := '[]'::jsonb;
BEGIN
    FOR v_run IN SELECT value FROM jsonb_array_elements(p_runs) LOOP
        IF v_run->>'kind' = 'bot_responses' THEN
            v_out := v_out || jsonb_build_array(superbrain_record_bot_responses(v_run->'items'));
        ELSIF v_run->>'kind' = 'updates' THEN
            v_out := v_out || jsonb_build_array(superbrain_capture_many(v_run->'items'));
        ELSE
            RAISE EXCEPTION 'superbrain_write_batch: unknown run kind %', v_run->>'kind'
                USING ERRCODE = '22023';
        END IF;
    END LOOP;
    RETURN v_out;
END;
$$;

-- == the notification outbox ======================================================

CREATE TABLE IF NOT EXISTS notification_outbox (
    id                   bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    night                date        NOT NULL,
    owner_id             bigint      NOT NULL,
    kind                 text        NOT NULL,
    item_key             text        NOT NULL DEFAULT '',
    status               text        NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    holder               text,
    body                 text        NOT NULL,
    reply_to_message_id  bigint,
    message_id           bigint,
    error                text,
    sends                integer     NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (night, owner_id, kind, item_key)
);
CREATE INDEX IF NOT EXISTS idx_notification_outbox_owner
    ON notification_outbox (owner_id, kind, item_key);

-- Claim one notification for sending. True when the caller may send it: the row
-- is new, or its earlier send failed, or p_force (``nightly --resend``). A row
-- being sent or already sent by anyone else is left alone: at most once.
CREATE OR REPLACE FUNCTION superbrain_claim_notification(
    p_night date, p_owner bigint, p_kind text, p_key text, p_holder text,
    p_body text, p_reply_to bigint, p_force boolean)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO notification_outbox AS o
        (night, owner_id, kind, item_key, status, holder, body, reply_to_message_id)
    VALUES (p_night, p_owner, p_kind, p_key, 'sending', p_holder, p_body, p_reply_to)
    ON CONFLICT (night, owner_id, kind, item_key) DO UPDATE
        SET status = 'sending', holder = EXCLUDED.holder, body = EXCLUDED.body,
            reply_to_message_id = EXCLUDED.reply_to_message_id, error = NULL,
            sends = o.sends + 1, updated_at = now()
        WHERE o.status = 'failed' OR p_force;
    RETURN FOUND;
END;
$$;

-- Record Telegram's answer: sent with its message id, or failed with the error.
CREATE OR REPLACE FUNCTION superbrain_finish_notification(
    p_night date, p_owner bigint, p_kind text, p_key text, p_holder text,
    p_message_id bigint, p_error text)
RETURNS boolean
LANGUAGE sql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    WITH done AS (
        UPDATE notification_outbox
        SET status = CASE WHEN p_error IS NULL THEN 'sent' ELSE 'failed' END,
            message_id = p_message_id, error = p_error, updated_at = now()
        WHERE night = p_night AND owner_id = p_owner AND kind = p_kind AND item_key = p_key
          AND holder = p_holder
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM done);
$$;

-- Questions from nights before p_before to ask again: the newest ask of each
-- item failed, or was sent and nobody replied to it, and the item has been
-- asked on fewer than p_max_asks nights.
CREATE OR REPLACE FUNCTION superbrain_open_questions(
    p_owner bigint, p_before date, p_max_asks integer)
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    WITH asks AS (
        SELECT o.*, count(*) OVER (PARTITION BY o.item_key) AS nights,
               row_number() OVER (PARTITION BY o.item_key ORDER BY o.night DESC) AS newest
        FROM notification_outbox o
        WHERE o.owner_id = p_owner AND o.kind = 'question' AND o.night < p_before
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'night', a.night, 'owner_id', a.owner_id, 'kind', a.kind,
               'item_key', a.item_key, 'status', a.status, 'body', a.body,
               'reply_to_message_id', a.reply_to_message_id, 'message_id', a.message_id,
               'error', a.error, 'nights', a.nights) ORDER BY a.item_key), '[]'::jsonb)
    FROM asks a
    WHERE a.newest = 1 AND a.nights < p_max_asks
      AND (a.status = 'failed'
           OR (a.status = 'sent' AND NOT EXISTS (
                SELECT 1 FROM raw_messages r
                WHERE r.chat_id = a.owner_id AND r.reply_to_message_id = a.message_id)));
$$;

CREATE OR REPLACE FUNCTION superbrain_notifications(p_night date)
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'night', o.night, 'owner_id', o.owner_id, 'kind', o.kind,
               'item_key', o.item_key, 'status', o.status, 'body', o.body,
               'reply_to_message_id', o.reply_to_message_id, 'message_id', o.message_id,
               'error', o.error, 'nights', o.sends) ORDER BY o.id), '[]'::jsonb)
    FROM notification_outbox o WHERE o.night = p_night;
$$;

SELECT superbrain_lock_down_tables(ARRAY['notification_outbox']);
SELECT superbrain_lock_down_functions();
