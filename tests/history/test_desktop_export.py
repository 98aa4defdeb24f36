"""Telegram Desktop exports: ids, text, dates, every era's fields, streaming and its errors,
and the path checks that keep an import inside the export folder."""

from __future__ import annotations

import importlib
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from superbrain_core.errors import InputError
from superbrain_core.history import desktop, importer
from superbrain_core.history.desktop import (
    ExportChat,
    ExportPeer,
    ExportStream,
    MessageMapper,
    bot_api_chat_id,
    export_peer_of,
    flatten_text,
    import_chat_id,
    parse_export_date,
    peer_id,
)
from superbrain_core.history.desktop import mapping as export_mapping
from superbrain_core.history.desktop import stream as export_stream
from superbrain_core.history.importer import RefusedPath, locate_export, open_inside

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "desktop_export"
MOSCOW = ZoneInfo("Europe/Moscow")


def stream_of(doc: Any) -> list[tuple[ExportChat, dict[str, Any]]]:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
    return [(m.chat, m.data) for m in ExportStream(io.BytesIO(raw), "result.json")]


def mapped(path: Path, zone: ZoneInfo = MOSCOW) -> dict[int, Any]:
    mapper = MessageMapper(zone)
    with path.open("rb") as f:
        return {m.data["id"]: mapper.map(m.chat, m.data) for m in ExportStream(f, str(path))}


def chat(kind: str = "personal_chat", export_id: int = 42) -> ExportChat:
    return ExportChat.of(export_id, kind, "c", 1)


def user_chat(export_id: int) -> int:
    """Where a private chat's (or Saved Messages') imported messages are stored."""
    return -(4 * 10**12 + export_id)


# -- ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("personal_chat", 42),
        ("bot_chat", 42),
        ("saved_messages", 42),
        ("private_group", -42),
        ("private_supergroup", -1000000000042),
        ("public_supergroup", -1000000000042),
        ("private_channel", -1000000000042),
        ("public_channel", -1000000000042),
    ],
)
def test_export_chat_ids_become_bot_api_chat_ids(kind: str, expected: int) -> None:
    assert bot_api_chat_id(42, kind) == expected


def test_an_unknown_chat_type_has_no_bot_api_id() -> None:
    with pytest.raises(ValueError, match="unknown chat type 'secret_chat'"):
        bot_api_chat_id(42, "secret_chat")


@pytest.mark.parametrize(
    ("kind", "stored", "peer"),
    [
        # Numbered per account: a block of their own, never a live chat's key.
        ("personal_chat", -4000000000042, ExportPeer("user", 42, 42)),
        ("bot_chat", -4000000000042, ExportPeer("user", 42, 42)),
        ("saved_messages", -4000000000042, ExportPeer("user", 42, 42)),
        ("replies", -4000000000042, ExportPeer("user", 42, 42)),
        ("private_group", -6000000000042, ExportPeer("group", 42, -42)),
        ("secret_chat", -8000000000042, ExportPeer("other", 42, None)),
        # Numbered per chat: the Bot API's id, so live capture and import meet.
        ("private_supergroup", -1000000000042, ExportPeer("channel", 42, -1000000000042)),
        ("public_channel", -1000000000042, ExportPeer("channel", 42, -1000000000042)),
    ],
)
def test_only_supergroups_and_channels_share_the_bots_chat_ids(
    kind: str, stored: int, peer: ExportPeer
) -> None:
    assert import_chat_id(42, kind) == stored
    assert export_peer_of(stored) == peer


def test_the_import_blocks_hold_every_telegram_id_and_no_bot_api_one() -> None:
    biggest = 2**40 - 1  # the largest user id Telegram hands out
    assert export_peer_of(import_chat_id(biggest, "personal_chat")) == ExportPeer(
        "user", biggest, biggest
    )
    assert import_chat_id(biggest, "personal_chat") > import_chat_id(1, "private_group")
    # Live users, basic groups and secret chats are in no import block.
    for live in (1, biggest, -1, -(10**12) + 1, -2002147483648):
        assert export_peer_of(live) is None
    for bad, kind in ((0, "personal_chat"), (-5, "private_group"), (2 * 10**12, "saved_messages")):
        with pytest.raises(ValueError, match="outside"):
            import_chat_id(bad, kind)
    with pytest.raises(ValueError, match="outside"):
        import_chat_id(10**12, "public_channel")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("user123", 123),
        ("channel123", -1000000000123),
        ("chat123", -123),
        (22222222, 22222222),
        ("777", 777),
        ("someone", None),
        (True, None),
        (None, None),
    ],
)
def test_sender_ids_of_every_era(value: Any, expected: int | None) -> None:
    assert peer_id(value) == expected


# -- text and dates ----------------------------------------------------------------------


def test_a_string_text_has_no_entities() -> None:
    assert flatten_text("привет") == ("привет", [])


def test_entities_are_flattened_with_utf16_offsets_and_bot_api_names() -> None:
    text, entities = flatten_text(
        [
            "🍞 ",
            {"type": "link", "text": "https://x.ru"},
            " ",
            {"type": "text_link", "text": "тут", "href": "https://y.ru"},
            {"type": "mention_name", "text": "Сын", "user_id": 5},
            {"type": "blockquote", "text": "q", "collapsed": True},
            {"type": "plain", "text": "!"},
            {"type": "bold", "text": ""},
        ]
    )
    assert text == "🍞 https://x.ru тутСынq!"
    # The emoji is two UTF-16 code units, as Telegram counts offsets.
    assert entities == [
        {"type": "url", "offset": 3, "length": 12},
        {
            "type": "text_link",
            "offset": 16,
            "length": 3,
            "href": "https://y.ru",
            "url": "https://y.ru",
        },
        {"type": "text_mention", "offset": 19, "length": 3, "user_id": 5, "user": {"id": 5}},
        {"type": "expandable_blockquote", "offset": 22, "length": 1, "collapsed": True},
    ]


def test_text_that_is_neither_string_nor_list_is_empty() -> None:
    assert flatten_text(None) == ("", [])
    assert flatten_text(["a", 5, {"type": "bold"}]) == ("a", [])


def test_dates_prefer_unixtime_and_read_local_text_in_the_given_zone() -> None:
    exact, _ = parse_export_date("2023-03-01T12:00:00", "1677661200", MOSCOW)
    assert exact == datetime(2023, 3, 1, 9, 0, tzinfo=UTC)
    local, _ = parse_export_date("2020-02-01T10:00:00", None, MOSCOW)
    assert local == datetime(2020, 2, 1, 7, 0, tzinfo=UTC)
    assert parse_export_date("2020-02-01T10:00:00", None, ZoneInfo("UTC"))[0] == datetime(
        2020, 2, 1, 10, 0, tzinfo=UTC
    )


def test_a_1970_edit_date_means_never_edited() -> None:
    assert parse_export_date("1970-01-01T05:00:00", None, MOSCOW) == (None, True)
    assert parse_export_date(None, "0", MOSCOW) == (None, True)
    assert parse_export_date("not a date", None, MOSCOW) == (None, False)
    mapper = MessageMapper(MOSCOW)
    for n, edited in enumerate(({"edited_unixtime": "0"}, {"edited": "1970-01-01T03:00:00"})):
        data = {"id": n, "type": "message", "date_unixtime": "1700000000", "text": "x", **edited}
        mapped = mapper.map(chat(), data)
        # Stored as never edited: no edit date, hence no content hash either.
        assert (mapped.message.edit_date, mapped.problems) == (None, ())


# -- each era ---------------------------------------------------------------------------------


def test_2020_single_chat_export_numeric_ids_and_local_dates() -> None:
    messages = mapped(FIXTURES / "single_2020" / "result.json")
    first = messages[101].message
    assert (first.chat_id, first.user_id, first.message_type, first.text) == (
        user_chat(4000001),
        4000001,
        "text",
        "Купи хлеба",
    )
    assert first.date == datetime(2020, 2, 1, 7, 0, tzinfo=UTC)
    assert first.edit_date is None  # "1970-01-01T03:00:00" is Moscow's epoch: never edited
    reply = messages[102].message
    assert reply.edit_date == datetime(2020, 2, 1, 7, 6, 30, tzinfo=UTC)
    assert reply.text == "Куплю, вот https://example.com/хлеб 🍞 завтра"
    assert [e["type"] for e in reply.entities] == ["url", "bold"]
    assert (reply.reply_to_message_id, reply.reply_to_text, reply.is_clarification) == (
        101,
        "Купи хлеба",
        True,
    )
    photo = messages[103]
    assert photo.message.message_type == "photo" and photo.message.text == "Вот такой"
    assert photo.message.reply_to_text == reply.text
    (ref,) = photo.files
    assert (ref.path, ref.note, ref.descriptor.file_type, ref.descriptor.width) == (
        "photos/photo_1@01-02-2020_10-00-00.jpg",
        None,
        "photo",
        800,
    )
    forwarded = messages[104]
    assert forwarded.message.forward_origin is not None
    assert forwarded.message.forward_origin.to_json() == {
        "kind": "hidden_user",
        "name": "Кулинарный канал",
    }
    assert forwarded.files[0].path is None
    assert forwarded.files[0].note is not None and "File not included" in forwarded.files[0].note
    voice = messages[105]
    assert voice.message.message_type == "voice"
    assert (voice.files[0].descriptor.mime_type, voice.files[0].descriptor.duration) == (
        "audio/ogg",
        3,
    )
    pin = messages[106].message
    assert (pin.message_type, pin.user_id, pin.text) == ("service:pinned_message", 5000001, None)


def test_2021_supergroup_export_prefixed_ids() -> None:
    messages = mapped(FIXTURES / "supergroup_2021" / "result.json")
    assert {m.message.chat_id for m in messages.values()} == {-1001500000001}
    assert messages[7].message.message_type == "service:new_chat_members"
    assert messages[7].message.user_id == 5000001
    sticker = messages[9]
    assert sticker.message.message_type == "sticker"
    assert [(f.descriptor.file_type, f.path) for f in sticker.files] == [
        ("sticker", "stickers/sticker.webp"),
        ("thumbnail", "stickers/sticker.webp_thumb.jpg"),
    ]
    by_channel = messages[10].message
    assert by_channel.user_id == -1001500000001
    assert by_channel.raw["via_bot"] == "@gif"  # kept verbatim
    assert by_channel.reply_to_text == "[sticker]"


def test_2023_account_export_every_chat_including_left_ones() -> None:
    messages = mapped(FIXTURES / "account_2023" / "result.json")
    assert messages[201].message.chat_id == -(6 * 10**12 + 700001)
    assert messages[201].message.message_type == "service:group_chat_created"
    forwarded = messages[202].message
    assert forwarded.date == datetime(2023, 3, 1, 9, 1, tzinfo=UTC)
    assert forwarded.edit_date == datetime(2023, 3, 1, 9, 2, tzinfo=UTC)
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.to_json() == {
        "kind": "channel",
        "chat_id": -1000000001234,
        "name": "Новости",
    }
    assert forwarded.entities == [
        {
            "type": "text_mention",
            "offset": 0,
            "length": 3,
            "user_id": 5000001,
            "user": {"id": 5000001},
        }
    ]
    document = messages[203]
    assert document.message.message_type == "document"
    assert (document.files[0].descriptor.file_name, document.files[0].descriptor.file_size) == (
        "invoice.pdf",
        22,
    )
    assert messages[204].message.text == "Когда?\nСуббота\nВоскресенье"
    venue = messages[1].message
    assert (venue.chat_id, venue.message_type, venue.text) == (
        -1000000001234,
        "venue",
        "Красная площадь, Москва",
    )
    assert venue.raw["location_information"]["latitude"] == 55.751244  # a float, not a Decimal
    saved = messages[301].message
    assert (saved.chat_id, saved.message_type, saved.text) == (
        user_chat(5000001),
        "contact",
        "Иван Петров +7 900 000 00 00",
    )
    assert saved.forward_origin is not None and saved.forward_origin.name == "Папа"
    left = messages[5].message
    assert (left.chat_id, left.message_type, left.text) == (
        -1000000000888,
        "checklist",
        "Список\nмолоко",
    )


def test_the_raw_json_is_the_export_object_verbatim() -> None:
    path = FIXTURES / "account_2023" / "result.json"
    original = json.loads(path.read_text(encoding="utf-8"))
    expected = [m for c in original["chats"]["list"] for m in c["messages"]]
    expected += [m for c in original["left_chats"]["list"] for m in c["messages"]]
    with path.open("rb") as f:
        assert [m.data for m in ExportStream(f, "x")] == expected


def test_service_actions_without_a_bot_api_field_keep_their_name() -> None:
    mapper = MessageMapper(MOSCOW)
    data = {"id": 1, "type": "service", "date_unixtime": "1700000000", "action": "phone_call"}
    assert mapper.map(chat(), data).message.message_type == "service:phone_call"
    data = {"id": 2, "type": "service", "date_unixtime": "1700000000"}
    assert mapper.map(chat(), data).message.message_type == "service:unknown"


def test_a_reply_into_another_chat_is_not_a_local_reply() -> None:
    mapper = MessageMapper(MOSCOW)
    data = {
        "id": 3,
        "type": "message",
        "date_unixtime": "1700000000",
        "reply_to_message_id": 9,
        "reply_to_peer_id": "channel77",
        "text": "x",
    }
    msg = mapper.map(chat(), data).message
    assert (msg.reply_to_message_id, msg.is_clarification) == (None, False)


def test_a_bots_own_messages_in_a_bot_chat_are_marked_as_from_a_bot() -> None:
    mapper = MessageMapper(MOSCOW)
    data = {"id": 1, "type": "message", "date_unixtime": "1700000000", "from_id": "user42"}
    assert mapper.map(chat("bot_chat", 42), data).message.sender_is_bot is True
    assert mapper.map(chat("personal_chat", 42), data).message.sender_is_bot is False


def test_a_message_without_an_integer_id_cannot_be_mapped() -> None:
    with pytest.raises(ValueError, match="no integer id"):
        MessageMapper(MOSCOW).map(chat(), {"id": "7", "type": "message"})


def test_a_message_without_a_date_is_kept_at_the_epoch_and_reported() -> None:
    mapped = MessageMapper(MOSCOW).map(chat(), {"id": 1, "type": "message", "text": "x"})
    assert mapped.message.date == datetime(1970, 1, 1, tzinfo=UTC)
    assert mapped.problems == (
        "chat 'c' (id 42, personal_chat), message 1: no readable date; stored as 1970-01-01",
    )


@pytest.mark.parametrize(
    ("fields", "check", "problem"),
    [
        (
            {"from_id": "user99999999999999999999"},
            lambda m: m.user_id is None,
            "from_id does not fit 64 bits; stored without it",
        ),
        (
            {"date_unixtime": "99999999999999999"},
            lambda m: m.date == datetime(1970, 1, 1, tzinfo=UTC),
            "no readable date; stored as 1970-01-01",
        ),
        (
            {"edited_unixtime": "99999999999999999", "edited": "99999-01-01T00:00:00"},
            lambda m: m.edit_date is None,
            "unreadable edit date; stored as not edited",
        ),
        (
            {"reply_to_message_id": 2**63},
            lambda m: (m.reply_to_message_id, m.is_clarification) == (None, False),
            "reply_to_message_id does not fit 64 bits; not linked",
        ),
        (
            {"file": "f.bin", "file_size": 2**64},
            lambda m: m.raw["file_size"] == 2**64,  # kept raw; the column stays empty
            None,
        ),
    ],
)
def test_a_value_no_column_can_hold_is_one_messages_problem(
    fields: dict[str, Any], check: Any, problem: str | None
) -> None:
    data = {"id": 3, "type": "message", "date_unixtime": "1700000000", "text": "x", **fields}
    mapped = MessageMapper(MOSCOW).map(chat(), data)
    assert check(mapped.message)
    assert mapped.message.raw == data
    expected = (
        () if problem is None else (f"chat 'c' (id 42, personal_chat), message 3: {problem}",)
    )
    assert mapped.problems == expected
    assert all(f.descriptor.file_size is None for f in mapped.files)


def test_a_message_id_past_64_bits_is_skipped_as_a_problem() -> None:
    with pytest.raises(desktop.UnusableMessage, match="message 9223372036854775808: the id"):
        MessageMapper(MOSCOW).map(chat(), {"id": 2**63, "type": "message"})


def test_reply_texts_are_remembered_only_for_a_bounded_number_of_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export_mapping, "REPLY_TEXT_MEMORY", 2)
    mapper = MessageMapper(MOSCOW)
    for i in (1, 2, 3):
        mapper.map(chat(), {"id": i, "type": "message", "date_unixtime": "1", "text": f"t{i}"})
    reply = {"id": 4, "type": "message", "date_unixtime": "1", "reply_to_message_id": 1}
    assert mapper.map(chat(), reply).message.reply_to_text is None  # forgotten, still linked
    reply = {"id": 5, "type": "message", "date_unixtime": "1", "reply_to_message_id": 3}
    assert mapper.map(chat(), reply).message.reply_to_text == "t3"


# -- streaming -------------------------------------------------------------------------


def test_a_single_chat_export_and_a_full_export_yield_the_same_messages() -> None:
    messages = [
        {"id": 1, "type": "message", "text": "a"},
        {"id": 2, "type": "message", "text": "b"},
    ]
    single = stream_of({"name": "n", "type": "private_group", "id": 5, "messages": messages})
    full = stream_of(
        {
            "about": "x",
            "chats": {"list": [{"id": 5, "type": "private_group", "messages": messages}]},
        }
    )
    assert [d for _, d in single] == [d for _, d in full] == messages
    assert {c.chat_id for c, _ in single} == {c.chat_id for c, _ in full} == {-6000000000005}


def test_each_message_is_attributed_to_its_own_chat() -> None:
    doc = {
        "chats": {
            "list": [
                {"id": 1, "type": "personal_chat", "messages": [{"id": 1}, {"id": 2}]},
                {"id": 2, "type": "private_group", "name": "g", "messages": [{"id": 1}]},
            ]
        },
        "left_chats": {"list": [{"id": 3, "type": "public_channel", "messages": [{"id": 9}]}]},
    }
    found = [(c.chat_id, c.index, d["id"]) for c, d in stream_of(doc)]
    assert found == [
        (user_chat(1), 1, 1),
        (user_chat(1), 1, 2),
        (-6000000000002, 2, 1),
        (-1000000000003, 3, 9),
    ]


def test_a_chat_whose_messages_come_before_its_id_is_refused_with_the_spot() -> None:
    doc = b'{"chats": {"list": [{"type": "personal_chat", "messages": [{"id": 1}], "id": 5}]}}'
    with pytest.raises(InputError, match=r"chat #1 has no integer id before its messages"):
        stream_of(doc)


def test_an_unknown_chat_type_gets_the_blocks_for_unknown_peers() -> None:
    doc = {"chats": {"list": [{"id": 5, "type": "secret_chat", "messages": [{"id": 1}]}]}}
    ((found, _),) = stream_of(doc)
    assert (found.chat_id, found.peer_id) == (-8000000000005, None)


def test_a_chat_id_the_mapping_cannot_place_stops_the_stream_naming_the_chat() -> None:
    doc = {"chats": {"list": [{"id": 0, "type": "personal_chat", "messages": [{"id": 1}]}]}}
    with pytest.raises(InputError, match=r"chat #1: chat id 0 is outside 1\.\."):
        stream_of(doc)


def test_truncated_file_names_the_end_and_the_message_it_was_in() -> None:
    text = (FIXTURES / "supergroup_2021" / "result.json").read_bytes()
    cut = text.index('"Не в 12'.encode())
    stream = ExportStream(io.BytesIO(text[:cut]), "result.json")
    seen: list[int] = []
    with pytest.raises(InputError) as caught:
        for message in stream:
            seen.append(message.data["id"])
    assert seen == [7, 8, 9]  # every complete message before the cut
    error = caught.value
    assert error.offset == cut
    assert "looks truncated" in error.reason
    assert "chat 'Семья' (id 1500000001, private_supergroup), in message 10" in error.reason
    assert error.line == text[:cut].count(b"\n") + 1
    assert error.column == cut - text.rfind(b"\n", 0, cut)  # the byte after the last one
    assert error.column > 1


# -- nesting ----------------------------------------------------------------------------


def _nested(depth: int) -> str:
    """``{"k": {"k": … "bottom" …}}``, written out (``json.dumps`` would recurse)."""
    return '{"k": ' * depth + '"bottom"' + "}" * depth


def _chat_with(middle: str) -> bytes:
    messages = (
        f'[{{"id": 1, "text": "a"}}, {{"id": 2, "deep": {middle}}}, {{"id": 3, "text": "c"}}]'
    )
    head = '{"name": "n", "type": "personal_chat", "id": 5, "messages": '
    return (head + messages + "}").encode()


def test_a_message_nested_too_deep_is_skipped_as_a_problem_and_the_rest_is_read() -> None:
    raw = _chat_with(_nested(1000))
    found = list(ExportStream(io.BytesIO(raw), "result.json"))
    assert [m.data["id"] for m in found if m.data is not None] == [1, 3]
    (skipped,) = [m for m in found if m.data is None]
    assert skipped.problem == (
        "chat 'n' (id 5, personal_chat), message 2: nested more than 64 levels deep; skipped"
    )
    # Just inside the limit is an ordinary message, built whole.
    inside = _nested(desktop.MAX_MESSAGE_DEPTH - 1)
    ((_, middle),) = [(c, d) for c, d in stream_of(_chat_with(inside)) if d["id"] == 2]
    assert middle["deep"] == json.loads(inside)


@pytest.mark.parametrize("where", ["message", "outside"])
def test_nesting_that_would_exhaust_memory_stops_with_the_spot(where: str) -> None:
    """100,000 levels is a 200 KB file that took gigabytes (the parser's prefixes)."""
    depth = 100_000
    opening, closing = b'{"k":' * depth, b"1" + b"}" * depth
    if where == "message":
        head = b'{"name": "n", "type": "personal_chat", "id": 5, "messages": [{"id": 7, "x": '
        raw = head + opening + closing + b"}]}"
        expected = "nested more than 2048 levels deep"
    else:
        raw = b'{"about": ' + opening + closing + b', "chats": {"list": []}}'
        expected = "nested more than 64 levels deep"
    with pytest.raises(InputError, match=expected) as caught:
        stream_of(raw)
    assert caught.value.source == "result.json"
    if where == "message":
        assert caught.value.reason.endswith("chat 'n' (id 5, personal_chat), in message 7")


def test_malformed_json_names_the_exact_line_and_column() -> None:
    text = (FIXTURES / "single_2020" / "result.json").read_text(encoding="utf-8")
    bad = text.replace('"id": 103,', '"id": 103 oops,').encode()
    with pytest.raises(InputError) as caught:
        stream_of(bad)
    error = caught.value
    spot = bad.index(b"oops")
    # yajl stops on the offending token or just past its first byte.
    assert error.offset == spot + 1
    assert error.line == bad[:spot].count(b"\n") + 1
    assert error.column == spot + 1 - bad.rfind(b"\n", 0, spot)
    assert "invalid JSON: lexical error" in error.reason
    assert "in message 103" in error.reason
    assert str(error).startswith(f"result.json:{error.line}:{error.column} (offset {spot + 1})")


def test_malformed_json_is_located_across_read_chunks() -> None:
    messages = [{"id": i, "type": "message", "text": "x" * 50} for i in range(1, 3000)]
    text = json.dumps({"id": 1, "type": "personal_chat", "messages": messages}, indent=1)
    text = text.replace('"id": 2500,', '"id": 2500 ]')
    raw = text.encode()
    with pytest.raises(InputError) as caught:
        stream_of(raw)
    assert caught.value.offset is not None and caught.value.offset > 64 * 1024
    assert caught.value.offset == raw.index(b"2500 ]") + len(b"2500 ")  # on the stray bracket
    assert "chat #1 (id 1, personal_chat), in message 2500" in caught.value.reason


def _with_bad_bytes(where: str, bad: bytes) -> tuple[bytes, int]:
    """single_2020 with ``bad`` in place of the first character of ``where``; and its offset."""
    text = (FIXTURES / "single_2020" / "result.json").read_bytes()
    spot = text.index(where.encode())
    return text[:spot] + bad + text[spot + len(where[0].encode()) :], spot


@pytest.mark.parametrize("backend", ["yajl2_c", "python"])
@pytest.mark.parametrize(
    ("where", "bad"),
    [
        ("Купи хлеба", b"\xff"),  # a byte UTF-8 never uses, in a message text
        ("Купи хлеба", b"\xed\xa0\x80"),  # a surrogate: the C parser passes it on
        ("Купи хлеба", b"\xc0\xaf"),  # an overlong "/"
        ("Мама", b"\xd0"),  # half a character, in the chat's name
        ('ext": "Купи', b"\x80"),  # in a key
        ('"messages"', b"\xfe"),  # outside any string
    ],
)
def test_bytes_that_are_not_utf8_stop_the_stream_at_their_offset(
    where: str, bad: bytes, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "python":
        monkeypatch.setattr(
            export_stream, "_IJSON", importlib.import_module("ijson.backends.python")
        )
    raw, spot = _with_bad_bytes(where, bad)
    with pytest.raises(InputError) as caught:
        stream_of(raw)
    error = caught.value
    assert "not valid UTF-8" in error.reason and f"byte 0x{bad[0]:02x}" in error.reason
    assert error.offset == spot
    assert error.line == raw[:spot].count(b"\n") + 1
    assert error.column == spot - raw.rfind(b"\n", 0, spot)


def test_a_bad_byte_far_into_a_one_line_export_gets_its_offset_and_column() -> None:
    messages = [{"id": i, "type": "message", "text": "привет " * 40} for i in range(1, 800)]
    raw = json.dumps(
        {"id": 1, "type": "personal_chat", "messages": messages}, ensure_ascii=False
    ).encode()
    spot = raw.index(b'"id": 700') + 1
    raw = raw[:spot] + b"\xed\xa0\x80" + raw[spot + 2 :]
    with pytest.raises(InputError) as caught:
        stream_of(raw)
    assert caught.value.offset == spot > 64 * 1024
    assert (caught.value.line, caught.value.column) == (1, spot + 1)


@pytest.mark.parametrize("text", ["a\udfffb", "\ude00\ud83d"])
def test_an_escaped_lone_surrogate_is_read_verbatim(text: str) -> None:
    """The file is plain ASCII (``"\\udfff"``): JSON may escape a lone surrogate and
    Telegram text can hold one. Such a file is read by ijson's Python parser (the C one
    turns a lone high half into ``?`` and refuses a lone low one), so the message comes
    out as written, as live capture keeps it."""
    raw = json.dumps(
        {"name": "n", "type": "personal_chat", "id": 5, "messages": [{"id": 1, "text": text}]}
    ).encode()
    stream = ExportStream(io.BytesIO(raw), "x")
    assert [m.data for m in stream] == [{"id": 1, "text": text}]


def test_the_pure_python_parser_gives_the_same_messages_and_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the C backend is missing, ijson's Python one must behave the same."""
    path = FIXTURES / "account_2023" / "result.json"
    with path.open("rb") as f:
        fast = [(m.chat, m.data) for m in ExportStream(f, "x")]
    monkeypatch.setattr(export_stream, "_IJSON", importlib.import_module("ijson.backends.python"))
    with path.open("rb") as f:
        assert [(m.chat, m.data) for m in ExportStream(f, "x")] == fast
    truncated = path.read_bytes()[:500]
    with pytest.raises(InputError, match="looks truncated") as caught:
        stream_of(truncated)
    assert caught.value.offset == 500
    with pytest.raises(InputError, match="invalid JSON"):
        stream_of(b'{"id": 1, "type": "personal_chat", "messages": [{"id": 1 x}]}')


def test_a_file_that_is_not_an_export_yields_nothing() -> None:
    assert stream_of([{"update_id": 1}]) == []
    assert stream_of({"ok": True, "result": []}) == []


# -- paths ------------------------------------------------------------------------------------


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "a.jpg").write_bytes(b"inside")
    (tmp_path / "secret.txt").write_bytes(b"outside")
    return root


def test_a_file_inside_the_export_opens(export_dir: Path) -> None:
    root = os.path.realpath(export_dir)
    with open_inside(root, "photos/a.jpg") as f:
        assert f.read() == b"inside"
    with open_inside(root, "photos/../photos/a.jpg") as f:  # .. that stays inside is fine
        assert f.read() == b"inside"


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("../secret.txt", "outside the export folder"),
        ("photos/../../secret.txt", "outside the export folder"),
        ("/etc/passwd", "absolute paths are not allowed"),
        ("C:\\Windows\\win.ini", "absolute paths are not allowed"),
        ("photos/a.jpg\x00.txt", "NUL"),
    ],
)
def test_paths_leaving_the_export_are_refused(export_dir: Path, relative: str, reason: str) -> None:
    with pytest.raises(RefusedPath, match=reason):
        open_inside(os.path.realpath(export_dir), relative)


def test_a_symlink_pointing_out_is_refused_and_one_pointing_in_is_followed(
    export_dir: Path,
) -> None:
    (export_dir / "photos" / "out.jpg").symlink_to(export_dir.parent / "secret.txt")
    (export_dir / "linkdir").symlink_to(export_dir.parent)
    (export_dir / "photos" / "in.jpg").symlink_to(export_dir / "photos" / "a.jpg")
    root = os.path.realpath(export_dir)
    with pytest.raises(RefusedPath, match="outside the export folder"):
        open_inside(root, "photos/out.jpg")
    with pytest.raises(RefusedPath, match="outside the export folder"):
        open_inside(root, "linkdir/secret.txt")
    with open_inside(root, "photos/in.jpg") as f:
        assert f.read() == b"inside"


def test_a_folder_swapped_for_a_symlink_after_the_check_is_refused(
    export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """O_NOFOLLOW guards only the last component; the opened file is compared with
    the checked path, so a folder on the way swapped meanwhile is caught."""
    outside = export_dir.parent / "elsewhere"
    outside.mkdir()
    (outside / "a.jpg").write_bytes(b"outside")
    checked = importer._resolve

    def check_then_swap(root: str, relative: str) -> str:
        resolved = checked(root, relative)
        (export_dir / "photos").rename(export_dir / "photos.old")
        (export_dir / "photos").symlink_to(outside)
        return resolved

    monkeypatch.setattr(importer, "_resolve", check_then_swap)
    with pytest.raises(RefusedPath, match="changed while being opened"):
        open_inside(os.path.realpath(export_dir), "photos/a.jpg")


def test_an_opened_file_that_is_not_the_checked_one_is_refused(export_dir: Path) -> None:
    path = os.path.realpath(export_dir / "photos" / "a.jpg")
    other = os.stat(export_dir.parent / "secret.txt")
    with pytest.raises(RefusedPath, match="not the file that was checked"):
        importer._same_file(other, path)
    importer._same_file(os.stat(path), path)  # the same file passes


def test_a_fifo_or_a_folder_is_refused_without_blocking(export_dir: Path) -> None:
    os.mkfifo(export_dir / "photos" / "pipe.jpg")
    root = os.path.realpath(export_dir)
    with pytest.raises(RefusedPath, match="not a regular file"):
        open_inside(root, "photos/pipe.jpg")
    with pytest.raises(RefusedPath, match="not a regular file"):
        open_inside(root, "photos")


def test_a_missing_file_is_not_found(export_dir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_inside(os.path.realpath(export_dir), "photos/none.jpg")


def test_locating_the_export_from_its_folder_or_its_file(tmp_path: Path) -> None:
    folder = FIXTURES / "single_2020"
    assert locate_export(folder) == (folder / "result.json", folder)
    assert locate_export(folder / "result.json") == (folder / "result.json", folder)
    (tmp_path / "messages.html").write_text("<html>")
    with pytest.raises(InputError, match="HTML export"):
        locate_export(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        locate_export(tmp_path / "nope.json")
