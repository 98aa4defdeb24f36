"""Postgres rows to model records, shared by the Postgres store's modules.

Explicit column lists: a table upgraded from the seed schema has its columns in
another order (and may hold NULLs where capture never writes one), so the
conversions tolerate what old rows can contain. Raw JSON columns are read as
text and decoded by :mod:`pgcodec`, which undoes the NUL-safe escape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from superbrain_core.models import (
    BotResponse,
    ChainReply,
    MessageChain,
    RawFile,
    RawMessage,
    RoutingEntry,
)
from superbrain_core.storage import rows
from superbrain_core.storage.pgsql import codec as pgcodec

# -- columns and converters ---------------------------------------------------------------
#
# Explicit column lists: a table upgraded from the seed schema has its columns in
# another order (and may hold NULLs where capture never writes one), so the
# conversions tolerate what old rows can contain.

MESSAGE_COLUMNS = (
    "id, chat_id, message_id, version, user_id, message_type, message_text, message_date,"
    " edit_date, reply_to_message_id, reply_to_text, is_clarification, chain_id::text AS chain_id,"
    " media_group_id, message_thread_id, sender_is_bot, entities::text AS entities,"
    " forward_origin::text AS forward_origin, raw_telegram_json::text AS raw_telegram_json,"
    " update_id, source, is_processed, processed_at, created_at"
)
FILE_COLUMNS = (
    "id, chat_id, message_id, user_id, file_type, file_id, file_unique_id, file_name, mime_type,"
    " file_size, file_path, file_hash, status, download_reason,"
    " raw_metadata::text AS raw_metadata, is_processed, processed_at, uploaded_at"
)
BOT_COLUMNS = (
    "id, chat_id, message_id, user_id, response_text, response_type, related_user_message_id,"
    " chain_id::text AS chain_id, ai_analysis::text AS ai_analysis, method,"
    " request::text AS request, result::text AS result, error, created_at, is_edit"
)
CHAIN_COLUMNS = (
    "chain_id::text AS chain_id, chat_id, user_id, original_message_id, original_text,"
    " replies::text AS replies, created_at, updated_at"
)


def utc(value: datetime | None) -> datetime:
    """The driver's aware datetime as UTC; a missing seed timestamp reads as now."""
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


#: A row read with the column lists above (psycopg's dict rows are one kind).
Row = Mapping[str, Any]

#: Rows read by psycopg with the column lists above.
PSYCOPG = rows.Decoding(ts=utc, raw=pgcodec.loads_raw)


def bot_response(row: Row) -> BotResponse:
    return BotResponse(
        id=row["id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        user_id=row["user_id"],
        response_text=row["response_text"],
        response_type=row["response_type"] or "text",
        related_user_message_id=row["related_user_message_id"],
        chain_id=row["chain_id"],
        ai_analysis=pgcodec.loads_raw(row["ai_analysis"]),
        method=row["method"],
        request=pgcodec.loads_raw(row["request"]),
        result=pgcodec.loads_raw(row["result"]),
        error=row["error"],
        created_at=utc(row["created_at"]),
        is_edit=bool(row["is_edit"]),
    )


def chain(row: Row) -> MessageChain:
    created_at = utc(row["created_at"])
    return MessageChain(
        chain_id=row["chain_id"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        original_message_id=row["original_message_id"],
        original_text=row["original_text"],
        replies=tuple(chain_replies(row["replies"], created_at)),
        created_at=created_at,
        updated_at=utc(row["updated_at"] or row["created_at"]),
    )


def chain_replies(text: str | None, fallback: datetime) -> list[ChainReply]:
    """The reply list; entries written by the seed bot may lack fields or use other names."""
    # Not a raw column: reply texts are cleaned like message_text, never escaped.
    return chain_replies_from(json.loads(text) if text else [], fallback)


def chain_replies_from(replies: Any, fallback: datetime) -> list[ChainReply]:
    """:func:`chain_replies` for the already decoded ``replies`` value (PostgREST sends
    jsonb as JSON, not text), so both stores read seed entries the same way."""
    if not isinstance(replies, list):
        return []
    out = []
    for entry in replies:
        if not isinstance(entry, dict) or not isinstance(entry.get("message_id"), int):
            continue
        when = entry.get("date") or entry.get("created_at")
        try:
            date = pgcodec.parse_timestamp(when) if isinstance(when, str) else fallback
        except ValueError:
            date = fallback
        out.append(
            ChainReply(
                message_id=entry["message_id"],
                text=entry.get("text", entry.get("message_text")),
                date=date,
                user_id=entry.get("user_id"),
                reply_to_message_id=entry.get("reply_to_message_id"),
                reply_to_text=entry.get("reply_to_text"),
            )
        )
    return out


ROUTING_COLUMNS = (
    "id, raw_message_id, chat_id, message_id, destination, record_id,"
    " classification::text AS classification, classifier, classifier_version, confidence,"
    " input_version, run_id, created_at, superseded_at"
)


def raw_message(row: Row) -> RawMessage:
    return rows.raw_message(row, PSYCOPG)


def raw_file(row: Row) -> RawFile:
    return rows.raw_file(row, PSYCOPG)


def routing_entry(row: Row) -> RoutingEntry:
    return rows.routing_entry(row, PSYCOPG)
