-- 0006: importing Telegram Desktop exports (`superbrain import-desktop`).
--
-- superbrain_import_messages, called by the Postgres store over psycopg and by
-- the Supabase store through PostgREST's rpc with the same jsonb; and
-- superbrain_stored_message_keys, the Supabase store's one-call key lookup.
-- No table changes: imported messages are ordinary raw_messages rows with
-- source = p_source ('desktop_export'), update_id NULL and no raw_updates row
-- (nobody delivered them; the verbatim export object is raw_telegram_json).
--
-- The rule that makes imports idempotent and safe next to live capture: a
-- message is added only when its (chat_id, message_id) has no stored version at
-- all. A re-import adds nothing, and a message the bot captured live keeps
-- exactly its versions (an export describes it in other words, so comparing
-- content would invent an edit). A new message is version 1, joins reply chains
-- through superbrain_resolve_chain like a captured one, and its files arrive
-- with their final status (stored with hash and path, or missing with a reason).
--
-- Concurrency: the existence check and the insert are not one step, so the
-- insert is ON CONFLICT DO NOTHING on the message's unique keys; losing that
-- race (the bot stored the key meanwhile) reports the message as present.
--
-- Idempotent (CREATE OR REPLACE) and additive; SECURITY INVOKER, search_path pinned.

SET search_path = public, pg_temp;

-- Item: {chat_id, message_id, user_id, message_text, message_type,
-- reply_to_message_id, reply_to_text, is_clarification, message_date, edit_date,
-- media_group_id, message_thread_id, sender_is_bot, entities, forward_origin,
-- content_hash, raw, files: [{file_type, file_id, file_unique_id, file_key,
-- file_name, mime_type, file_size, raw_metadata, status, download_reason,
-- file_hash, file_path}]}; timestamps are ISO 8601 text with an offset.
--
-- Result: a jsonb array in the items' order: the new raw_messages id, or null
-- when the key was already stored.
CREATE OR REPLACE FUNCTION superbrain_import_messages(
    p_items jsonb, p_source text DEFAULT 'desktop_export', p_bot_id bigint DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_item     jsonb;
    v_file     jsonb;
    v_out      jsonb[] := '{}';
    v_now      timestamptz := now();
    v_chat     bigint;
    v_message  bigint;
    v_chain    uuid;
    v_row_id   bigint;
    v_entry    jsonb;
BEGIN
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'superbrain_import_messages: p_items must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_item IN
        SELECT t.item FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, n)
        ORDER BY t.n
    LOOP
        v_chat := (v_item ->> 'chat_id')::bigint;
        v_message := (v_item ->> 'message_id')::bigint;
        IF EXISTS (SELECT 1 FROM raw_messages m
                   WHERE m.chat_id = v_chat AND m.message_id = v_message) THEN
            v_out := array_append(v_out, 'null'::jsonb);
            CONTINUE;
        END IF;

        v_chain := NULL;
        IF coalesce((v_item ->> 'is_clarification')::boolean, false)
           AND v_item ->> 'reply_to_message_id' IS NOT NULL THEN
            v_chain := superbrain_resolve_chain(
                v_chat, (v_item ->> 'reply_to_message_id')::bigint, v_item ->> 'reply_to_text');
        END IF;
        IF v_chain IS NULL THEN
            -- A reply to this message was stored first (captured live, or earlier
            -- in an import that skipped it): it is that chain's root.
            SELECT c.chain_id INTO v_chain FROM message_chains c
            WHERE c.chat_id = v_chat AND c.original_message_id = v_message
              AND c.duplicate_of IS NULL;
        END IF;

        v_row_id := NULL;
        INSERT INTO raw_messages AS m
            (user_id, message_id, message_text, message_type, reply_to_message_id,
             reply_to_text, is_clarification, raw_telegram_json, created_at, chat_id,
             version, message_date, edit_date, media_group_id, message_thread_id, chain_id,
             sender_is_bot, entities, forward_origin, update_id, bot_id, update_type, source,
             content_hash)
        VALUES ((v_item ->> 'user_id')::bigint, v_message, v_item ->> 'message_text',
                v_item ->> 'message_type', (v_item ->> 'reply_to_message_id')::bigint,
                v_item ->> 'reply_to_text',
                coalesce((v_item ->> 'is_clarification')::boolean, false),
                v_item -> 'raw', v_now, v_chat, 1,
                (v_item ->> 'message_date')::timestamptz, (v_item ->> 'edit_date')::timestamptz,
                v_item ->> 'media_group_id', (v_item ->> 'message_thread_id')::bigint,
                v_chain, coalesce((v_item ->> 'sender_is_bot')::boolean, false),
                coalesce(v_item -> 'entities', '[]'::jsonb),
                nullif(v_item -> 'forward_origin', 'null'::jsonb), NULL,
                coalesce(p_bot_id, 0), NULL, coalesce(p_source, 'desktop_export'),
                coalesce(v_item ->> 'content_hash', ''))
        ON CONFLICT DO NOTHING
        RETURNING m.id INTO v_row_id;
        IF v_row_id IS NULL THEN
            v_out := array_append(v_out, 'null'::jsonb);
            CONTINUE;
        END IF;

        IF v_chain IS NOT NULL THEN
            -- The root's text, or this reply's entry, as capture keeps them.
            v_entry := jsonb_build_object(
                'message_id', v_message, 'text', v_item -> 'message_text',
                'date', v_item -> 'message_date', 'user_id', v_item -> 'user_id',
                'reply_to_message_id', v_item -> 'reply_to_message_id',
                'reply_to_text', v_item -> 'reply_to_text');
            UPDATE message_chains AS c SET
                original_text = CASE WHEN c.original_message_id = v_message
                                     THEN v_item ->> 'message_text' ELSE c.original_text END,
                user_id = CASE WHEN c.original_message_id = v_message
                               THEN coalesce(c.user_id, (v_item ->> 'user_id')::bigint)
                               ELSE c.user_id END,
                replies = CASE
                    WHEN c.original_message_id = v_message THEN c.replies
                    WHEN coalesce(c.replies, '[]'::jsonb)
                         @> jsonb_build_array(jsonb_build_object('message_id', v_message)) THEN
                        c.replies
                    ELSE coalesce(c.replies, '[]'::jsonb) || jsonb_build_array(v_entry)
                END,
                updated_at = v_now
            WHERE c.chain_id = v_chain;
        END IF;

        FOR v_file IN
            SELECT t.f FROM jsonb_array_elements(coalesce(v_item -> 'files', '[]'::jsonb))
                WITH ORDINALITY AS t(f, n)
            ORDER BY t.n
        LOOP
            INSERT INTO raw_files
                (user_id, message_id, file_type, file_name, file_size, raw_metadata,
                 uploaded_at, chat_id, file_id, file_unique_id, file_key, mime_type, status,
                 download_reason, file_hash, file_path)
            VALUES ((v_item ->> 'user_id')::bigint, v_message, v_file ->> 'file_type',
                    v_file ->> 'file_name', (v_file ->> 'file_size')::bigint,
                    coalesce(v_file -> 'raw_metadata', '{}'::jsonb), v_now, v_chat,
                    v_file ->> 'file_id', v_file ->> 'file_unique_id', v_file ->> 'file_key',
                    v_file ->> 'mime_type', coalesce(v_file ->> 'status', 'missing'),
                    v_file ->> 'download_reason', v_file ->> 'file_hash',
                    v_file ->> 'file_path')
            ON CONFLICT (chat_id, message_id, file_key) DO NOTHING;
        END LOOP;

        v_out := array_append(v_out, to_jsonb(v_row_id));
    END LOOP;
    RETURN to_jsonb(v_out);
END
$$;

-- Which of p_keys ([[chat_id, message_id], ...]) have at least one stored version,
-- as the same kind of array. Lets an import skip reading the files of messages it
-- will not store, in one call per batch instead of one request per key.
CREATE OR REPLACE FUNCTION superbrain_stored_message_keys(p_keys jsonb)
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_array(f.chat_id, f.message_id)), '[]'::jsonb)
    FROM (
        SELECT DISTINCT m.chat_id, m.message_id
        FROM raw_messages m
        JOIN (SELECT (k ->> 0)::bigint AS chat_id, (k ->> 1)::bigint AS message_id
              FROM jsonb_array_elements(
                  CASE WHEN jsonb_typeof(p_keys) = 'array' THEN p_keys ELSE '[]'::jsonb END
              ) AS k) AS k
          ON m.chat_id = k.chat_id AND m.message_id = k.message_id
    ) AS f
$$;

SELECT superbrain_lock_down_functions();
