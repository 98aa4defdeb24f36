"""Sample data the project writes itself: a believable day of the owner's Telegram.

Used by ``superbrain demo``, the tests and the benchmarks, so that a fresh clone
runs end to end with no token and no borrowed data. Everything is built through
:func:`make_update` / :func:`make_message`, which produce exactly the JSON shape
the Bot API sends.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

OWNER_ID = 100500
OWNER = {
    "id": OWNER_ID,
    "is_bot": False,
    "first_name": "Алексей",
    "username": "owner",
    "language_code": "ru",
}
OWNER_CHAT = {"id": OWNER_ID, "first_name": "Алексей", "username": "owner", "type": "private"}
BOT_ID = 7000000001
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Второй мозг", "username": "superbrain_bot"}
CHANNEL_CHAT = {"id": -1001234567890, "title": "Заметки инженера", "type": "channel"}

#: A fixed day, so the demo prints the same thing every time (09:00 in Moscow).
DAY_START = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def unix(when: datetime) -> int:
    return int(when.timestamp())


def fake_file(kind: str, seed: str, size: int | None = None, **extra: Any) -> dict[str, Any]:
    """A file object with stable ids derived from ``seed`` (same seed, same file)."""
    digest = hashlib.sha1(seed.encode()).hexdigest()
    obj: dict[str, Any] = {
        "file_id": f"{kind[:2].upper()}ACAgIAAxkBAAI{digest[:24]}",
        "file_unique_id": f"AQAD{digest[24:36]}",
    }
    if size is not None:
        obj["file_size"] = size
    obj.update(extra)
    return obj


def make_message(
    message_id: int,
    *,
    text: str | None = None,
    date: datetime = DAY_START,
    chat: dict[str, Any] | None = None,
    sender: dict[str, Any] | None = OWNER,
    reply_to: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Bot API Message object (private chat with the owner unless told otherwise).

    ``sender=None`` leaves out ``from``, as in channel posts.
    """
    msg: dict[str, Any] = {"message_id": message_id}
    if sender is not None:
        msg["from"] = sender
    msg["chat"] = chat or OWNER_CHAT
    msg["date"] = unix(date)
    if reply_to is not None:
        msg["reply_to_message"] = reply_to
    if text is not None:
        msg["text"] = text
    msg.update(fields)
    return msg


def make_update(update_id: int, kind: str = "message", **body: Any) -> dict[str, Any]:
    """A Bot API Update; ``body`` is the object under ``kind`` (a Message by default)."""
    if kind in {"message", "edited_message", "channel_post", "edited_channel_post"}:
        obj = make_message(**body)
    else:
        obj = body
    return {"update_id": update_id, kind: obj}


def bot_message(message_id: int, text: str, date: datetime) -> dict[str, Any]:
    """A message the bot sent, as it appears inside a reply's ``reply_to_message``."""
    return make_message(message_id, text=text, date=date, sender=BOT_USER)


def sample_bytes(seed: str, size: int) -> bytes:
    """Deterministic stand-in bytes for a file (the demo has no Telegram server to ask)."""
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def demo_day() -> list[dict[str, Any]]:
    """The demo's updates in arrival order; the bot answers as :data:`BOT_REPLIES` says."""
    t = DAY_START
    meeting = make_message(1, text="Завтра в 15:00 встреча с Олегом по проекту", date=t)
    clarify_q = bot_message(2, "Записал. Это встреча или задача?", t + timedelta(seconds=2))
    clarification = make_message(
        3, text="Это задача, а не встреча", date=t + timedelta(minutes=3), reply_to=clarify_q
    )
    photo = [
        fake_file("photo", "receipt-s", 1200, width=90, height=160),
        fake_file("photo", "receipt-m", 24000, width=320, height=568),
        fake_file("photo", "receipt", 96000, width=720, height=1280),
    ]
    receipt_date = t + timedelta(hours=3)
    updates = [
        {"update_id": 900001, "message": meeting},
        {"update_id": 900002, "message": clarification},
        make_update(
            900003,
            message_id=4,
            text="И напомни за час",
            date=t + timedelta(minutes=4),
            reply_to=make_message(
                3, text="Это задача, а не встреча", date=t + timedelta(minutes=3)
            ),
        ),
        make_update(
            900004, message_id=5, date=receipt_date, photo=photo, caption="Чек из кафе 1250 ₽"
        ),
        make_update(
            900005,
            "edited_message",
            message_id=5,
            date=receipt_date,
            edit_date=unix(receipt_date + timedelta(minutes=1)),
            photo=photo,
            caption="Чек из кафе 1 350 ₽",
        ),
        make_update(
            900006,
            message_id=6,
            date=t + timedelta(hours=5),
            media_group_id="13579246801",
            photo=[fake_file("photo", "dacha-1", 210000, width=1280, height=960)],
            caption="Фото с дачи",
        ),
        make_update(
            900007,
            message_id=7,
            date=t + timedelta(hours=5),
            media_group_id="13579246801",
            photo=[fake_file("photo", "dacha-2", 198000, width=1280, height=960)],
        ),
        make_update(
            900008,
            message_id=8,
            date=t + timedelta(hours=6),
            voice=fake_file("voice", "voice-1", 18000, duration=7, mime_type="audio/ogg"),
        ),
        make_update(
            900009,
            message_id=9,
            date=t + timedelta(hours=7),
            document=fake_file(
                "document",
                "report",
                35 * 1024 * 1024,
                file_name="Отчёт за квартал.pdf",
                mime_type="application/pdf",
            ),
            caption="Отчёт, посмотреть до пятницы",
        ),
        {"update_id": 900001, "message": meeting},  # Telegram redelivers: stored once
        make_update(
            900010,
            "channel_post",
            message_id=41,
            chat=CHANNEL_CHAT,
            sender=None,
            sender_chat=CHANNEL_CHAT,
            date=t + timedelta(hours=8),
            text="Новая заметка: https://example.org/postgres-skip-locked",
            entities=[{"type": "url", "offset": 14, "length": 40}],
        ),
        make_update(
            900011,
            message_id=10,
            date=t + timedelta(hours=9),
            forward_origin={
                "type": "channel",
                "chat": CHANNEL_CHAT,
                "message_id": 40,
                "date": unix(t + timedelta(hours=1)),
            },
            photo=[fake_file("photo", "receipt", 96000, width=720, height=1280)],
            caption="Тот же чек, переслал себе",
        ),
        {
            "update_id": 900012,
            "callback_query": {
                "id": "4382bfdwdsb323b2d9",
                "from": OWNER,
                "chat_instance": "-7315430269816637685",
                "data": "confirm:task:1",
                "message": bot_message(2, "Записал. Это встреча или задача?", t),
            },
        },
        {
            "update_id": 900013,
            "message_reaction_count_v2": {"chat": OWNER_CHAT, "note": "a future update kind"},
        },
        make_update(
            900014,
            message_id=11,
            date=t + timedelta(hours=10),
            text="Телеграм пропускает что угодно: \u0000 нулевой байт и эмодзи 🎉",
        ),
    ]
    return updates


#: Messages the bot sends during the demo: (after update_id, bot message, answers user message).
BOT_REPLIES: list[tuple[int, int, str, int]] = [
    (900001, 2, "Записал. Это встреча или задача?", 1),
    (900004, 12, "Сохранил чек.", 5),
]
