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
    FileStatus,
    MessageChain,
    RawFile,
    RawMessage,
    RawUpdate,
    RoutingEntry,
)


def ts(value: datetime | None) -> str | None:
    """Fixed-width UTC ISO text (``…T06:00:00.000000+00:00``), so text order is time order."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


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


def raw_message(row: sqlite3.Row) -> RawMessage:
    return RawMessage(
        id=row["id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        version=row["version"],
        user_id=row["user_id"],
        message_type=row["message_type"],
        message_text=row["message_text"],
        message_date=dt(row["message_date"]) or utcnow(),
        edit_date=dt(row["edit_date"]),
        reply_to_message_id=row["reply_to_message_id"],
        reply_to_text=row["reply_to_text"],
        is_clarification=bool(row["is_clarification"]),
        chain_id=row["chain_id"],
        media_group_id=row["media_group_id"],
        message_thread_id=row["message_thread_id"],
        sender_is_bot=bool(row["sender_is_bot"]),
        entities=jsonutil.loads(row["entities"]) or [],
        forward_origin=jsonutil.loads(row["forward_origin"]),
        raw_telegram_json=jsonutil.loads(row["raw_telegram_json"]),
        update_id=row["update_id"],
        source=row["source"],
        is_processed=bool(row["is_processed"]),
        processed_at=dt(row["processed_at"]),
        created_at=dt(row["created_at"]) or utcnow(),
    )


def raw_file(row: sqlite3.Row) -> RawFile:
    return RawFile(
        id=row["id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        user_id=row["user_id"],
        file_type=row["file_type"],
        file_id=row["file_id"],
        file_unique_id=row["file_unique_id"],
        file_name=row["file_name"],
        mime_type=row["mime_type"],
        file_size=row["file_size"],
        file_path=row["file_path"],
        file_hash=row["file_hash"],
        status=FileStatus(row["status"]),
        download_reason=row["download_reason"],
        raw_metadata=jsonutil.loads(row["raw_metadata"]),
        is_processed=bool(row["is_processed"]),
        processed_at=dt(row["processed_at"]),
        uploaded_at=dt(row["uploaded_at"]) or utcnow(),
    )


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
    return RoutingEntry(
        id=row["id"],
        raw_message_id=row["raw_message_id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        destination=row["destination"],
        record_id=row["record_id"],
        classification=jsonutil.loads(row["classification"]),
        classifier=row["classifier"],
        classifier_version=row["classifier_version"],
        confidence=row["confidence"],
        input_version=row["input_version"],
        run_id=row["run_id"],
        created_at=dt(row["created_at"]) or utcnow(),
        superseded_at=dt(row["superseded_at"]),
    )
