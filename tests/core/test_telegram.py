"""Normalization of every message kind, from fixtures written here in Bot API shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from superbrain_core.demo.samples import BOT_USER, fake_file, make_message, make_update
from superbrain_core.errors import NotAnUpdateError
from superbrain_core.telegram import normalize_message, normalize_update

PHOTO_SIZES = [
    fake_file("photo", "s", 1000, width=90, height=90),
    fake_file("photo", "l", 90000, width=1280, height=1280),
    fake_file("photo", "m", 20000, width=320, height=320),
]

KINDS: list[tuple[str, dict[str, Any], str, str | None, list[str]]] = [
    # (case, message fields, message_type, message_text, file types)
    ("text", {"text": "Купить молоко"}, "text", "Купить молоко", []),
    ("photo", {"photo": PHOTO_SIZES, "caption": "Чек"}, "photo", "Чек", ["photo"]),
    (
        "document",
        {
            "document": fake_file(
                "document", "d", 5000, file_name="a.pdf", mime_type="application/pdf"
            )
        },
        "document",
        None,
        ["document"],
    ),
    (
        "video",
        {"video": fake_file("video", "v", 9, width=1, height=1, duration=3)},
        "video",
        None,
        ["video"],
    ),
    (
        "audio",
        {"audio": fake_file("audio", "a", 9, duration=200), "caption": "песня"},
        "audio",
        "песня",
        ["audio"],
    ),
    ("voice", {"voice": fake_file("voice", "vo", 9, duration=4)}, "voice", None, ["voice"]),
    (
        "video_note",
        {"video_note": fake_file("video_note", "vn", 9, length=240, duration=5)},
        "video_note",
        None,
        ["video_note"],
    ),
    (
        "sticker",
        {"sticker": fake_file("sticker", "st", 9, width=512, height=512, emoji="😀")},
        "sticker",
        None,
        ["sticker"],
    ),
    (
        "animation",
        {
            "animation": fake_file("animation", "gif", 9, width=1, height=1, duration=1),
            "document": fake_file("animation", "gif", 9),
        },
        "animation",
        None,
        ["animation"],
    ),
    ("location", {"location": {"latitude": 55.75, "longitude": 37.61}}, "location", None, []),
    (
        "venue",
        {
            "location": {"latitude": 55.75, "longitude": 37.61},
            "venue": {
                "location": {"latitude": 55.75, "longitude": 37.61},
                "title": "Кафе",
                "address": "Тверская 1",
            },
        },
        "venue",
        "Кафе, Тверская 1",
        [],
    ),
    (
        "contact",
        {"contact": {"phone_number": "+79990001122", "first_name": "Олег"}},
        "contact",
        "Олег +79990001122",
        [],
    ),
    (
        "poll",
        {
            "poll": {
                "id": "1",
                "question": "Когда созвон?",
                "options": [{"text": "10:00", "voter_count": 0}],
            }
        },
        "poll",
        "Когда созвон?\n10:00",
        [],
    ),
    ("dice", {"dice": {"emoji": "🎲", "value": 4}}, "dice", None, []),
    (
        "game",
        {"game": {"title": "Игра", "description": "Описание", "photo": PHOTO_SIZES}},
        "game",
        "Игра\nОписание",
        [],
    ),
    (
        "invoice",
        {
            "invoice": {
                "title": "Счёт",
                "description": "Оплата",
                "start_parameter": "x",
                "currency": "RUB",
                "total_amount": 100,
            }
        },
        "invoice",
        "Счёт\nОплата",
        [],
    ),
    ("story", {"story": {"chat": {"id": 1, "type": "private"}, "id": 7}}, "story", None, []),
    (
        "new_members",
        {"new_chat_members": [{"id": 5, "is_bot": False, "first_name": "A"}]},
        "service:new_chat_members",
        None,
        [],
    ),
    ("pinned", {"pinned_message": make_message(1, text="x")}, "service:pinned_message", None, []),
    (
        "topic_created",
        {"forum_topic_created": {"name": "Дела", "icon_color": 1}},
        "service:forum_topic_created",
        None,
        [],
    ),
    ("future_kind", {"hologram": {"id": 1}}, "unknown", None, []),
]


@pytest.mark.parametrize(
    ("case", "fields", "mtype", "text", "files"), KINDS, ids=[k[0] for k in KINDS]
)
def test_message_kinds(
    case: str, fields: dict[str, Any], mtype: str, text: str | None, files: list[str]
) -> None:
    msg = normalize_message(make_message(10, **fields))
    assert msg.message_type == mtype
    assert msg.text == text
    assert [f.file_type for f in msg.files] == files
    assert msg.raw == make_message(10, **fields), "the raw message is kept verbatim"


def test_photo_keeps_only_the_largest_size() -> None:
    msg = normalize_message(make_message(1, photo=PHOTO_SIZES))
    (photo,) = msg.files
    assert (photo.width, photo.height, photo.file_size) == (1280, 1280, 90000)
    assert photo.file_unique_id == PHOTO_SIZES[1]["file_unique_id"]


def test_file_descriptor_fields() -> None:
    doc = fake_file("document", "d", 5000, file_name="отчёт.pdf", mime_type="application/pdf")
    (f,) = normalize_message(make_message(1, document=doc)).files
    assert (f.file_id, f.file_unique_id) == (doc["file_id"], doc["file_unique_id"])
    assert (f.file_name, f.mime_type, f.file_size) == ("отчёт.pdf", "application/pdf", 5000)
    (v,) = normalize_message(
        make_message(1, video_note=fake_file("vn", "x", 1, length=240, duration=9))
    ).files
    assert (v.width, v.height, v.duration) == (240, 240, 9)


def test_caption_entities_and_caption_kept_for_media() -> None:
    ents = [{"type": "bold", "offset": 0, "length": 3}]
    msg = normalize_message(
        make_message(1, photo=PHOTO_SIZES, caption="Чек 500 ₽", caption_entities=ents)
    )
    assert msg.text == "Чек 500 ₽"
    assert msg.entities == ents


def test_dates_are_aware_utc_from_telegram() -> None:
    raw = make_message(
        1, text="x", date=datetime(2026, 3, 1, 21, 30, tzinfo=UTC), edit_date=1772400700
    )
    msg = normalize_message(raw)
    assert msg.date == datetime(2026, 3, 1, 21, 30, tzinfo=UTC)
    assert msg.date.tzinfo is UTC
    assert msg.edit_date == datetime.fromtimestamp(1772400700, tz=UTC)


def test_reply_to_text_and_placeholder_for_media() -> None:
    text_reply = normalize_message(
        make_message(2, text="да", reply_to=make_message(1, text="Встреча?"))
    )
    assert (text_reply.reply_to_message_id, text_reply.reply_to_text) == (1, "Встреча?")
    assert text_reply.is_clarification
    voice_reply = normalize_message(
        make_message(
            3, text="это про дачу", reply_to=make_message(2, voice=fake_file("voice", "v", 1))
        )
    )
    assert voice_reply.reply_to_text == "[voice]"
    bot_reply = normalize_message(
        make_message(
            4, text="задача", reply_to=make_message(3, text="Это встреча?", sender=BOT_USER)
        )
    )
    assert bot_reply.reply_to_is_bot


def test_not_a_reply_is_not_a_clarification() -> None:
    msg = normalize_message(make_message(1, text="x"))
    assert not msg.is_clarification
    assert msg.reply_to_message_id is None


def test_forum_topic_anchor_is_not_a_reply() -> None:
    anchor = make_message(50, forum_topic_created={"name": "Дела", "icon_color": 1})
    msg = normalize_message(
        make_message(
            51, text="в теме", reply_to=anchor, message_thread_id=50, is_topic_message=True
        )
    )
    assert not msg.is_clarification
    assert msg.message_thread_id == 50
    real = normalize_message(
        make_message(
            52,
            text="ответ",
            reply_to=make_message(51, text="в теме"),
            message_thread_id=50,
            is_topic_message=True,
        )
    )
    assert real.is_clarification and real.reply_to_message_id == 51


def test_external_reply_keeps_quoted_text_without_local_link() -> None:
    msg = normalize_message(
        make_message(
            5,
            text="ответ",
            external_reply={
                "origin": {"type": "hidden_user", "sender_user_name": "X", "date": 1},
                "chat": {"id": 9, "type": "channel"},
            },
            quote={"text": "цитата", "position": 0},
        )
    )
    assert msg.reply_to_message_id is None
    assert msg.reply_to_text == "цитата"


@pytest.mark.parametrize(
    ("fields", "kind", "user_id", "chat_id", "name"),
    [
        (
            {"forward_from": {"id": 42, "is_bot": False, "first_name": "Олег"}, "forward_date": 1},
            "user",
            42,
            None,
            "Олег",
        ),
        (
            {
                "forward_from_chat": {"id": -100, "type": "channel", "title": "Канал"},
                "forward_from_message_id": 7,
                "forward_date": 1,
            },
            "channel",
            None,
            -100,
            "Канал",
        ),
        (
            {"forward_sender_name": "Скрытый", "forward_date": 1},
            "hidden_user",
            None,
            None,
            "Скрытый",
        ),
        (
            {
                "forward_origin": {
                    "type": "user",
                    "date": 1,
                    "sender_user": {"id": 42, "is_bot": False, "first_name": "Олег"},
                }
            },
            "user",
            42,
            None,
            "Олег",
        ),
        (
            {
                "forward_origin": {
                    "type": "channel",
                    "date": 1,
                    "chat": {"id": -100, "type": "channel", "title": "Канал"},
                    "message_id": 7,
                }
            },
            "channel",
            None,
            -100,
            "Канал",
        ),
        (
            {"forward_origin": {"type": "hidden_user", "date": 1, "sender_user_name": "Аноним"}},
            "hidden_user",
            None,
            None,
            "Аноним",
        ),
    ],
)
def test_forward_origins(
    fields: dict[str, Any], kind: str, user_id: int | None, chat_id: int | None, name: str
) -> None:
    origin = normalize_message(make_message(1, text="fwd", **fields)).forward_origin
    assert origin is not None
    assert (origin.kind, origin.user_id, origin.chat_id, origin.name) == (
        kind,
        user_id,
        chat_id,
        name,
    )
    assert origin.date == datetime.fromtimestamp(1, tz=UTC)


def test_sender_of_channel_posts_and_anonymous_admins() -> None:
    channel = {"id": -1001, "type": "channel", "title": "C"}
    post = normalize_message(
        make_message(1, text="пост", chat=channel, sender=None, sender_chat=channel)
    )
    assert post.user_id == -1001
    no_sender = normalize_message(make_message(1, text="пост", chat=channel, sender=None))
    assert no_sender.user_id == -1001
    group = {"id": -2002, "type": "supergroup", "title": "G"}
    anon = normalize_message(
        make_message(
            2,
            text="от имени группы",
            chat=group,
            sender={"id": 1087968824, "is_bot": True, "first_name": "Group"},
            sender_chat=group,
        )
    )
    assert anon.user_id == -2002
    assert not anon.sender_is_bot


def test_media_group_and_thread_ids() -> None:
    msg = normalize_message(
        make_message(1, photo=PHOTO_SIZES, media_group_id="123", message_thread_id=9)
    )
    assert (msg.media_group_id, msg.message_thread_id) == ("123", 9)


@pytest.mark.parametrize(
    "kind",
    [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_message",
        "edited_business_message",
    ],
)
def test_message_like_update_types(kind: str) -> None:
    body = (
        make_message(3, text="t", business_connection_id="bc")
        if "business" in kind
        else make_message(3, text="t")
    )
    update = normalize_update({"update_id": 1, kind: body})
    assert update.update_type == kind
    assert update.message is not None and update.message.text == "t"


def test_non_message_and_unknown_updates_are_kept_verbatim() -> None:
    payload = {"update_id": 5, "shiny_new_update": {"x": [1, 2, {"y": None}]}}
    update = normalize_update(payload)
    assert update.update_type == "shiny_new_update"
    assert update.payload == payload
    assert update.message is None
    cb = normalize_update(make_update(6, "callback_query", id="1", data="ok", chat_instance="1"))
    assert cb.update_type == "callback_query" and cb.message is None


def test_message_update_that_cannot_be_analyzed_is_still_an_update() -> None:
    update = normalize_update({"update_id": 7, "message": {"text": "no chat, no id"}})
    assert update.message is None
    assert update.problem is not None and "message_id" in update.problem


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ([1, 2], "expected a JSON object"),
        ({"message": {}}, "no integer update_id"),
        ({"update_id": "12", "message": {}}, "no integer update_id"),
        ({"update_id": True}, "no integer update_id"),
        (make_message(1, text="bare"), "bare Message"),
        ({"ok": False, "error_code": 401, "description": "Unauthorized"}, "response envelope"),
    ],
)
def test_not_an_update(value: Any, hint: str) -> None:
    with pytest.raises(NotAnUpdateError, match=hint):
        normalize_update(value)


def test_as_bot_api_json_dumps_framework_objects_like_telegram() -> None:
    from superbrain_core.telegram import as_bot_api_json

    class FakeAiogramUpdate:
        def model_dump(self, **kwargs: Any) -> dict[str, Any]:
            assert kwargs == {"mode": "json", "by_alias": True, "exclude_none": True}
            return {"update_id": 1, "message": make_message(1, text="x")}

    payload = {"update_id": 2}
    assert as_bot_api_json(payload) is payload
    assert as_bot_api_json(FakeAiogramUpdate())["message"]["from"]["id"] == 100500
    with pytest.raises(NotAnUpdateError, match="cannot turn a int"):
        as_bot_api_json(5)
