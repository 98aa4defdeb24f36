-- 0011: the analyzer's filing in sets (issue 17).
--
-- A first night over a backlog files thousands of messages that nothing has
-- filed before; 0003's superbrain_apply_placements did that one placement at a
-- time (a dozen statements each, every one planned anew). Now:
--
-- * superbrain_apply_placements files such fresh placements with a few set-based
--   statements per call and hands the rest to superbrain_apply_placements_each,
--   which is 0003's loop unchanged under a new name;
-- * superbrain_work_contexts_json is superbrain_work_contexts built as json (the
--   jsonb version re-encoded each raw update at every level it was nested in),
--   finding a chain's members by the chain index alone;
-- * superbrain_renew_claims skips rows a concurrent placement holds: those are
--   being settled, and waiting for them while the placement waits for rows the
--   heartbeat holds was a deadlock (retried, but a lost second each time).

SET search_path = public, pg_temp;

-- 0003's superbrain_apply_placements, unchanged but for its name: placements
-- one at a time, each advisory-locked, in (chat_id, message_id) order.
CREATE OR REPLACE FUNCTION superbrain_apply_placements_each(
    p_placements jsonb, p_run_id bigint, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
-- PL/pgSQL caches a generic plan per statement for the connection's lifetime; made
-- while routing_log was nearly empty it is a sequential scan, and a first large
-- backlog then costs a scan per placement. Planning each time is cheap beside that.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    item        record;
    p           jsonb;
    v_chat      bigint;
    v_msg       bigint;
    v_dest      text;
    v_cols      text[];
    v_current   routing_log%ROWTYPE;
    v_record    bigint;
    v_changed   boolean;
    v_verdict   boolean;
    v_outcome   text;
    v_previous  text;
    v_results   jsonb[] := ARRAY[]::jsonb[];
    v_ids       bigint[];
    v_members   bigint[];
    v_member    bigint;
    v_absorbed  record;
BEGIN
    FOR item IN
        SELECT e.value AS p, e.ord FROM jsonb_array_elements(p_placements) WITH ORDINALITY
            AS e(value, ord)
        ORDER BY (e.value->>'chat_id')::bigint, (e.value->>'message_id')::bigint, e.ord
    LOOP
        p := item.p;
        v_chat := (p->>'chat_id')::bigint;
        v_msg := (p->>'message_id')::bigint;
        v_dest := p->>'destination';
        v_cols := superbrain_routing_columns(v_dest);
        IF v_dest IS DISTINCT FROM 'none' AND v_cols IS NULL THEN
            RAISE EXCEPTION 'unknown destination %', v_dest
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pg_advisory_xact_lock(hashtextextended(format('superbrain:%s:%s', v_chat, v_msg), 0));
        SELECT * INTO v_current FROM routing_log l
        WHERE l.chat_id = v_chat AND l.message_id = v_msg AND l.superseded_at IS NULL;
        v_previous := v_current.destination;
        v_record := NULL;
        v_changed := false;
        v_verdict := true;

        IF v_current.id IS NULL THEN
            v_outcome := 'placed';
            IF v_dest <> 'none' THEN
                v_record := superbrain_insert_record(p, p_now);
            END IF;
        ELSIF v_current.input_version > (p->>'input_version')::bigint THEN
            v_outcome := 'stale';
            v_record := v_current.record_id;
            v_verdict := false;
        ELSIF v_current.destination = v_dest THEN
            v_record := v_current.record_id;
            IF v_dest <> 'none' THEN
                IF v_record IS NULL OR NOT superbrain_record_exists(v_dest, v_record) THEN
                    -- The owner deleted the row by hand: file it again.
                    v_record := superbrain_insert_record(p, p_now);
                    v_changed := true;
                ELSE
                    v_changed := superbrain_update_record(p, v_record, p_now);
                END IF;
            END IF;
            v_verdict := v_changed
                OR v_current.classifier IS DISTINCT FROM p->>'classifier'
                OR v_current.classifier_version IS DISTINCT FROM p->>'classifier_version'
                OR v_current.classification IS DISTINCT FROM p->'classification';
            v_outcome := CASE WHEN v_changed THEN 'updated' ELSE 'unchanged' END;
            IF NOT v_verdict THEN
                UPDATE routing_log SET input_version = greatest(input_version,
                                                                (p->>'input_version')::bigint)
                WHERE id = v_current.id;
            END IF;
        ELSE
            v_outcome := 'moved';
            PERFORM superbrain_delete_record(v_current.destination, v_current.record_id);
            IF v_dest <> 'none' THEN
                v_record := superbrain_insert_record(p, p_now);
            END IF;
        END IF;

        IF v_verdict THEN
            IF v_current.id IS NOT NULL THEN
                UPDATE routing_log SET superseded_at = p_now WHERE id = v_current.id;
            END IF;
            INSERT INTO routing_log (raw_message_id, chat_id, message_id, destination,
                record_id, classification, classifier, classifier_version, confidence,
                input_version, run_id, created_at)
            VALUES ((p->>'raw_message_id')::bigint, v_chat, v_msg, v_dest, v_record,
                p->'classification', p->>'classifier', p->>'classifier_version',
                (p->>'confidence')::double precision, (p->>'input_version')::bigint,
                p_run_id, p_now);
        END IF;

        -- The chain's other messages: out of any place they were filed in on their
        -- own (a root that arrived after its reply), and their raw rows this
        -- verdict has seen settled too.
        SELECT coalesce(array_agg(x::bigint), ARRAY[]::bigint[]) INTO v_members
        FROM jsonb_array_elements_text(coalesce(p->'member_ids', '[]'::jsonb)) x;
        IF v_outcome <> 'stale' THEN
            -- One equality lookup per member: a join or `= ANY` lets the planner,
            -- misled by stale statistics, scan the whole chat's log per placement.
            FOREACH v_member IN ARRAY v_members LOOP
                SELECT l.id, l.destination, l.record_id INTO v_absorbed FROM routing_log l
                WHERE l.chat_id = v_chat AND l.message_id = v_member
                  AND l.superseded_at IS NULL;
                CONTINUE WHEN NOT FOUND;
                PERFORM superbrain_delete_record(v_absorbed.destination, v_absorbed.record_id);
                UPDATE routing_log SET superseded_at = p_now WHERE id = v_absorbed.id;
            END LOOP;
        END IF;
        FOREACH v_member IN ARRAY (v_members || v_msg) LOOP
            UPDATE raw_messages
            SET is_processed = true, processed_at = p_now, claimed_by = NULL,
                claim_expires_at = NULL, next_attempt_at = NULL
            WHERE chat_id = v_chat AND message_id = v_member
              AND id <= (p->>'input_version')::bigint AND NOT is_processed;
        END LOOP;

        SELECT array_agg(x::bigint) INTO v_ids
        FROM jsonb_array_elements_text(coalesce(p->'processed_ids', '[]'::jsonb)) x;
        IF v_ids IS NOT NULL THEN
            UPDATE raw_messages
            SET is_processed = true, processed_at = p_now, claimed_by = NULL,
                claim_expires_at = NULL, next_attempt_at = NULL
            WHERE id = ANY (v_ids);
        END IF;

        v_results[item.ord] := jsonb_build_object(
            'outcome', v_outcome, 'destination', v_dest, 'record_id', v_record,
            'previous_destination', v_previous);
    END LOOP;
    RETURN to_jsonb(v_results);
END
$$;

-- Apply placements and mark their raw rows processed, in one transaction, with
-- the contract of 0003's version (same payload, one result per placement in
-- input order). What changed is how: every message of the call is locked up
-- front (advisory locks taken in (chat_id, message_id) order, so two calls
-- never deadlock on each other), and the placements that cannot interact with
-- anything -- a message filed for the first time, alone in the call, whose chain
-- members are neither filed nor placed in the same call -- are filed with a few
-- set-based statements: one INSERT per destination table, one into
-- routing_log, one UPDATE that settles their raw rows. That is what a first
-- night over a backlog is made of. Everything else (updates, moves, stale
-- verdicts, absorbed members, a message placed twice in one call) goes through
-- superbrain_apply_placements_each, the per-placement loop, after them; the two
-- sets share no message, so the order between them changes nothing.
CREATE OR REPLACE FUNCTION superbrain_apply_placements(
    p_placements jsonb, p_run_id bigint, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
-- A handful of statements per call, so planning each with the call's own arrays
-- costs little and never leaves a generic plan made while the tables were empty.
SET plan_cache_mode = force_custom_plan
-- The planner cannot know how few rows a call's arrays unnest into; its guesses
-- (thousands per call) crossed jit_above_cost, and compiling the settling UPDATE
-- cost more than running it.
SET jit = off
AS $$
DECLARE
    -- The payload read once into one array per field (index = position in the
    -- call): walking the jsonb again in every statement cost more than the writes.
    v_chat      bigint[];
    v_msg       bigint[];
    v_raw       bigint[];
    v_dest      text[];
    v_values    jsonb[];
    v_class     jsonb[];
    v_clf       text[];
    v_ver       text[];
    v_conf      double precision[];
    v_iv        bigint[];
    v_members   jsonb[];
    v_processed jsonb[];
    v_fresh     bigint[];
    v_valid     text[];
    v_table     text;
    v_cols      text[];
    v_found     jsonb;
    v_records   jsonb := '{}'::jsonb;
    v_rest      jsonb;
    v_rest_ord  bigint[];
    v_done      jsonb := '[]'::jsonb;
BEGIN
    IF p_placements IS NULL OR jsonb_array_length(p_placements) = 0 THEN
        RETURN '[]'::jsonb;
    END IF;
    SELECT array_agg((x.e->>'chat_id')::bigint ORDER BY x.ord),
           array_agg((x.e->>'message_id')::bigint ORDER BY x.ord),
           array_agg((x.e->>'raw_message_id')::bigint ORDER BY x.ord),
           array_agg(x.e->>'destination' ORDER BY x.ord),
           array_agg(x.e->'values' ORDER BY x.ord),
           array_agg(x.e->'classification' ORDER BY x.ord),
           array_agg(x.e->>'classifier' ORDER BY x.ord),
           array_agg(x.e->>'classifier_version' ORDER BY x.ord),
           array_agg((x.e->>'confidence')::double precision ORDER BY x.ord),
           array_agg((x.e->>'input_version')::bigint ORDER BY x.ord),
           array_agg(coalesce(x.e->'member_ids', '[]'::jsonb) ORDER BY x.ord),
           array_agg(coalesce(x.e->'processed_ids', '[]'::jsonb) ORDER BY x.ord)
    INTO v_chat, v_msg, v_raw, v_dest, v_values, v_class, v_clf, v_ver, v_conf, v_iv,
         v_members, v_processed
    FROM jsonb_array_elements(p_placements) WITH ORDINALITY AS x(e, ord);

    PERFORM pg_advisory_xact_lock(
        hashtextextended(format('superbrain:%s:%s', k.chat_id, k.message_id), 0))
    FROM (SELECT DISTINCT t.chat_id, t.message_id
          FROM unnest(v_chat, v_msg) AS t(chat_id, message_id)
          ORDER BY 1, 2) k;

    -- The destinations the call names that the whitelist knows (checked once per
    -- name: superbrain_routing_columns is not inlined, so a call per row costs).
    SELECT coalesce(array_agg(d.name), ARRAY[]::text[]) INTO v_valid
    FROM (SELECT DISTINCT t.name FROM unnest(v_dest) AS t(name)) d
    WHERE d.name = 'none' OR superbrain_routing_columns(d.name) IS NOT NULL;

    -- Which placements are fresh (read after the locks, so no other run's filing
    -- of the same messages can slip in between).
    WITH items AS (
        SELECT t.ord, t.chat_id, t.message_id, t.dest,
               ARRAY(SELECT y::bigint FROM jsonb_array_elements_text(t.members) y) AS members
        FROM unnest(v_chat, v_msg, v_dest, v_members) WITH ORDINALITY
            AS t(chat_id, message_id, dest, members, ord)
    ), member_keys AS (
        SELECT DISTINCT i.chat_id, m.id AS message_id FROM items i, unnest(i.members) AS m(id)
    ), keyed AS (
        SELECT i.*, count(*) OVER (PARTITION BY i.chat_id, i.message_id) AS n FROM items i
    )
    SELECT coalesce(array_agg(k.ord ORDER BY k.ord), ARRAY[]::bigint[]) INTO v_fresh
    FROM keyed k
    WHERE k.n = 1
      AND k.dest = ANY (v_valid)
      AND NOT EXISTS (SELECT 1 FROM member_keys f
                      WHERE f.chat_id = k.chat_id AND f.message_id = k.message_id)
      AND NOT EXISTS (SELECT 1 FROM unnest(k.members) AS m(id)
                      JOIN items o ON o.chat_id = k.chat_id AND o.message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM routing_log l
                      WHERE l.chat_id = k.chat_id AND l.message_id = k.message_id
                        AND l.superseded_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM unnest(k.members) AS m(id)
                      CROSS JOIN LATERAL (
                          SELECT 1 FROM routing_log l
                          WHERE l.chat_id = k.chat_id AND l.message_id = m.id
                            AND l.superseded_at IS NULL OFFSET 0) filed);

    IF cardinality(v_fresh) > 0 THEN
        -- One INSERT per destination table; columns typed by the table itself, as
        -- superbrain_insert_record does.
        FOR v_table IN
            SELECT DISTINCT v_dest[f] FROM unnest(v_fresh) AS f WHERE v_dest[f] <> 'none'
        LOOP
            v_cols := superbrain_routing_columns(v_table);
            EXECUTE format(
                'WITH ins AS (INSERT INTO %1$I (raw_message_id, chat_id, message_id, %2$s,'
                ' created_at, updated_at)'
                ' SELECT $1[f], $2[f], $3[f], %3$s, $5, $5'
                ' FROM unnest($6) AS f CROSS JOIN LATERAL jsonb_populate_record(NULL::%1$I, $4[f]) r'
                ' WHERE $7[f] = $8'
                ' ORDER BY $2[f], $3[f]'
                ' RETURNING chat_id, message_id, id)'
                ' SELECT coalesce(jsonb_object_agg(chat_id::text || '':'' || message_id::text, id),'
                ' ''{}''::jsonb) FROM ins',
                v_table,
                (SELECT string_agg(format('%I', c), ', ') FROM unnest(v_cols) c),
                (SELECT string_agg(CASE WHEN c = 'status' THEN 'coalesce(r.status, ''open'')'
                                        ELSE format('r.%I', c) END, ', ')
                 FROM unnest(v_cols) c))
            INTO v_found
            USING v_raw, v_chat, v_msg, v_values, p_now, v_fresh, v_dest, v_table;
            v_records := v_records || v_found;
        END LOOP;

        INSERT INTO routing_log (raw_message_id, chat_id, message_id, destination,
            record_id, classification, classifier, classifier_version, confidence,
            input_version, run_id, created_at)
        SELECT v_raw[f], v_chat[f], v_msg[f], v_dest[f],
               (v_records->>(v_chat[f]::text || ':' || v_msg[f]::text))::bigint,
               v_class[f], v_clf[f], v_ver[f], v_conf[f], v_iv[f], p_run_id, p_now
        FROM unnest(v_fresh) AS f
        ORDER BY v_chat[f], v_msg[f];

        -- Settle what each verdict has seen (the message's and its members' rows
        -- up to input_version) and the claimed rows it files, in one UPDATE by id.
        -- The per-key lookups are fenced (OFFSET 0) so each is an index probe.
        UPDATE raw_messages
        SET is_processed = true, processed_at = p_now, claimed_by = NULL,
            claim_expires_at = NULL, next_attempt_at = NULL
        WHERE id = ANY (ARRAY(
            SELECT s.id
            FROM unnest(v_fresh) AS f
            CROSS JOIN LATERAL (
                SELECT v_msg[f] AS message_id
                UNION ALL
                SELECT y::bigint FROM jsonb_array_elements_text(v_members[f]) y) k
            CROSS JOIN LATERAL (
                SELECT r.id FROM raw_messages r
                WHERE r.chat_id = v_chat[f] AND r.message_id = k.message_id
                  AND r.id <= v_iv[f] AND NOT r.is_processed
                OFFSET 0) s
            UNION
            SELECT y::bigint
            FROM unnest(v_fresh) AS f, jsonb_array_elements_text(v_processed[f]) y));
    END IF;

    IF cardinality(v_fresh) < cardinality(v_chat) THEN
        SELECT jsonb_agg(x.e ORDER BY x.ord), array_agg(x.ord ORDER BY x.ord)
        INTO v_rest, v_rest_ord
        FROM jsonb_array_elements(p_placements) WITH ORDINALITY AS x(e, ord)
        WHERE NOT (x.ord = ANY (v_fresh));
        v_done := superbrain_apply_placements_each(v_rest, p_run_id, p_now);
    END IF;

    RETURN (
        SELECT jsonb_agg(r.result ORDER BY r.ord)
        FROM (
            SELECT f AS ord, jsonb_build_object(
                'outcome', 'placed', 'destination', v_dest[f],
                'record_id', (v_records->>(v_chat[f]::text || ':' || v_msg[f]::text))::bigint,
                'previous_destination', NULL) AS result
            FROM unnest(v_fresh) AS f
            UNION ALL
            SELECT o.ord, d.result
            FROM unnest(v_rest_ord) WITH ORDINALITY AS o(ord, i)
            JOIN jsonb_array_elements(v_done) WITH ORDINALITY AS d(result, i) USING (i)
        ) r);
END
$$;

-- Everything the classification of each (chat_id, message_id) may use:
-- superbrain_work_contexts (0008) with two changes, under a name of its own
-- because its result type differs. It is built as json, not jsonb: every jsonb
-- level re-encodes what it nests, so the raw update of each root was encoded
-- over again at each of four levels (a page's contexts cost more than all of its
-- lookups); json nests text as it is. The chain any version knows is a key of
-- its own, "chain_id", beside the root (json cannot overwrite the root's key).
-- And a chain's members are found by the chain index alone (0008's version let
-- the planner, without statistics after a bulk load, AND it with the whole
-- chat's index for every chained message). 0008's function stays for callers
-- of older versions.
CREATE OR REPLACE FUNCTION superbrain_work_contexts_json(p_chat_ids bigint[], p_message_ids bigint[])
RETURNS json
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
SET jit = off
AS $$
    SELECT coalesce(json_agg(ctx ORDER BY k.ord), '[]'::json)
    FROM unnest(p_chat_ids, p_message_ids) WITH ORDINALITY AS k(chat_id, message_id, ord)
    CROSS JOIN LATERAL (
        SELECT r.* FROM raw_messages r
        WHERE r.chat_id = k.chat_id AND r.message_id = k.message_id
        ORDER BY r.version DESC LIMIT 1
    ) root
    CROSS JOIN LATERAL (
        SELECT coalesce(root.chain_id,
            (SELECT x.chain_id FROM raw_messages x
             WHERE x.chat_id = root.chat_id AND x.message_id = root.message_id
               AND x.chain_id IS NOT NULL
             ORDER BY x.version LIMIT 1)) AS chain_id
    ) ch
    CROSS JOIN LATERAL (
        -- OFFSET 0 keeps the chain index the only way in: combined with the
        -- (chat_id, ...) index (as the planner does without statistics, after a
        -- bulk load) it reads the whole chat's index for every chained message.
        SELECT coalesce(array_agg(DISTINCT y.message_id), ARRAY[]::bigint[]) AS ids
        FROM (SELECT x.chat_id, x.message_id FROM raw_messages x
              WHERE ch.chain_id IS NOT NULL AND x.chain_id = ch.chain_id OFFSET 0) y
        WHERE y.chat_id = root.chat_id AND y.message_id <> root.message_id
    ) mem
    CROSS JOIN LATERAL (
        SELECT json_build_object(
            'root', to_json(root),
            -- the chain any version knows (the root's own column may be empty)
            'chain_id', ch.chain_id,
            'members', coalesce((
                SELECT json_agg(to_json(m) ORDER BY m.message_date, m.message_id)
                FROM (SELECT DISTINCT ON (x.message_id) x.* FROM raw_messages x
                      WHERE x.chat_id = root.chat_id AND x.message_id = ANY (mem.ids)
                      ORDER BY x.message_id, x.version DESC) m), '[]'::json),
            'bot_messages', coalesce((
                SELECT json_agg(to_json(b) ORDER BY b.id) FROM bot_responses b
                WHERE ch.chain_id IS NOT NULL AND b.chain_id = ch.chain_id), '[]'::json),
            'files', coalesce((
                SELECT json_agg(to_json(f) ORDER BY f.id) FROM raw_files f
                WHERE f.chat_id = root.chat_id AND f.message_id = root.message_id), '[]'::json),
            'placement', (
                SELECT to_json(l) FROM routing_log l
                WHERE l.chat_id = root.chat_id AND l.message_id = root.message_id
                  AND l.superseded_at IS NULL),
            'input_version', (
                SELECT max(z.id) FROM raw_messages z
                WHERE z.chat_id = root.chat_id
                  AND (z.message_id = root.message_id OR z.message_id = ANY (mem.ids)))
        ) AS ctx
    ) c;
$$;

-- The heartbeat (0009's contract): renew the worker's claims for p_lease_seconds
-- from the server's now and mark its run alive. Rows locked by a placement in
-- flight are skipped: it settles them (or, rolled back, the next beat renews them).
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
    ), held AS (
        SELECT m.id FROM raw_messages m
        WHERE m.claimed_by = p_worker AND NOT m.is_processed
        FOR UPDATE SKIP LOCKED
    ), extended AS (
        UPDATE raw_messages m
        SET claim_expires_at = now() + make_interval(secs => greatest(p_lease_seconds, 1))
        FROM held WHERE m.id = held.id
        RETURNING 1)
    -- (a data-modifying WITH runs in full whether or not it is read)
    SELECT count(*)::integer FROM extended;
$$;

SELECT superbrain_lock_down_functions();
