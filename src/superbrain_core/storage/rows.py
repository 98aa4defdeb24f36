"""Database rows to model records, once for every backend.

SQLite, psycopg and PostgREST hand back the same columns in different forms:
timestamps as ISO text or as datetimes, raw JSON as text or as parsed values
(possibly carrying :mod:`pgcodec`'s NUL-safe escape). A :class:`Decoding` says
which; the converters here are then shared, so every store builds identical
records and a new column is added in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import attrs

from superbrain_core.models import FileStatus, RawFile, RawMessage, RoutingEntry


class Row(Protocol):
    """Anything indexable by column name: ``sqlite3.Row``, a psycopg dict row, JSON."""

    def __getitem__(self, key: str, /) -> Any: ...


@attrs.frozen
class Decoding:
    """How one backend's rows carry timestamps (``ts``) and raw JSON (``raw``)."""

    ts: Callable[[Any], datetime]
    raw: Callable[[Any], Any]

    def maybe_ts(self, value: Any) -> datetime | None:
        return self.ts(value) if value else None


def raw_message(row: Row, d: Decoding) -> RawMessage:
    return RawMessage(
        id=row["id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        version=row["version"],
        user_id=row["user_id"],
        message_type=row["message_type"] or "unknown",
        message_text=row["message_text"],
        message_date=d.ts(row["message_date"]),
        edit_date=d.maybe_ts(row["edit_date"]),
        reply_to_message_id=row["reply_to_message_id"],
        reply_to_text=row["reply_to_text"],
        is_clarification=bool(row["is_clarification"]),
        chain_id=row["chain_id"],
        media_group_id=row["media_group_id"],
        message_thread_id=row["message_thread_id"],
        sender_is_bot=bool(row["sender_is_bot"]),
        entities=d.raw(row["entities"]) or [],
        forward_origin=d.raw(row["forward_origin"]),
        raw_telegram_json=d.raw(row["raw_telegram_json"]) or {},
        update_id=row["update_id"],
        source=row["source"],
        is_processed=bool(row["is_processed"]),
        processed_at=d.maybe_ts(row["processed_at"]),
        created_at=d.ts(row["created_at"] or row["message_date"]),
    )


def raw_file(row: Row, d: Decoding) -> RawFile:
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
        raw_metadata=d.raw(row["raw_metadata"]) or {},
        is_processed=bool(row["is_processed"]),
        processed_at=d.maybe_ts(row["processed_at"]),
        uploaded_at=d.ts(row["uploaded_at"]),
    )


def routing_entry(row: Row, d: Decoding) -> RoutingEntry:
    return RoutingEntry(
        id=row["id"],
        raw_message_id=row["raw_message_id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        destination=row["destination"],
        record_id=row["record_id"],
        classification=d.raw(row["classification"]),
        classifier=row["classifier"],
        classifier_version=row["classifier_version"],
        confidence=float(row["confidence"]),
        input_version=row["input_version"],
        run_id=row["run_id"],
        created_at=d.ts(row["created_at"]),
        superseded_at=d.maybe_ts(row["superseded_at"]),
    )
