-- 0005: full-text search over everything captured (message text, captions,
-- file names, imported history), with Russian and English stemming.
--
-- One row per message in message_search, kept current by triggers on
-- raw_messages and raw_files, so every writer (live capture, ingest, an
-- import's bulk INSERT, a hand-made UPDATE) keeps the index current without
-- calling anything. The row holds the newest version's terms (body_tsv) and
-- the terms of the message's file names (files_tsv); tsv, their union, has the
-- GIN index. superbrain_search answers queries for the Postgres store (psycopg)
-- and the Supabase store (rpc) alike. docs/search.md explains the choices.
--
-- Terms follow superbrain_core/search.py exactly: runs of Latin letters,
-- Cyrillic letters and digits, folded to lower case (ё as е), each stemmed
-- with Snowball: digits kept as they are, Latin-only by English, the rest by
-- Russian. In SQL: every other character becomes a space and runs over 100
-- characters are dropped (regexp_replace), the text is lowercased (lower(),
-- and where a C collation left Cyrillic upper case, the explicit table below),
-- and then the default parser only ever sees plain words, which the
-- superbrain_search configuration sends to Snowball dictionaries without stop
-- words. The built-in `russian` configuration already stems Latin words with
-- english_stem, but its parser keeps e-mails, paths and hyphenated words whole
-- and its stop-word lists drop words the SQLite store keeps, so the backends
-- would disagree. tests/unit/test_search_text.py checks the table and the
-- character class against search.py; a conformance test compares the terms.
--
-- Idempotent and additive like every migration here.

SET search_path = public, pg_temp;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_dict
                   WHERE dictname = 'superbrain_english'
                     AND dictnamespace = 'public'::regnamespace) THEN
        CREATE TEXT SEARCH DICTIONARY public.superbrain_english
            (TEMPLATE = pg_catalog.snowball, Language = english);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_ts_dict
                   WHERE dictname = 'superbrain_russian'
                     AND dictnamespace = 'public'::regnamespace) THEN
        CREATE TEXT SEARCH DICTIONARY public.superbrain_russian
            (TEMPLATE = pg_catalog.snowball, Language = russian);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config
                   WHERE cfgname = 'superbrain_search'
                     AND cfgnamespace = 'public'::regnamespace) THEN
        CREATE TEXT SEARCH CONFIGURATION public.superbrain_search
            (PARSER = pg_catalog."default");
        -- After the clean-up below these are the only token types that occur.
        ALTER TEXT SEARCH CONFIGURATION public.superbrain_search
            ADD MAPPING FOR asciiword WITH public.superbrain_english;
        ALTER TEXT SEARCH CONFIGURATION public.superbrain_search
            ADD MAPPING FOR word WITH public.superbrain_russian;
        ALTER TEXT SEARCH CONFIGURATION public.superbrain_search
            ADD MAPPING FOR numword, uint, int, float, sfloat, version WITH pg_catalog.simple;
    END IF;
END
$$;

-- The index terms of a text (no positions: nothing here ranks by proximity):
-- the text as plain lower-case words separated by spaces, through the
-- configuration. One function, not two, because each call of a function with
-- SET search_path costs a configuration change, and this runs per message.
CREATE OR REPLACE FUNCTION superbrain_search_vector(p_text text)
RETURNS tsvector
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT strip(to_tsvector('public.superbrain_search'::regconfig, translate(
        CASE WHEN w ~ '[ABCDEFGHIJKLMNOPQRSTUVWXYZЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯѠѢѤѦѨѪѬѮѰѲѴѶѸѺѼѾҀҊҌҎҐҒҔҖҘҚҜҞҠҢҤҦҨҪҬҮҰҲҴҶҸҺҼҾӀӁӃӅӇӉӋӍӐӒӔӖӘӚӜӞӠӢӤӦӨӪӬӮӰӲӴӶӸӺӼӾ]'
             THEN translate(w,
                            'ABCDEFGHIJKLMNOPQRSTUVWXYZЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯѠѢѤѦѨѪѬѮѰѲѴѶѸѺѼѾҀҊҌҎҐҒҔҖҘҚҜҞҠҢҤҦҨҪҬҮҰҲҴҶҸҺҼҾӀӁӃӅӇӉӋӍӐӒӔӖӘӚӜӞӠӢӤӦӨӪӬӮӰӲӴӶӸӺӼӾ',
                            'abcdefghijklmnopqrstuvwxyzѐеђѓєѕіїјљњћќѝўџабвгдежзийклмнопрстуфхцчшщъыьэюяѡѣѥѧѩѫѭѯѱѳѵѷѹѻѽѿҁҋҍҏґғҕҗҙқҝҟҡңҥҧҩҫҭүұҳҵҷҹһҽҿӏӂӄӆӈӊӌӎӑӓӕӗәӛӝӟӡӣӥӧөӫӭӯӱӳӵӷӹӻӽӿ')
             ELSE w END,
        'ё', 'е')))
    FROM lower(regexp_replace(
        regexp_replace(coalesce(p_text, ''), '[^0-9A-Za-zЀ-ҁҊ-ӿ]+', ' ', 'g'),
        '[0-9A-Za-zЀ-ҁҊ-ӿ]{101,}', ' ', 'g')) AS w;
$$;

-- The distinct terms of a text, for building queries and for tests.
CREATE OR REPLACE FUNCTION superbrain_search_terms(p_text text)
RETURNS text[]
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT tsvector_to_array(superbrain_search_vector(p_text));
$$;

CREATE TABLE IF NOT EXISTS message_search (
    chat_id         bigint      NOT NULL,
    message_id      bigint      NOT NULL,
    -- The newest version (NULL while only a file of the message is stored).
    raw_message_id  bigint,
    version         integer     NOT NULL DEFAULT 0,
    body_tsv        tsvector    NOT NULL DEFAULT ''::tsvector,
    files_tsv       tsvector    NOT NULL DEFAULT ''::tsvector,
    tsv             tsvector    GENERATED ALWAYS AS (body_tsv || files_tsv) STORED,
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX IF NOT EXISTS idx_message_search_tsv ON message_search USING gin (tsv);

-- Rebuild one message's row from the raw tables (after an update or delete).
CREATE OR REPLACE FUNCTION superbrain_search_refresh(p_chat_id bigint, p_message_id bigint)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_newest record;
BEGIN
    SELECT m.id, m.version, m.message_text INTO v_newest
    FROM raw_messages m
    WHERE m.chat_id = p_chat_id AND m.message_id = p_message_id
    ORDER BY m.version DESC
    LIMIT 1;
    IF NOT FOUND THEN
        DELETE FROM message_search s WHERE s.chat_id = p_chat_id AND s.message_id = p_message_id;
        RETURN;
    END IF;
    INSERT INTO message_search AS s
        (chat_id, message_id, raw_message_id, version, body_tsv, files_tsv)
    VALUES (
        p_chat_id, p_message_id, v_newest.id, v_newest.version,
        superbrain_search_vector(v_newest.message_text),
        superbrain_search_vector(
            (SELECT string_agg(f.file_name, ' ' ORDER BY f.id) FROM raw_files f
             WHERE f.chat_id = p_chat_id AND f.message_id = p_message_id)))
    ON CONFLICT (chat_id, message_id) DO UPDATE
    SET raw_message_id = EXCLUDED.raw_message_id,
        version = EXCLUDED.version,
        body_tsv = EXCLUDED.body_tsv,
        files_tsv = EXCLUDED.files_tsv;
END
$$;

-- A new message version: it is the newest unless a higher version is already
-- indexed. The upsert locks the row and re-checks on its latest state, so two
-- writers storing versions of one message at once leave the higher one.
CREATE OR REPLACE FUNCTION superbrain_search_on_message_insert()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO message_search AS s (chat_id, message_id, raw_message_id, version, body_tsv)
    VALUES (NEW.chat_id, NEW.message_id, NEW.id, NEW.version,
            superbrain_search_vector(NEW.message_text))
    ON CONFLICT (chat_id, message_id) DO UPDATE
    SET raw_message_id = EXCLUDED.raw_message_id,
        version = EXCLUDED.version,
        body_tsv = EXCLUDED.body_tsv
    WHERE s.raw_message_id IS NULL OR s.version <= EXCLUDED.version;
    RETURN NULL;
END
$$;

-- A new file: its name's terms join the message's (an append under the row
-- lock, so concurrent files of one message all stay).
CREATE OR REPLACE FUNCTION superbrain_search_on_file_insert()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO message_search AS s (chat_id, message_id, files_tsv)
    VALUES (NEW.chat_id, NEW.message_id, superbrain_search_vector(NEW.file_name))
    ON CONFLICT (chat_id, message_id) DO UPDATE
    SET files_tsv = s.files_tsv || EXCLUDED.files_tsv;
    RETURN NULL;
END
$$;

-- An updated or deleted row (rare: text columns are written once): rebuild.
CREATE OR REPLACE FUNCTION superbrain_search_on_change()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM superbrain_search_refresh(OLD.chat_id, OLD.message_id);
    IF TG_OP = 'UPDATE' AND (NEW.chat_id, NEW.message_id) IS DISTINCT FROM
                            (OLD.chat_id, OLD.message_id) THEN
        PERFORM superbrain_search_refresh(NEW.chat_id, NEW.message_id);
    END IF;
    RETURN NULL;
END
$$;

-- Triggers before the backfill: creating them locks out writers until this
-- file commits, so no row slips between the backfill and the triggers.
CREATE OR REPLACE TRIGGER superbrain_search_message_insert
    AFTER INSERT ON raw_messages
    FOR EACH ROW EXECUTE FUNCTION superbrain_search_on_message_insert();
CREATE OR REPLACE TRIGGER superbrain_search_message_change
    AFTER UPDATE OF chat_id, message_id, version, message_text OR DELETE ON raw_messages
    FOR EACH ROW EXECUTE FUNCTION superbrain_search_on_change();
CREATE OR REPLACE TRIGGER superbrain_search_file_insert
    AFTER INSERT ON raw_files
    FOR EACH ROW WHEN (NEW.file_name IS NOT NULL)
    EXECUTE FUNCTION superbrain_search_on_file_insert();
CREATE OR REPLACE TRIGGER superbrain_search_file_change
    AFTER UPDATE OF chat_id, message_id, file_name OR DELETE ON raw_files
    FOR EACH ROW EXECUTE FUNCTION superbrain_search_on_change();

-- Everything stored before this migration (nothing on a second run).
INSERT INTO message_search (chat_id, message_id, raw_message_id, version, body_tsv, files_tsv)
SELECT DISTINCT ON (m.chat_id, m.message_id)
    m.chat_id, m.message_id, m.id, m.version,
    superbrain_search_vector(m.message_text),
    superbrain_search_vector(
        (SELECT string_agg(f.file_name, ' ' ORDER BY f.id) FROM raw_files f
         WHERE f.chat_id = m.chat_id AND f.message_id = m.message_id))
FROM raw_messages m
ORDER BY m.chat_id, m.message_id, m.version DESC
ON CONFLICT (chat_id, message_id) DO NOTHING;

-- Messages holding every term of p_query, newest first, each once, with its
-- newest version and where it is filed now (its own current placement, else
-- that of the earliest stored message of its chain: what a clarification is
-- filed under). The snippet is cut in Python from message_text/file_names.
-- A query without a searchable word is an error (SQLSTATE 22023); the stores
-- check that before calling.
CREATE OR REPLACE FUNCTION superbrain_search(
    p_query text,
    p_limit integer DEFAULT 50,
    p_chat_id bigint DEFAULT NULL,
    p_since timestamptz DEFAULT NULL,
    p_until timestamptz DEFAULT NULL)
RETURNS TABLE (
    chat_id bigint,
    message_id bigint,
    raw_message_id bigint,
    version integer,
    message_date timestamptz,
    message_type text,
    source text,
    message_text text,
    file_names text[],
    text_matches boolean,
    destination text,
    record_id bigint)
LANGUAGE plpgsql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_terms text[] := superbrain_search_terms(p_query);
    v_query tsquery;
BEGIN
    IF cardinality(v_terms) = 0 THEN
        RAISE EXCEPTION 'nothing to search for: the query has no word of letters or digits'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_query := array_to_string(ARRAY(SELECT quote_literal(t) FROM unnest(v_terms) t), ' & ')
        ::tsquery;
    -- The page of hits first; placements are looked up for it only.
    RETURN QUERY
    WITH page AS MATERIALIZED (
        SELECT s.chat_id AS chat, s.message_id AS message, s.body_tsv @@ v_query AS in_text,
               m.id AS raw_id, m.version AS raw_version, m.message_date AS sent,
               m.message_type AS kind, m.source AS origin, m.message_text AS body,
               m.chain_id AS chain
        FROM message_search s
        JOIN raw_messages m ON m.id = s.raw_message_id
        WHERE s.tsv @@ v_query
          AND (p_chat_id IS NULL OR s.chat_id = p_chat_id)
          AND (p_since IS NULL OR m.message_date >= p_since)
          AND (p_until IS NULL OR m.message_date < p_until)
        ORDER BY m.message_date DESC, s.chat_id, s.message_id DESC
        LIMIT p_limit)
    -- Casts, because upgraded seed tables may use other integer and text types.
    SELECT p.chat::bigint, p.message::bigint, p.raw_id::bigint, p.raw_version::integer,
           p.sent::timestamptz, p.kind::text, p.origin::text, p.body::text,
           ARRAY(SELECT f.file_name::text FROM raw_files f
                 WHERE f.chat_id = p.chat AND f.message_id = p.message
                   AND f.file_name IS NOT NULL
                 ORDER BY f.id),
           p.in_text,
           coalesce(own.destination, root.destination)::text,
           (CASE WHEN own.id IS NOT NULL THEN own.record_id ELSE root.record_id END)::bigint
    FROM page p
    LEFT JOIN routing_log own
        ON own.chat_id = p.chat AND own.message_id = p.message AND own.superseded_at IS NULL
    LEFT JOIN LATERAL (
        SELECT min(c.message_id) AS root_id FROM raw_messages c
        WHERE p.chain IS NOT NULL AND c.chain_id = p.chain AND c.chat_id = p.chat) r ON true
    LEFT JOIN routing_log root
        ON root.chat_id = p.chat AND root.message_id = r.root_id AND root.superseded_at IS NULL
    ORDER BY p.sent DESC, p.chat, p.message DESC;
END
$$;

-- == lock-down (the same treatment as 0001-0003 give theirs) =====================
SELECT superbrain_lock_down_tables(ARRAY['message_search']);
SELECT superbrain_lock_down_functions();
