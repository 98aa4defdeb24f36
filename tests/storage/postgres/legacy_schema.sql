-- The original Supabase schema a user's project may already hold: the four seed
-- tables with only their seed columns, bigserial ids, the original indexes, the
-- permissive policy and grants a quick Supabase set-up leaves behind, and rows
-- written by the original bot, including the duplicates such a bot produces.
-- tests/storage/postgres/test_legacy.py migrates this in place.
-- Needs the roles anon, authenticated and service_role (the tests create them).

CREATE TABLE raw_messages (
    id                   bigserial PRIMARY KEY,
    user_id              bigint NOT NULL,
    message_id           bigint NOT NULL,
    message_text         text,
    message_type         varchar(50) NOT NULL DEFAULT 'text',
    reply_to_message_id  bigint,
    reply_to_text        text,
    is_clarification     boolean DEFAULT false,
    raw_telegram_json    jsonb,
    is_processed         boolean DEFAULT false,
    processed_at         timestamptz,
    created_at           timestamptz DEFAULT now()
);

CREATE TABLE raw_files (
    id             bigserial PRIMARY KEY,
    user_id        bigint NOT NULL,
    message_id     integer NOT NULL,
    file_type      varchar(50) NOT NULL,
    file_name      text,
    file_path      text,
    file_size      integer,
    file_hash      text,
    raw_metadata   jsonb,
    is_processed   boolean DEFAULT false,
    processed_at   timestamptz,
    uploaded_at    timestamptz DEFAULT now()
);

CREATE TABLE bot_responses (
    id                       bigserial PRIMARY KEY,
    user_id                  bigint NOT NULL,
    message_id               bigint,
    response_text            text NOT NULL,
    response_type            varchar(50),
    related_user_message_id  bigint,
    ai_analysis              jsonb,
    chain_id                 uuid,
    created_at               timestamptz DEFAULT now()
);

CREATE TABLE message_chains (
    chain_id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              bigint NOT NULL,
    original_message_id  bigint NOT NULL,
    original_text        text,
    replies              jsonb DEFAULT '[]'::jsonb,
    created_at           timestamptz DEFAULT now(),
    updated_at           timestamptz DEFAULT now()
);

CREATE INDEX idx_raw_messages_user ON raw_messages (user_id);
CREATE INDEX idx_raw_messages_processed ON raw_messages (is_processed);
CREATE INDEX idx_raw_files_user ON raw_files (user_id);
CREATE INDEX idx_raw_files_hash ON raw_files (file_hash);
CREATE INDEX idx_chains_user ON message_chains (user_id);

-- What a dashboard set-up often leaves: RLS on, and a policy letting everyone read.
ALTER TABLE raw_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Enable read access for all users" ON raw_messages FOR SELECT USING (true);
GRANT ALL ON raw_messages, raw_files, bot_responses, message_chains TO anon, authenticated;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO anon, authenticated;

-- The owner's private chat (chat id = user id = 111) and one group (-100500).
INSERT INTO raw_messages (id, user_id, message_id, message_text, message_type, reply_to_message_id,
                          reply_to_text, is_clarification, raw_telegram_json, is_processed,
                          processed_at, created_at) VALUES
 -- a root and its clarification (a chain below)
 (1, 111, 10, 'Купить молоко', 'text', NULL, NULL, false,
  '{"message_id": 10, "date": 1700000000, "chat": {"id": 111, "type": "private"},
    "from": {"id": 111, "is_bot": false, "first_name": "A"}, "text": "Купить молоко"}',
  true, '2023-11-15 00:00:00+00', '2023-11-14 22:13:20+00'),
 (2, 111, 11, 'и хлеб', 'text', 10, 'Купить молоко', true,
  '{"message_id": 11, "date": 1700000060, "chat": {"id": 111, "type": "private"},
    "from": {"id": 111, "is_bot": false, "first_name": "A"}, "text": "и хлеб",
    "reply_to_message_id": 10}',
  false, NULL, '2023-11-14 22:14:20+00'),
 -- the same message stored twice by a retrying bot
 (3, 111, 12, 'дубль', 'text', NULL, NULL, false,
  '{"message_id": 12, "date": 1700000120, "chat": {"id": 111, "type": "private"},
    "from": {"id": 111, "is_bot": false, "first_name": "A"}, "text": "дубль"}',
  false, NULL, '2023-11-14 22:15:20+00'),
 (4, 111, 12, 'дубль', 'text', NULL, NULL, false,
  '{"message_id": 12, "date": 1700000120, "chat": {"id": 111, "type": "private"},
    "from": {"id": 111, "is_bot": false, "first_name": "A"}, "text": "дубль"}',
  false, NULL, '2023-11-14 22:15:21+00'),
 -- an edit stored as a row of its own; the JSON is a whole Update here
 (5, 111, 13, 'встреча в 10', 'text', NULL, NULL, false,
  '{"update_id": 900, "message": {"message_id": 13, "date": 1700000180,
    "chat": {"id": 111, "type": "private"}, "text": "встреча в 10"}}',
  false, NULL, '2023-11-14 22:16:20+00'),
 (6, 111, 13, 'встреча в 11', 'text', NULL, NULL, false,
  '{"update_id": 901, "edited_message": {"message_id": 13, "date": 1700000180,
    "edit_date": 1700000300, "chat": {"id": 111, "type": "private"}, "text": "встреча в 11"}}',
  false, NULL, '2023-11-14 22:18:20+00'),
 -- a group message: same message_id as a private one, another chat
 (7, 111, 10, 'в группе', 'text', NULL, NULL, false,
  '{"message_id": 10, "date": 1700000400, "chat": {"id": -100500, "type": "group"},
    "from": {"id": 111, "is_bot": false, "first_name": "A"}, "text": "в группе"}',
  false, NULL, '2023-11-14 22:20:00+00'),
 -- a row without any JSON (chat from user_id, date from created_at)
 (8, 111, 14, 'без JSON', 'text', NULL, NULL, false, NULL,
  false, NULL, '2023-11-14 22:21:00+00'),
 -- a photo
 (9, 111, 15, 'чек', 'photo', NULL, NULL, false,
  '{"message_id": 15, "date": 1700000500, "chat": {"id": 111, "type": "private"},
    "caption": "чек", "photo": [{"file_id": "PH-15", "file_unique_id": "U-15", "width": 10,
    "height": 10, "file_size": 1234}]}',
  false, NULL, '2023-11-14 22:21:40+00');
SELECT setval('raw_messages_id_seq', 9);

INSERT INTO message_chains (chain_id, user_id, original_message_id, original_text, replies,
                            created_at, updated_at) VALUES
 ('11111111-1111-4111-8111-111111111111', 111, 10, 'Купить молоко',
  '[{"message_id": 11, "text": "и хлеб", "created_at": "2023-11-14T22:14:20+00:00"}]',
  '2023-11-14 22:14:20+00', '2023-11-14 22:14:20+00'),
 -- a second chain for the same root, from a race in the original bot
 ('22222222-2222-4222-8222-222222222222', 111, 10, 'Купить молоко', '[]',
  '2023-11-14 22:14:21+00', '2023-11-14 22:14:21+00');

INSERT INTO bot_responses (id, user_id, message_id, response_text, response_type,
                           related_user_message_id, ai_analysis, chain_id, created_at) VALUES
 (1, 111, 500, 'Это задача?', 'text', 10, '{"type": "task"}',
  '11111111-1111-4111-8111-111111111111', '2023-11-14 22:13:30+00'),
 -- the same sent message recorded again (an edit of it, in the old bot)
 (2, 111, 500, 'Это задача? (уточнение)', 'text', 10, NULL,
  '11111111-1111-4111-8111-111111111111', '2023-11-14 22:13:40+00'),
 -- a send that failed: no message id
 (3, 111, NULL, 'не ушло', NULL, 12, NULL, NULL, '2023-11-14 22:15:30+00');
SELECT setval('bot_responses_id_seq', 3);

INSERT INTO raw_files (id, user_id, message_id, file_type, file_name, file_path, file_size,
                       file_hash, raw_metadata, is_processed, uploaded_at) VALUES
 (1, 111, 15, 'photo', NULL, 'photos/U-15.jpg', 1234, 'md5:abc',
  '{"file_id": "PH-15", "file_unique_id": "U-15", "width": 10, "height": 10, "file_size": 1234}',
  true, '2023-11-14 22:21:41+00'),
 -- stored twice
 (2, 111, 15, 'photo', NULL, 'photos/U-15.jpg', 1234, 'md5:abc',
  '{"file_id": "PH-15", "file_unique_id": "U-15", "width": 10, "height": 10, "file_size": 1234}',
  true, '2023-11-14 22:21:42+00'),
 -- described without a file_id (an import without media)
 (3, 111, 14, 'document', 'отчёт.pdf', NULL, NULL, NULL, '{"file_name": "отчёт.pdf"}',
  false, '2023-11-14 22:21:43+00');
SELECT setval('raw_files_id_seq', 3);
