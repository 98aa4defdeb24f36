-- 0010: bulk capture at set speed (issue 17).
--
-- Profiled on the bench's 20,000-update mix (track_functions, auto_explain; see
-- docs/storage.md): the time went to the per-row search trigger and to the
-- per-item loop of superbrain_capture_many.
--
-- * superbrain_capture_many stores the plainly new items of a batch of 16 or
--   more with one set-based statement per table (superbrain_capture_new below
--   says which those are and why the rows are the per-item ones) and the rest,
--   in batch order, with 0008's per-item steps, now superbrain_capture_one.
-- * That statement indexes its own rows for search; the row triggers let them
--   pass (a WHEN clause on the transaction-local superbrain.search_by_capture).
-- * SQL functions pin their search_path, so they are never inlined; called
--   inside a statement that runs once per row (the search triggers' INSERT,
--   superbrain_chain_note's UPDATE) they were parsed and planned again on every
--   call: about 120 us of the 150 us a row's search entry cost, 120 us of a
--   chain note. Called as plain PL/pgSQL expressions they are planned once per
--   transaction. Same rows, same terms.
--
-- Names and argument contracts are unchanged (the Supabase store calls the same
-- functions through rpc). Additive and idempotent (CREATE OR REPLACE);
-- SECURITY INVOKER, search_path pinned.

SET search_path = public, pg_temp;

-- == search triggers: the vector as a simple expression ==========================

CREATE OR REPLACE FUNCTION superbrain_search_on_message_insert()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_body tsvector := superbrain_search_vector(NEW.message_text);
BEGIN
    INSERT INTO message_search AS s (chat_id, message_id, raw_message_id, version, body_tsv)
    VALUES (NEW.chat_id, NEW.message_id, NEW.id, NEW.version, v_body)
    ON CONFLICT (chat_id, message_id) DO UPDATE
    SET raw_message_id = EXCLUDED.raw_message_id,
        version = EXCLUDED.version,
        body_tsv = EXCLUDED.body_tsv,
        bot_response_id = NULL
    WHERE s.raw_message_id IS NULL OR s.version <= EXCLUDED.version;
    RETURN NULL;
END
$$;

-- A statement that indexes its own rows set-based (superbrain_capture_new) says so
-- with the transaction-local setting superbrain.search_by_capture; a WHEN clause,
-- checked as each row is inserted, so those rows cost no trigger call (messages
-- here, files below).
CREATE OR REPLACE TRIGGER superbrain_search_message_insert
    AFTER INSERT ON raw_messages
    FOR EACH ROW
    WHEN (current_setting('superbrain.search_by_capture', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION superbrain_search_on_message_insert();

CREATE OR REPLACE TRIGGER superbrain_search_file_insert
    AFTER INSERT ON raw_files
    FOR EACH ROW
    WHEN (NEW.file_name IS NOT NULL
          AND current_setting('superbrain.search_by_capture', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION superbrain_search_on_file_insert();

CREATE OR REPLACE FUNCTION superbrain_search_on_file_insert()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_names tsvector := superbrain_search_vector(NEW.file_name);
BEGIN
    INSERT INTO message_search AS s (chat_id, message_id, files_tsv)
    VALUES (NEW.chat_id, NEW.message_id, v_names)
    ON CONFLICT (chat_id, message_id) DO UPDATE
    SET files_tsv = s.files_tsv || EXCLUDED.files_tsv;
    RETURN NULL;
END
$$;


-- == a chain's note, its plans kept ==============================================

-- 0008's superbrain_chain_note, the same writes: the root's text, or the reply's
-- entry in Telegram's order among the others. superbrain_sorted_replies (a SQL
-- function, never inlined) is called as a plain expression rather than inside
-- the UPDATE, where it was parsed and planned again on every call; the row is
-- read under FOR UPDATE, so the read-modify-write stays one step.
CREATE OR REPLACE FUNCTION superbrain_chain_note(
    p_chain uuid, p_message bigint, p_msg jsonb, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_entry   jsonb := jsonb_build_object(
        'message_id', p_message, 'text', p_msg -> 'message_text',
        'date', p_msg -> 'message_date', 'user_id', p_msg -> 'user_id',
        'reply_to_message_id', p_msg -> 'reply_to_message_id',
        'reply_to_text', p_msg -> 'reply_to_text');
    v_root    bigint;
    v_replies jsonb;
    v_others  jsonb;
BEGIN
    SELECT c.original_message_id, c.replies INTO v_root, v_replies
    FROM message_chains c WHERE c.chain_id = p_chain
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_root = p_message THEN
        UPDATE message_chains AS c SET
            original_text = p_msg ->> 'message_text',
            user_id = coalesce(c.user_id, (p_msg ->> 'user_id')::bigint),
            updated_at = p_now
        WHERE c.chain_id = p_chain;
        RETURN;
    END IF;
    SELECT coalesce(jsonb_agg(r.e), '[]'::jsonb) INTO v_others
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v_replies) = 'array' THEN v_replies
                                   ELSE '[]'::jsonb END) AS r(e)
    WHERE r.e -> 'message_id' IS DISTINCT FROM to_jsonb(p_message);
    v_replies := superbrain_sorted_replies(v_others || jsonb_build_array(v_entry));
    UPDATE message_chains SET replies = v_replies, updated_at = p_now
    WHERE chain_id = p_chain;
END
$$;

-- == one item, as 0008 did it ===================================================

-- One capture item (0002's shape) with 0008's steps, unchanged: the raw update
-- (or the duplicate or conflict it is), the business chat key, the message lock,
-- the version by Telegram's clock, the chain, the raw message, the chain note and
-- the files. Returns the item's result (0002's shape).
CREATE OR REPLACE FUNCTION superbrain_capture_one(p_item jsonb, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_item      jsonb := p_item;
    v_now       timestamptz := p_now;
    v_msg       jsonb;
    v_file      jsonb;
    v_bot       bigint;
    v_update_id bigint;
    v_type      text;
    v_stored    jsonb;
    v_chat      bigint;
    v_message   bigint;
    v_edit      timestamptz;
    v_hash      text;
    v_version   integer;
    v_count     integer;
    v_known     uuid;
    v_chain     uuid;
    v_row_id    bigint;
    v_file_id   bigint;
    v_file_ids  bigint[];
    v_dup       record;
BEGIN
    v_bot := coalesce((v_item ->> 'bot_id')::bigint, 0);
    v_update_id := (v_item ->> 'update_id')::bigint;
    v_type := v_item ->> 'update_type';
    INSERT INTO raw_updates (bot_id, update_id, update_type, payload, received_at, source)
    VALUES (v_bot, v_update_id, v_type, v_item -> 'payload', v_now,
            coalesce(v_item ->> 'source', 'bot'))
    ON CONFLICT (bot_id, update_id) DO NOTHING;
    IF NOT FOUND THEN
        SELECT u.payload INTO v_stored FROM raw_updates u
        WHERE u.bot_id = v_bot AND u.update_id = v_update_id;
        IF v_stored IS DISTINCT FROM v_item -> 'payload' THEN
            INSERT INTO update_conflicts
                (bot_id, update_id, update_type, stored_payload, payload, payload_hash,
                 received_at, source)
            VALUES (v_bot, v_update_id, v_type, v_stored, v_item -> 'payload',
                    md5((v_item -> 'payload')::text), v_now,
                    coalesce(v_item ->> 'source', 'bot'))
            ON CONFLICT (bot_id, update_id, payload_hash) DO NOTHING;
            IF FOUND THEN
                RETURN '{"outcome": "conflict"}'::jsonb;
            END IF;
        END IF;
        RETURN '{"outcome": "duplicate"}'::jsonb;
    END IF;
    v_msg := v_item -> 'message';
    IF v_msg IS NULL OR jsonb_typeof(v_msg) <> 'object' THEN
        RETURN '{"outcome": "new"}'::jsonb;
    END IF;

    v_chat := (v_msg ->> 'chat_id')::bigint;
    IF v_msg ->> 'business_connection_id' IS NOT NULL THEN
        v_chat := superbrain_business_chat(v_msg ->> 'business_connection_id', v_chat);
    END IF;
    v_message := (v_msg ->> 'message_id')::bigint;
    v_edit := (v_msg ->> 'edit_date')::timestamptz;
    v_hash := coalesce(v_msg ->> 'content_hash', '');
    PERFORM pg_advisory_xact_lock(
        hashtextextended(format('superbrain:message:%s:%s', v_chat, v_message), 0));

    -- A new update carrying a version we already hold (the same edit
    -- captured by two routes): the raw update is kept, nothing else.
    SELECT m.id, m.version, m.chain_id INTO v_dup
    FROM raw_messages m
    WHERE m.chat_id = v_chat AND m.message_id = v_message
      AND coalesce(m.edit_date, '-infinity'::timestamptz)
          = coalesce(v_edit, '-infinity'::timestamptz)
      AND m.content_hash = v_hash
    LIMIT 1;
    IF FOUND THEN
        RETURN jsonb_build_object(
            'outcome', 'duplicate', 'raw_message_id', v_dup.id,
            'version', v_dup.version, 'chain_id', v_dup.chain_id);
    END IF;

    -- Telegram's clock orders the versions: after the original and every edit
    -- made at or before this one.
    SELECT count(*) FILTER (WHERE m.edit_date IS NULL OR m.edit_date <= v_edit) + 1,
           count(*),
           (array_agg(m.chain_id ORDER BY m.version)
                FILTER (WHERE m.chain_id IS NOT NULL))[1]
    INTO v_version, v_count, v_known
    FROM raw_messages m
    WHERE m.chat_id = v_chat AND m.message_id = v_message;
    IF v_version <= v_count THEN
        -- Through negative numbers: the unique key holds after every row.
        UPDATE raw_messages SET version = -(version + 1)
        WHERE chat_id = v_chat AND message_id = v_message AND version >= v_version;
        UPDATE raw_messages SET version = -version
        WHERE chat_id = v_chat AND message_id = v_message AND version < 0;
    END IF;
    v_chain := superbrain_join_chain(v_chat, v_message, v_msg, v_known, v_now);

    v_row_id := NULL;
    INSERT INTO raw_messages AS m
        (user_id, message_id, message_text, message_type, reply_to_message_id,
         reply_to_text, is_clarification, raw_telegram_json, created_at, chat_id,
         version, message_date, edit_date, media_group_id, message_thread_id, chain_id,
         sender_is_bot, entities, forward_origin, update_id, bot_id, update_type, source,
         content_hash)
    VALUES ((v_msg ->> 'user_id')::bigint, v_message, v_msg ->> 'message_text',
            v_msg ->> 'message_type', (v_msg ->> 'reply_to_message_id')::bigint,
            v_msg ->> 'reply_to_text',
            coalesce((v_msg ->> 'is_clarification')::boolean, false),
            v_item -> 'payload' -> v_type, v_now, v_chat, v_version,
            (v_msg ->> 'message_date')::timestamptz, v_edit,
            v_msg ->> 'media_group_id', (v_msg ->> 'message_thread_id')::bigint,
            v_chain, coalesce((v_msg ->> 'sender_is_bot')::boolean, false),
            coalesce(v_msg -> 'entities', '[]'::jsonb),
            nullif(v_msg -> 'forward_origin', 'null'::jsonb), v_update_id,
            v_bot, v_type, coalesce(v_item ->> 'source', 'bot'), v_hash)
    ON CONFLICT DO NOTHING
    RETURNING m.id INTO v_row_id;
    IF v_row_id IS NULL THEN
        -- Only a writer that does not take the message lock (an older version of
        -- this function) can get here: let the caller retry the batch.
        RAISE EXCEPTION 'superbrain_capture_many: message (%, %) changed meanwhile',
            v_chat, v_message USING ERRCODE = 'serialization_failure';
    END IF;

    IF v_chain IS NOT NULL AND v_version > v_count THEN
        PERFORM superbrain_chain_note(v_chain, v_message, v_msg, v_now);
    END IF;

    v_file_ids := '{}';
    FOR v_file IN
        SELECT t.f FROM jsonb_array_elements(coalesce(v_msg -> 'files', '[]'::jsonb))
            WITH ORDINALITY AS t(f, n)
        ORDER BY t.n
    LOOP
        INSERT INTO raw_files AS f
            (user_id, message_id, file_type, file_name, file_size, raw_metadata,
             uploaded_at, chat_id, file_id, file_unique_id, file_key, mime_type, status,
             download_reason)
        VALUES ((v_msg ->> 'user_id')::bigint, v_message, v_file ->> 'file_type',
                v_file ->> 'file_name', (v_file ->> 'file_size')::bigint,
                coalesce(v_file -> 'raw_metadata', '{}'::jsonb), v_now, v_chat,
                v_file ->> 'file_id', v_file ->> 'file_unique_id', v_file ->> 'file_key',
                v_file ->> 'mime_type', coalesce(v_file ->> 'status', 'pending'),
                v_file ->> 'download_reason')
        ON CONFLICT (chat_id, message_id, file_key) DO NOTHING
        RETURNING f.id INTO v_file_id;
        IF FOUND THEN
            v_file_ids := array_append(v_file_ids, v_file_id);
        END IF;
    END LOOP;

    RETURN jsonb_build_object(
        'outcome', CASE WHEN coalesce((v_msg ->> 'is_edit')::boolean, false) OR v_count > 0
                        THEN 'edit' ELSE 'new' END,
        'raw_message_id', v_row_id, 'version', v_version, 'chain_id', v_chain,
        'file_row_ids', to_jsonb(v_file_ids));
END
$$;

-- == the plainly new items, set-based ===========================================

-- The items of p_items (0002's shape) that are plainly new, stored with one
-- statement per table; returns (n, result) for each one stored, n being its
-- place in p_items (from 1). An item is plainly new when
--
--   * its update_id occurs first in the batch and is not stored, and, when it
--     carries a message,
--   * the message's key occurs first in the batch and has no stored version and
--     no chain rooted at it, the message is no business message (its key needs
--     superbrain_business_chat) and no clarification (its chain needs
--     superbrain_resolve_chain), and no clarification earlier in the batch
--     replies to it, directly or through a bot message answering it (which would
--     root a chain at it first).
--
-- Such an item is, in the per-item order, version 1 of a new message outside any
-- chain, with its files: what it writes touches no key another item reads
-- before it, and nothing an earlier item writes changes it. So storing these
-- first and the others afterwards, each in batch order, gives the same rows as
-- storing all in batch order; only the order of the generated row ids differs.
-- The messages are locked first (in batch order), as the per-item steps do,
-- and what the database holds is read under those locks. An update stored
-- meanwhile by another writer is left out here: the per-item steps report it.
--
-- A message whose insert finds its key taken can only have been written by a
-- writer that does not take the message lock; as in the per-item steps the
-- batch then fails with serialization_failure (the caller retries it).
CREATE OR REPLACE FUNCTION superbrain_capture_new(p_items jsonb, p_now timestamptz)
RETURNS TABLE (n bigint, result jsonb)
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    v_candidates bigint[];
    v_new        bigint[];
BEGIN
    -- What the batch alone says (only the few fields it needs travel through the
    -- sorts, not the items).
    WITH item AS (
        SELECT t.n, coalesce((t.item ->> 'bot_id')::bigint, 0) AS bot,
               (t.item ->> 'update_id')::bigint AS update_id,
               coalesce(jsonb_typeof(t.item -> 'message') = 'object', false) AS has_msg,
               t.item -> 'message' AS msg
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, n)
    ), keyed AS (
        SELECT i.n, i.bot, i.update_id, i.has_msg,
               CASE WHEN i.has_msg THEN (i.msg ->> 'chat_id')::bigint END AS chat,
               CASE WHEN i.has_msg THEN (i.msg ->> 'message_id')::bigint END AS message,
               CASE WHEN i.has_msg THEN (i.msg ->> 'reply_to_message_id')::bigint END AS target,
               i.has_msg AND coalesce((i.msg ->> 'is_clarification')::boolean, false)
                   AND i.msg ->> 'reply_to_message_id' IS NOT NULL AS clarifies,
               i.has_msg AND i.msg ->> 'business_connection_id' IS NOT NULL AS in_business
        FROM item i
    ), ranked AS (
        SELECT k.*,
               row_number() OVER (PARTITION BY k.bot, k.update_id ORDER BY k.n) AS update_rank,
               row_number() OVER (PARTITION BY k.has_msg, k.chat, k.message ORDER BY k.n)
                   AS key_rank
        FROM keyed k
    ), targets AS (
        -- Where a clarification may root a chain: the message it replies to, or
        -- the user message a bot message it replies to answered.
        SELECT k.n, k.chat, k.target AS message FROM keyed k WHERE k.clarifies
        UNION ALL
        SELECT k.n, k.chat, b.related_user_message_id
        FROM keyed k
        JOIN bot_responses b ON b.chat_id = k.chat AND b.message_id = k.target
        WHERE k.clarifies AND b.related_user_message_id IS NOT NULL
    ), first_target AS (
        SELECT t.chat, t.message, min(t.n) AS n FROM targets t GROUP BY t.chat, t.message
    )
    SELECT coalesce(array_agg(r.n ORDER BY r.n), '{}') INTO v_candidates
    FROM ranked r
    LEFT JOIN first_target f ON r.has_msg AND f.chat = r.chat AND f.message = r.message
    WHERE r.update_rank = 1
      AND (NOT r.has_msg
           OR (r.key_rank = 1 AND NOT r.clarifies AND NOT r.in_business
               AND (f.n IS NULL OR f.n > r.n)));

    -- The messages' locks, then what the database holds.
    PERFORM pg_advisory_xact_lock(hashtextextended(
                format('superbrain:message:%s:%s', (t.item -> 'message' ->> 'chat_id')::bigint,
                       (t.item -> 'message' ->> 'message_id')::bigint), 0))
    FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, n)
    JOIN unnest(v_candidates) AS c(n) ON c.n = t.n
    WHERE jsonb_typeof(t.item -> 'message') = 'object'
    ORDER BY t.n;

    SELECT coalesce(array_agg(t.n ORDER BY t.n), '{}') INTO v_new
    FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, n)
    JOIN unnest(v_candidates) AS c(n) ON c.n = t.n
    WHERE NOT EXISTS (
            SELECT 1 FROM raw_updates u
            WHERE u.bot_id = coalesce((t.item ->> 'bot_id')::bigint, 0)
              AND u.update_id = (t.item ->> 'update_id')::bigint)
      AND (jsonb_typeof(t.item -> 'message') IS DISTINCT FROM 'object'
           OR (NOT EXISTS (
                   SELECT 1 FROM raw_messages m
                   WHERE m.chat_id = (t.item -> 'message' ->> 'chat_id')::bigint
                     AND m.message_id = (t.item -> 'message' ->> 'message_id')::bigint)
               AND NOT EXISTS (
                   SELECT 1 FROM message_chains ch
                   WHERE ch.chat_id = (t.item -> 'message' ->> 'chat_id')::bigint
                     AND ch.original_message_id = (t.item -> 'message' ->> 'message_id')::bigint
                     AND ch.duplicate_of IS NULL)));
    IF cardinality(v_new) = 0 THEN
        RETURN;
    END IF;

    PERFORM set_config('superbrain.search_by_capture', 'on', true);
    RETURN QUERY
    WITH item AS MATERIALIZED (
        SELECT t.n, t.item, t.item -> 'message' AS msg,
               coalesce((t.item ->> 'bot_id')::bigint, 0) AS bot,
               (t.item ->> 'update_id')::bigint AS update_id,
               jsonb_typeof(t.item -> 'message') = 'object' AS has_msg
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, n)
        JOIN unnest(v_new) AS c(n) ON c.n = t.n
    ), updates AS (
        INSERT INTO raw_updates AS u
            (bot_id, update_id, update_type, payload, received_at, source)
        SELECT i.bot, i.update_id, i.item ->> 'update_type', i.item -> 'payload', p_now,
               coalesce(i.item ->> 'source', 'bot')
        FROM item i ORDER BY i.n
        ON CONFLICT (bot_id, update_id) DO NOTHING
        RETURNING u.bot_id, u.update_id
    ), stored AS (
        SELECT i.* FROM item i
        JOIN updates u ON u.bot_id = i.bot AND u.update_id = i.update_id
    ), messages AS (
        INSERT INTO raw_messages AS m
            (user_id, message_id, message_text, message_type, reply_to_message_id,
             reply_to_text, is_clarification, raw_telegram_json, created_at, chat_id,
             version, message_date, edit_date, media_group_id, message_thread_id, chain_id,
             sender_is_bot, entities, forward_origin, update_id, bot_id, update_type, source,
             content_hash)
        SELECT (s.msg ->> 'user_id')::bigint, (s.msg ->> 'message_id')::bigint,
               s.msg ->> 'message_text', s.msg ->> 'message_type',
               (s.msg ->> 'reply_to_message_id')::bigint, s.msg ->> 'reply_to_text',
               coalesce((s.msg ->> 'is_clarification')::boolean, false),
               s.item -> 'payload' -> (s.item ->> 'update_type'), p_now,
               (s.msg ->> 'chat_id')::bigint, 1,
               (s.msg ->> 'message_date')::timestamptz, (s.msg ->> 'edit_date')::timestamptz,
               s.msg ->> 'media_group_id', (s.msg ->> 'message_thread_id')::bigint,
               NULL, coalesce((s.msg ->> 'sender_is_bot')::boolean, false),
               coalesce(s.msg -> 'entities', '[]'::jsonb),
               nullif(s.msg -> 'forward_origin', 'null'::jsonb), s.update_id,
               s.bot, s.item ->> 'update_type', coalesce(s.item ->> 'source', 'bot'),
               coalesce(s.msg ->> 'content_hash', '')
        FROM stored s WHERE s.has_msg ORDER BY s.n
        ON CONFLICT DO NOTHING
        RETURNING m.id, m.chat_id, m.message_id, m.message_text
    ), files AS (
        INSERT INTO raw_files AS f
            (user_id, message_id, file_type, file_name, file_size, raw_metadata,
             uploaded_at, chat_id, file_id, file_unique_id, file_key, mime_type, status,
             download_reason)
        SELECT (s.msg ->> 'user_id')::bigint, (s.msg ->> 'message_id')::bigint,
               x.file ->> 'file_type', x.file ->> 'file_name', (x.file ->> 'file_size')::bigint,
               coalesce(x.file -> 'raw_metadata', '{}'::jsonb), p_now,
               (s.msg ->> 'chat_id')::bigint, x.file ->> 'file_id',
               x.file ->> 'file_unique_id', x.file ->> 'file_key', x.file ->> 'mime_type',
               coalesce(x.file ->> 'status', 'pending'), x.file ->> 'download_reason'
        FROM stored s
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(s.msg -> 'files', '[]'::jsonb))
            WITH ORDINALITY AS x(file, k)
        WHERE s.has_msg
        ORDER BY s.n, x.k
        ON CONFLICT (chat_id, message_id, file_key) DO NOTHING
        RETURNING f.id, f.chat_id, f.message_id, f.file_name
    ), file_ids AS (
        SELECT f.chat_id, f.message_id, jsonb_agg(f.id ORDER BY f.id) AS ids,
               string_agg(f.file_name, ' ' ORDER BY f.id) AS names
        FROM files f GROUP BY f.chat_id, f.message_id
    ), searchable AS (
        -- What the search triggers do per row (they let this statement's rows
        -- pass: superbrain.search_by_capture): the message's terms, and its file
        -- names' appended (the terms of names joined by a space are the union of
        -- each name's terms).
        INSERT INTO message_search AS s
            (chat_id, message_id, raw_message_id, version, body_tsv, files_tsv)
        SELECT m.chat_id, m.message_id, m.id, 1, superbrain_search_vector(m.message_text),
               CASE WHEN fi.names IS NULL THEN ''::tsvector
                    ELSE superbrain_search_vector(fi.names) END
        FROM messages m
        LEFT JOIN file_ids fi ON fi.chat_id = m.chat_id AND fi.message_id = m.message_id
        ON CONFLICT (chat_id, message_id) DO UPDATE
        SET raw_message_id = CASE WHEN s.raw_message_id IS NULL OR s.version <= EXCLUDED.version
                                  THEN EXCLUDED.raw_message_id ELSE s.raw_message_id END,
            version = CASE WHEN s.raw_message_id IS NULL OR s.version <= EXCLUDED.version
                           THEN EXCLUDED.version ELSE s.version END,
            body_tsv = CASE WHEN s.raw_message_id IS NULL OR s.version <= EXCLUDED.version
                            THEN EXCLUDED.body_tsv ELSE s.body_tsv END,
            bot_response_id = CASE WHEN s.raw_message_id IS NULL
                                        OR s.version <= EXCLUDED.version
                                   THEN NULL ELSE s.bot_response_id END,
            files_tsv = s.files_tsv || EXCLUDED.files_tsv
    )
    SELECT s.n,
           CASE WHEN NOT s.has_msg THEN '{"outcome": "new"}'::jsonb
                WHEN m.id IS NULL THEN NULL
                ELSE jsonb_build_object(
                    'outcome', CASE WHEN coalesce((s.msg ->> 'is_edit')::boolean, false)
                                    THEN 'edit' ELSE 'new' END,
                    'raw_message_id', m.id, 'version', 1, 'chain_id', NULL,
                    'file_row_ids', coalesce(fi.ids, '[]'::jsonb))
           END
    FROM stored s
    LEFT JOIN messages m
      ON s.has_msg AND m.chat_id = (s.msg ->> 'chat_id')::bigint
     AND m.message_id = (s.msg ->> 'message_id')::bigint
    LEFT JOIN file_ids fi ON fi.chat_id = m.chat_id AND fi.message_id = m.message_id
    ORDER BY s.n;
    PERFORM set_config('superbrain.search_by_capture', 'off', true);
END
$$;

-- Capture a batch of updates, in order, atomically (0002's item and result
-- shapes, 0008's outcomes and rules): the plainly new items set-based, then every
-- other item with the per-item steps, in batch order.
CREATE OR REPLACE FUNCTION superbrain_capture_many(p_items jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_now     timestamptz := now();
    v_results jsonb[];
    v_done    record;
    v_item    record;
BEGIN
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'superbrain_capture_many: p_items must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_results := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(p_items)]);
    -- A few items (one capture, a small group commit of the bot) go the per-item
    -- way: the set-based statements are planned on each call (their sizes vary
    -- too much for one plan), which costs more than it saves below 16 items.
    IF cardinality(v_results) >= 16 THEN
        FOR v_done IN SELECT d.n, d.result FROM superbrain_capture_new(p_items, v_now) AS d
        LOOP
            IF v_done.result IS NULL THEN
                -- Only a writer that does not take the message lock (an older version
                -- of this function) can get here: let the caller retry the batch.
                RAISE EXCEPTION 'superbrain_capture_many: item % changed meanwhile', v_done.n
                    USING ERRCODE = 'serialization_failure';
            END IF;
            v_results[v_done.n] := v_done.result;
        END LOOP;
    END IF;
    FOR v_item IN
        SELECT t.n, t.item FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, n)
        ORDER BY t.n
    LOOP
        IF v_results[v_item.n] IS NULL THEN
            v_results[v_item.n] := superbrain_capture_one(v_item.item, v_now);
        END IF;
    END LOOP;
    RETURN to_jsonb(v_results);
END
$$;

SELECT superbrain_lock_down_functions();
