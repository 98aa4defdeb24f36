-- 0004: one analyzer run at a time.
--
-- Per-message leases already keep two runs from filing the same message twice;
-- this lock keeps a second run (a manual re-run, a retried Job) from starting
-- at all while one is active, so the owner gets one digest per night.
--
-- Two holders can meet here: a run on a direct Postgres connection holds a
-- session advisory lock for its lifetime (freed by the server when the process
-- dies), and a run through PostgREST, where no session outlives a request,
-- holds a lease row renewed by a heartbeat. superbrain_try_run_lock checks
-- both, so the two kinds exclude each other. Times are the server's clock, so
-- clients with skewed clocks agree on when a lease has expired.

SET search_path = public, pg_temp;

CREATE TABLE IF NOT EXISTS run_locks (
    name          text        PRIMARY KEY,
    holder        text        NOT NULL,
    acquired_at   timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    session_lock  boolean     NOT NULL DEFAULT false
);

-- The advisory key of a named lock; one definition for both kinds of holder.
CREATE OR REPLACE FUNCTION superbrain_run_lock_key(p_name text)
RETURNS bigint
LANGUAGE sql
IMMUTABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT hashtextextended('superbrain.run_lock:' || p_name, 0);
$$;

-- Take (or re-take) the lock. Returns {acquired, holder, acquired_at, expires_at},
-- the latter three describing whoever holds it afterwards.
--
-- p_session_lock: the caller holds the session advisory lock of this name on
-- the connection it calls from. Then a lease left by another session-lock
-- holder is known to be dead (its advisory lock would otherwise have refused
-- the caller) and is taken over without waiting for it to expire.
CREATE OR REPLACE FUNCTION superbrain_try_run_lock(
    p_name text, p_holder text, p_ttl_seconds integer, p_session_lock boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_row run_locks%ROWTYPE;
BEGIN
    IF p_ttl_seconds IS NULL OR p_ttl_seconds < 1 THEN
        RAISE EXCEPTION 'superbrain_try_run_lock: p_ttl_seconds must be at least 1';
    END IF;
    -- A session holder on a direct connection: its advisory lock refuses this
    -- transaction-level attempt (a session's own lock does not refuse itself).
    IF NOT pg_try_advisory_xact_lock(superbrain_run_lock_key(p_name)) THEN
        SELECT * INTO v_row FROM run_locks WHERE name = p_name;
        RETURN jsonb_build_object(
            'acquired', false,
            'holder', coalesce(v_row.holder,
                               'a run on a direct Postgres connection, or one taking the lock now'),
            'acquired_at', v_row.acquired_at,
            'expires_at', NULL);
    END IF;
    INSERT INTO run_locks AS l (name, holder, acquired_at, expires_at, session_lock)
    VALUES (p_name, p_holder, v_now, v_now + make_interval(secs => p_ttl_seconds),
            p_session_lock)
    ON CONFLICT (name) DO UPDATE
        SET holder = EXCLUDED.holder,
            acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at
                               ELSE EXCLUDED.acquired_at END,
            expires_at = EXCLUDED.expires_at,
            session_lock = EXCLUDED.session_lock
        WHERE l.holder = EXCLUDED.holder
           OR l.expires_at <= v_now
           OR (p_session_lock AND l.session_lock)
    RETURNING l.* INTO v_row;
    IF FOUND THEN
        RETURN jsonb_build_object('acquired', true, 'holder', v_row.holder,
                                  'acquired_at', v_row.acquired_at,
                                  'expires_at', v_row.expires_at);
    END IF;
    SELECT * INTO v_row FROM run_locks WHERE name = p_name;
    RETURN jsonb_build_object('acquired', false, 'holder', v_row.holder,
                              'acquired_at', v_row.acquired_at,
                              'expires_at', v_row.expires_at);
END;
$$;

-- Extend a held lease; false when it is no longer ours (it expired and was taken).
CREATE OR REPLACE FUNCTION superbrain_renew_run_lock(
    p_name text, p_holder text, p_ttl_seconds integer)
RETURNS boolean
LANGUAGE sql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    WITH renewed AS (
        UPDATE run_locks
        SET expires_at = clock_timestamp() + make_interval(secs => p_ttl_seconds)
        WHERE name = p_name AND holder = p_holder
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM renewed);
$$;

-- Give the lock up; false when it was not ours to give.
CREATE OR REPLACE FUNCTION superbrain_release_run_lock(p_name text, p_holder text)
RETURNS boolean
LANGUAGE sql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    WITH released AS (
        DELETE FROM run_locks WHERE name = p_name AND holder = p_holder RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM released);
$$;

SELECT superbrain_lock_down_tables(ARRAY['run_locks']);
SELECT superbrain_lock_down_functions();
