"""Row converters shared by the SQLite store's modules: SQLite rows to model records.

Timestamps are stored as fixed-width UTC ISO text so that text order is time
order; these helpers are the one place that format is written and read.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from superbrain_core import jsonutil
from superbrain_core.models import (
    BotResponse,
    ChainReply,
    FileDescriptor,
    FileStatus,
    MessageChain,
    NormalizedMessage,
    RawFile,
    RawMessage,
    RawUpdate,
    RoutingEntry,
    UpdateConflict,
)
from superbrain_core.storage import rows


def ts(value: datetime | None) -> str | None:
    """Fixed-width UTC ISO text (``…T06:00:00.000000+00:00``), so text order is time order."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def max_id(conn: sqlite3.Connection, table: str) -> int:
    """The largest row id in ``table`` (0 when empty): a plain ``INTEGER PRIMARY KEY``
    table gives the next inserted row this plus one, which the bulk writers use to
    know their rows' ids without reading them back one by one."""
    (value,) = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
    return int(value)


def dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def _required(value: str | None) -> datetime:
    return dt(value) or utcnow()


#: SQLite rows: fixed-width ISO text timestamps, JSON as text.
SQLITE = rows.Decoding(ts=_required, raw=jsonutil.loads)


def raw_update(row: sqlite3.Row) -> RawUpdate:
    return RawUpdate(
        id=row["id"],
        bot_id=row["bot_id"],
        update_id=row["update_id"],
        update_type=row["update_type"],
        payload=jsonutil.loads(row["payload"]),
        received_at=dt(row["received_at"]) or utcnow(),
        source=row["source"],
    )


def update_conflict(row: sqlite3.Row) -> UpdateConflict:
    return UpdateConflict(
        id=row["id"],
        bot_id=row["bot_id"],
        update_id=row["update_id"],
        update_type=row["update_type"],
        stored_payload=jsonutil.loads(row["stored_payload"]),
        payload=jsonutil.loads(row["payload"]),
        received_at=dt(row["received_at"]) or utcnow(),
        source=row["source"],
    )


def raw_message(row: sqlite3.Row) -> RawMessage:
    return rows.raw_message(row, SQLITE)


def raw_file(row: sqlite3.Row) -> RawFile:
    return rows.raw_file(row, SQLITE)


def bot_response(row: sqlite3.Row) -> BotResponse:
    return BotResponse(
        id=row["id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        user_id=row["user_id"],
        response_text=row["response_text"],
        response_type=row["response_type"],
        related_user_message_id=row["related_user_message_id"],
        chain_id=row["chain_id"],
        ai_analysis=jsonutil.loads(row["ai_analysis"]),
        method=row["method"],
        request=jsonutil.loads(row["request"]),
        result=jsonutil.loads(row["result"]),
        error=row["error"],
        created_at=dt(row["created_at"]) or utcnow(),
        is_edit=bool(row["is_edit"]),
    )


def chain(row: sqlite3.Row) -> MessageChain:
    replies = tuple(
        ChainReply(
            message_id=r["message_id"],
            text=r.get("text"),
            date=datetime.fromisoformat(r["date"]),
            user_id=r.get("user_id"),
            reply_to_message_id=r.get("reply_to_message_id"),
            reply_to_text=r.get("reply_to_text"),
        )
        for r in jsonutil.loads(row["replies"]) or []
    )
    return MessageChain(
        chain_id=row["chain_id"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        original_message_id=row["original_message_id"],
        original_text=row["original_text"],
        replies=replies,
        created_at=dt(row["created_at"]) or utcnow(),
        updated_at=dt(row["updated_at"]) or utcnow(),
    )


def routing_entry(row: sqlite3.Row) -> RoutingEntry:
    return rows.routing_entry(row, SQLITE)


def file_values(
    msg: NormalizedMessage,
    desc: FileDescriptor,
    status: FileStatus,
    reason: str | None,
    now: str | None,
) -> tuple[object, ...]:
    """The values of a new ``raw_files`` row, in :data:`FILE_INSERT_COLUMNS` order.

    One definition for capture and import, so a file is described the same way
    whichever path stored it.
    """
    return (
        msg.user_id,
        msg.message_id,
        desc.file_type,
        desc.file_name,
        desc.file_size,
        jsonutil.dumps(desc.raw),
        now,
        msg.chat_id,
        desc.file_id,
        desc.file_unique_id,
        desc.file_unique_id or desc.file_id or desc.file_type,
        desc.mime_type,
        status.value,
        reason,
    )


#: The columns :func:`file_values` fills.
FILE_INSERT_COLUMNS = (
    "user_id, message_id, file_type, file_name, file_size, raw_metadata, uploaded_at,"
    " chat_id, file_id, file_unique_id, file_key, mime_type, status, download_reason"
)


#: The columns :func:`message_values` fills.
MESSAGE_INSERT_COLUMNS = (
    "user_id, message_id, message_text, message_type, reply_to_message_id, reply_to_text,"
    " is_clarification, raw_telegram_json, created_at, chat_id, version, message_date,"
    " edit_date, media_group_id, message_thread_id, chain_id, sender_is_bot, entities,"
    " forward_origin, update_id, bot_id, update_type, source, content_hash"
)


def message_values(
    msg: NormalizedMessage,
    *,
    raw_json: str,
    now: str | None,
    version: int,
    chain_id: str | None,
    update_id: int | None,
    update_type: str | None,
    bot_id: int,
    source: str,
    content: str,
) -> tuple[object, ...]:
    """The values of a new ``raw_messages`` row, in :data:`MESSAGE_INSERT_COLUMNS` order.

    One definition for capture and import, so a message is stored the same way
    whichever path brought it. ``content`` is the version hash
    (:func:`~superbrain_core.storage.base.version_hash`), computed once by the caller.
    """
    edit_key = ts(msg.edit_date)
    return (
        msg.user_id,
        msg.message_id,
        jsonutil.clean_text(msg.text),
        msg.message_type,
        msg.reply_to_message_id,
        jsonutil.clean_text(msg.reply_to_text),
        int(msg.is_clarification),
        raw_json,
        now,
        msg.chat_id,
        version,
        ts(msg.date),
        edit_key,
        msg.media_group_id,
        msg.message_thread_id,
        chain_id,
        int(msg.sender_is_bot),
        jsonutil.dumps(msg.entities) if msg.entities else "[]",
        jsonutil.dumps(msg.forward_origin.to_json()) if msg.forward_origin else None,
        update_id,
        bot_id,
        update_type,
        source,
        content,
    )
