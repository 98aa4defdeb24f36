-- 0002: the SQL functions that make capture's multi-row writes atomic.
--
-- Python normalizes each update (text cleaned, content hash computed, raw JSON
-- made storable, initial file status decided) and sends a batch as one jsonb
-- array; a function does every write of the batch in one statement, so in one
-- transaction, in order. The Postgres backend calls them over psycopg and the
-- Supabase backend will call the same functions through PostgREST's rpc, which
-- is why they take jsonb and scalars only.
--
-- Concurrency: several writers (bot replicas, an import next to the bot) may
-- capture at once. Nothing here reads-then-writes without a guard: every insert
-- that could race has a unique index and ON CONFLICT DO NOTHING, which waits for
-- the competing transaction and then lets the loser re-read what the winner
-- stored; a chain's reply list is changed by a single UPDATE, which locks the
-- chain row and re-reads its latest version. Deadlocks between overlapping
-- batches are detected by the server and retried by the caller (every write is
-- idempotent).
--
-- Every function is SECURITY INVOKER (it runs with the caller's rights, so RLS
-- and privileges apply) and pins search_path. Idempotent: CREATE OR REPLACE.

SET search_path = public, pg_temp;

-- The chain a message belongs to: as a stored member, as a root, or as a bot
-- message linked to one. NULL when it is in none.
CREATE OR REPLACE FUNCTION superbrain_chain_id_of(p_chat_id bigint, p_message_id bigint)
RETURNS uuid
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(
        (SELECT m.chain_id FROM raw_messages m
         WHERE m.chat_id = p_chat_id AND m.message_id = p_message_id
           AND m.chain_id IS NOT NULL
         ORDER BY m.version LIMIT 1),
        (SELECT c.chain_id FROM message_chains c
         WHERE c.chat_id = p_chat_id AND c.original_message_id = p_message_id
           AND c.duplicate_of IS NULL),
        (SELECT b.chain_id FROM bot_responses b
         WHERE b.chat_id = p_chat_id AND b.message_id = p_message_id
           AND b.chain_id IS NOT NULL
         ORDER BY b.id LIMIT 1));
$$;

-- The chain a reply to p_target joins, creating it when p_target starts one.
--
-- Resolution order: the replied message's own chain (a reply to a reply); a bot
-- message resolves through bot_responses.related_user_message_id to the user
-- message the bot was answering; otherwise the replied message becomes the root,
-- with its stored text, else the bot's text, else the reply's quote of it.
CREATE OR REPLACE FUNCTION superbrain_resolve_chain(
    p_chat_id bigint, p_target bigint, p_reply_to_text text)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_chain      uuid := superbrain_chain_id_of(p_chat_id, p_target);
    v_bot        record;
    v_root       bigint := p_target;
    v_root_text  text := p_reply_to_text;
    v_root_user  bigint;
    v_stored     record;
BEGIN
    IF v_chain IS NOT NULL THEN
        RETURN v_chain;
    END IF;
    SELECT b.id, b.related_user_message_id, b.response_text INTO v_bot
    FROM bot_responses b
    WHERE b.chat_id = p_chat_id AND b.message_id = p_target
    ORDER BY b.related_user_message_id IS NULL, b.id
    LIMIT 1;
    IF FOUND AND v_bot.related_user_message_id IS NOT NULL THEN
        v_root := v_bot.related_user_message_id;
        v_chain := superbrain_chain_id_of(p_chat_id, v_root);
        IF v_chain IS NOT NULL THEN
            UPDATE bot_responses SET chain_id = v_chain WHERE id = v_bot.id;
            RETURN v_chain;
        END IF;
        v_root_text := NULL;
    ELSIF FOUND THEN
        v_root_text := v_bot.response_text;
    END IF;

    SELECT m.user_id, m.message_text INTO v_stored
    FROM raw_messages m
    WHERE m.chat_id = p_chat_id AND m.message_id = v_root
    ORDER BY m.version DESC
    LIMIT 1;
    IF FOUND THEN
        v_root_user := v_stored.user_id;
        v_root_text := v_stored.message_text;
    END IF;

    INSERT INTO message_chains AS c
        (chain_id, user_id, original_message_id, original_text, replies, created_at,
         updated_at, chat_id)
    VALUES (gen_random_uuid(), v_root_user, v_root, v_root_text, '[]', now(), now(), p_chat_id)
    ON CONFLICT (chat_id, original_message_id) WHERE duplicate_of IS NULL DO NOTHING
    RETURNING c.chain_id INTO v_chain;
    IF v_chain IS NULL THEN
        -- Another writer created this root's chain and has committed: join it.
        SELECT c.chain_id INTO v_chain FROM message_chains c
        WHERE c.chat_id = p_chat_id AND c.original_message_id = v_root
          AND c.duplicate_of IS NULL;
    END IF;
    UPDATE raw_messages SET chain_id = v_chain
    WHERE chat_id = p_chat_id AND message_id = v_root AND chain_id IS DISTINCT FROM v_chain;
    UPDATE bot_responses SET chain_id = v_chain
    WHERE chat_id = p_chat_id AND message_id = p_target AND chain_id IS DISTINCT FROM v_chain;
    UPDATE bot_responses SET chain_id = v_chain
    WHERE chat_id = p_chat_id AND related_user_message_id = v_root
      AND chain_id IS DISTINCT FROM v_chain;
    RETURN v_chain;
END
$$;

-- Capture a batch of updates, in order, atomically; returns one result per item
-- (a jsonb array in the items' order).
--
-- Item: {bot_id, update_id, update_type, source, payload, message}; message is
-- null for updates that carry none, else {chat_id, message_id, user_id,
-- message_text, message_type, reply_to_message_id, reply_to_text,
-- is_clarification, message_date, edit_date, media_group_id, message_thread_id,
-- sender_is_bot, entities, forward_origin, content_hash, is_edit, files: [{file_type, file_id, file_unique_id, file_key, file_name, mime_type,
-- file_size, raw_metadata, status, download_reason}]}. Timestamps are ISO 8601
-- text with an offset. The message's raw JSON is payload -> update_type (sent
-- once, stored in both tables); a chain reply entry is built from the message's
-- fields, its date being message_date exactly as sent.
--
-- Result: {outcome: new|edit|duplicate, raw_message_id, version, chain_id,
-- file_row_ids}.
CREATE OR REPLACE FUNCTION superbrain_capture_many(p_items jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_item      jsonb;
    v_msg       jsonb;
    v_file      jsonb;
    v_results   jsonb[] := '{}';
    v_now       timestamptz := now();
    v_update_id bigint;
    v_type      text;
    v_chat      bigint;
    v_message   bigint;
    v_edit      timestamptz;
    v_hash      text;
    v_version   integer;
    v_chain     uuid;
    v_row_id    bigint;
    v_file_id   bigint;
    v_file_ids  bigint[];
    v_dup       record;
    v_attempt   integer;
    v_entry     jsonb;
BEGIN
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'superbrain_capture_many: p_items must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_item IN
        SELECT t.item FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, n)
        ORDER BY t.n
    LOOP
        v_update_id := (v_item ->> 'update_id')::bigint;
        v_type := v_item ->> 'update_type';
        INSERT INTO raw_updates (bot_id, update_id, update_type, payload, received_at, source)
        VALUES (coalesce((v_item ->> 'bot_id')::bigint, 0), v_update_id, v_type,
                v_item -> 'payload', v_now, coalesce(v_item ->> 'source', 'bot'))
        ON CONFLICT (bot_id, update_id) DO NOTHING;
        IF NOT FOUND THEN
            v_results := array_append(v_results, '{"outcome": "duplicate"}'::jsonb);
            CONTINUE;
        END IF;
        v_msg := v_item -> 'message';
        IF v_msg IS NULL OR jsonb_typeof(v_msg) <> 'object' THEN
            v_results := array_append(v_results, '{"outcome": "new"}'::jsonb);
            CONTINUE;
        END IF;

        v_chat := (v_msg ->> 'chat_id')::bigint;
        v_message := (v_msg ->> 'message_id')::bigint;
        v_edit := (v_msg ->> 'edit_date')::timestamptz;
        v_hash := coalesce(v_msg ->> 'content_hash', '');
        v_row_id := NULL;
        v_attempt := 0;
        LOOP
            v_attempt := v_attempt + 1;
            IF v_attempt > 50 THEN
                RAISE EXCEPTION 'superbrain_capture_many: message (%, %) kept conflicting',
                    v_chat, v_message USING ERRCODE = 'serialization_failure';
            END IF;
            -- A new update carrying a version we already hold (the same edit
            -- captured by two routes): the raw update is kept, nothing else.
            SELECT m.id, m.version, m.chain_id INTO v_dup
            FROM raw_messages m
            WHERE m.chat_id = v_chat AND m.message_id = v_message
              AND coalesce(m.edit_date, '-infinity'::timestamptz)
                  = coalesce(v_edit, '-infinity'::timestamptz)
              AND m.content_hash = v_hash
            LIMIT 1;
            EXIT WHEN FOUND;

            SELECT coalesce(max(m.version), 0) + 1,
                   (array_agg(m.chain_id ORDER BY m.version)
                        FILTER (WHERE m.chain_id IS NOT NULL))[1]
            INTO v_version, v_chain
            FROM raw_messages m
            WHERE m.chat_id = v_chat AND m.message_id = v_message;
            IF v_chain IS NULL AND (v_msg ->> 'is_clarification')::boolean
               AND v_msg ->> 'reply_to_message_id' IS NOT NULL THEN
                v_chain := superbrain_resolve_chain(
                    v_chat, (v_msg ->> 'reply_to_message_id')::bigint, v_msg ->> 'reply_to_text');
            END IF;
            IF v_chain IS NULL THEN
                -- A reply to this message arrived first (a replay, an import).
                SELECT c.chain_id INTO v_chain FROM message_chains c
                WHERE c.chat_id = v_chat AND c.original_message_id = v_message
                  AND c.duplicate_of IS NULL;
            END IF;

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
                    coalesce((v_item ->> 'bot_id')::bigint, 0), v_type,
                    coalesce(v_item ->> 'source', 'bot'), v_hash)
            ON CONFLICT DO NOTHING
            RETURNING m.id INTO v_row_id;
            EXIT WHEN v_row_id IS NOT NULL;
            -- Another writer stored a version of this message first (and has
            -- committed, ON CONFLICT waited for it): look again.
        END LOOP;

        IF v_row_id IS NULL THEN
            v_results := array_append(v_results, jsonb_build_object(
                'outcome', 'duplicate', 'raw_message_id', v_dup.id,
                'version', v_dup.version, 'chain_id', v_dup.chain_id));
            CONTINUE;
        END IF;

        IF v_chain IS NOT NULL THEN
            -- The root's newest text, or the reply's entry (an edited reply
            -- keeps its place in the list and shows its newest text).
            v_entry := jsonb_build_object(
                'message_id', v_message, 'text', v_msg -> 'message_text',
                'date', v_msg -> 'message_date', 'user_id', v_msg -> 'user_id',
                'reply_to_message_id', v_msg -> 'reply_to_message_id',
                'reply_to_text', v_msg -> 'reply_to_text');
            UPDATE message_chains AS c SET
                original_text = CASE WHEN c.original_message_id = v_message
                                     THEN v_msg ->> 'message_text' ELSE c.original_text END,
                user_id = CASE WHEN c.original_message_id = v_message
                               THEN coalesce(c.user_id, (v_msg ->> 'user_id')::bigint)
                               ELSE c.user_id END,
                replies = CASE
                    WHEN c.original_message_id = v_message THEN c.replies
                    WHEN coalesce(c.replies, '[]'::jsonb)
                         @> jsonb_build_array(jsonb_build_object('message_id', v_message)) THEN
                        (SELECT jsonb_agg(CASE WHEN r.e -> 'message_id' = to_jsonb(v_message)
                                               THEN v_entry ELSE r.e END ORDER BY r.n)
                         FROM jsonb_array_elements(c.replies) WITH ORDINALITY AS r(e, n))
                    ELSE coalesce(c.replies, '[]'::jsonb) || jsonb_build_array(v_entry)
                END,
                updated_at = v_now
            WHERE c.chain_id = v_chain;
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

        v_results := array_append(v_results, jsonb_build_object(
            'outcome', CASE WHEN coalesce((v_msg ->> 'is_edit')::boolean, false) OR v_version > 1
                            THEN 'edit' ELSE 'new' END,
            'raw_message_id', v_row_id, 'version', v_version, 'chain_id', v_chain,
            'file_row_ids', to_jsonb(v_file_ids)));
    END LOOP;
    RETURN to_jsonb(v_results);
END
$$;

-- Record what the bot sent (or failed to send), in order, atomically; returns
-- the stored rows (a jsonb array of row objects in the items' order).
--
-- Item: {chat_id, message_id, user_id, response_text, response_type,
-- related_user_message_id, ai_analysis, method, request, result, error,
-- created_at, is_edit, idempotency_key}. A response answering a message in a
-- chain is linked to that chain. The unique indexes (idempotency key; one
-- original send per message) make a repeated record a no-op that returns the
-- existing row.
CREATE OR REPLACE FUNCTION superbrain_record_bot_responses(p_items jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_item     jsonb;
    v_out      jsonb[] := '{}';
    v_chat     bigint;
    v_mid      bigint;
    v_related  bigint;
    v_key      text;
    v_is_edit  boolean;
    v_chain    uuid;
    v_row      bot_responses;
BEGIN
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'superbrain_record_bot_responses: p_items must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_item IN
        SELECT t.item FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, n)
        ORDER BY t.n
    LOOP
        v_chat := (v_item ->> 'chat_id')::bigint;
        v_mid := (v_item ->> 'message_id')::bigint;
        v_related := (v_item ->> 'related_user_message_id')::bigint;
        v_key := v_item ->> 'idempotency_key';
        v_is_edit := coalesce((v_item ->> 'is_edit')::boolean, false);
        v_chain := NULL;
        IF v_related IS NOT NULL THEN
            v_chain := superbrain_chain_id_of(v_chat, v_related);
        END IF;
        IF v_chain IS NULL AND v_mid IS NOT NULL AND v_is_edit THEN
            v_chain := superbrain_chain_id_of(v_chat, v_mid);
        END IF;
        v_row := NULL;
        INSERT INTO bot_responses AS b
            (user_id, message_id, response_text, response_type, related_user_message_id,
             ai_analysis, chain_id, created_at, chat_id, method, request, result, error, is_edit,
             idempotency_key)
        VALUES ((v_item ->> 'user_id')::bigint, v_mid, v_item ->> 'response_text',
                coalesce(v_item ->> 'response_type', 'text'), v_related,
                nullif(v_item -> 'ai_analysis', 'null'::jsonb), v_chain,
                coalesce((v_item ->> 'created_at')::timestamptz, now()), v_chat,
                v_item ->> 'method', nullif(v_item -> 'request', 'null'::jsonb),
                nullif(v_item -> 'result', 'null'::jsonb), v_item ->> 'error', v_is_edit, v_key)
        ON CONFLICT DO NOTHING
        RETURNING b.* INTO v_row;
        IF v_row.id IS NULL AND v_key IS NOT NULL THEN
            SELECT b.* INTO v_row FROM bot_responses b WHERE b.idempotency_key = v_key;
        END IF;
        IF v_row.id IS NULL AND v_mid IS NOT NULL THEN
            SELECT b.* INTO v_row FROM bot_responses b
            WHERE b.chat_id = v_chat AND b.message_id = v_mid AND NOT b.is_edit;
        END IF;
        IF v_row.id IS NULL THEN
            RAISE EXCEPTION 'superbrain_record_bot_responses: response conflicted with a row'
                ' that is not there' USING ERRCODE = 'serialization_failure';
        END IF;
        v_out := array_append(v_out, to_jsonb(v_row));
    END LOOP;
    RETURN to_jsonb(v_out);
END
$$;

-- Record where a file's bytes stand. A hash or path given replaces the stored
-- one; NULL keeps it. Raises no_data_found for an unknown row.
CREATE OR REPLACE FUNCTION superbrain_set_file_status(
    p_file_row_id bigint, p_status text, p_file_hash text DEFAULT NULL,
    p_file_path text DEFAULT NULL, p_reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF p_status IS NULL
       OR p_status NOT IN ('pending', 'stored', 'too_large', 'failed', 'missing') THEN
        RAISE EXCEPTION 'superbrain_set_file_status: unknown file status %', p_status
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE raw_files
    SET status = p_status,
        file_hash = coalesce(p_file_hash, file_hash),
        file_path = coalesce(p_file_path, file_path),
        download_reason = p_reason
    WHERE id = p_file_row_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no raw_files row with id %', p_file_row_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- == lock-down ================================================================
--
-- Functions are executable by PUBLIC by default (and Supabase's default
-- privileges add anon and authenticated): only service_role, when it exists,
-- may call them. The owner always can.
CREATE OR REPLACE FUNCTION superbrain_lock_down_functions()
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    fn regprocedure;
    api_role text;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'superbrain\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role) THEN
                EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %I', fn, api_role);
            END IF;
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO service_role', fn);
        END IF;
    END LOOP;
END
$$;

SELECT superbrain_lock_down_functions();
