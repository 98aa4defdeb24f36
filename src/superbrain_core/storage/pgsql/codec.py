"""How capture data crosses into Postgres functions and back, without a driver.

Postgres refuses two things Telegram can send: the NUL character (in ``text``
and ``jsonb`` alike) and lone UTF-16 surrogates (``"\\ud83d"`` without its pair,
which JSON allows and ``jsonb`` rejects). A message holding either must still be
captured. So:

* *text columns* (``message_text``, ``reply_to_text``, file names...) get NUL
  removed and lone surrogates replaced by U+FFFD: they exist to be read and
  searched, and lose nothing there that matters;
* *raw JSON columns* (``raw_updates.payload``, ``raw_messages.raw_telegram_json``,
  ``entities``, ``forward_origin``, ``raw_files.raw_metadata``, bot responses'
  ``request``/``result``/``ai_analysis``, ``batch_runs.counts``) must stay
  verbatim, so every string (key or value) that Postgres would refuse is
  stored in a reversible escaped form and decoded on read.

The escape: a string is *escaped* when it contains NUL or a surrogate code
point, or when it starts with :data:`ESCAPE_MARK` (so that a string which merely
looks escaped is escaped too, and decoding is unambiguous). Its escaped form is
``ESCAPE_MARK`` followed by the string with backslash, NUL and each surrogate
written as two-character ``\\\\``, ``\\0`` and six-character ``\\uXXXX``
(``"a\\x00"`` becomes ``ESCAPE_MARK + "a" + "\\\\" + "0"``: a backslash and a
zero, not a NUL). Everything else, Cyrillic and emoji included, stays as it is,
readable in psql. Decoding a string that starts with the mark undoes those
three. The map is injective (escaped strings start with the mark, untouched
ones never do, and the body escape is prefix-free), so object keys never
collide and ``decode(encode(x)) == x`` for every JSON value.

This module only builds and reads JSON: the Postgres backend sends it through
psycopg, and the Supabase backend will send the same items through PostgREST's
``rpc`` to the same SQL functions (``sql/0002_capture_functions.sql``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from superbrain_core.errors import StorageError
from superbrain_core.jsonutil import READABLE, clean_text
from superbrain_core.models import (
    BotResponse,
    BotResponseIn,
    CaptureOutcome,
    CaptureResult,
    FileDescriptor,
    JSONDict,
    NormalizedMessage,
    NormalizedUpdate,
)
from superbrain_core.storage.base import CaptureOptions, initial_file_status, version_hash

# The capture semantics are the SQLite store's; sharing these two functions
# keeps the content hash and the initial file status identical on every backend.
from superbrain_core.telegram import EDIT_UPDATE_TYPES

#: Prefix of an escaped string. A private-use character no keyboard produces,
#: then a readable tag for whoever looks at the table with psql.
ESCAPE_MARK = "\ue000esc:"
#: Prefix of a number JSON cannot spell: ``NaN``, ``Infinity`` and ``-Infinity``
#: (Python's JSON reader accepts them, ``jsonb`` refuses them), stored as this mark
#: and the number's name, and read back as the float.
NUMBER_MARK = "\ue000num:"

_SURROGATE = re.compile("[\ud800-\udfff]")
# Inside an escaped string, backslash, NUL and each surrogate code point are
# written as \\, \0 and \uXXXX: prefix-free, so decoding is unambiguous, and per
# code point, so a high and a low surrogate that happen to be adjacent stay two
# (JSON's own escapes would join them into one character).
_BODY_ESCAPE = re.compile("[\\\\\x00\ud800-\udfff]")
_BODY_UNESCAPE = re.compile(r"\\(\\|0|u[0-9a-f]{4})")
_READABLE = READABLE  # orjson where it writes the same text
_STRICT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ESCAPED_NUL = "\\u0000"  # how JSON spells NUL inside an encoded string


def _needs_escape(value: str) -> bool:
    return (
        "\x00" in value
        or value.startswith((ESCAPE_MARK, NUMBER_MARK))
        or bool(_SURROGATE.search(value))
    )


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    if char == "\x00":
        return "\\0"
    return f"\\u{ord(char):04x}"


def _unescape_char(match: re.Match[str]) -> str:
    code = match.group(1)
    if code == "\\":
        return "\\"
    if code == "0":
        return "\x00"
    return chr(int(code[1:], 16))


def _escape_str(value: str) -> str:
    if not _needs_escape(value):
        return value
    return ESCAPE_MARK + _BODY_ESCAPE.sub(_escape_char, value)


def _unescape_str(value: str) -> Any:
    if value.startswith(NUMBER_MARK):
        return float(value[len(NUMBER_MARK) :])
    if not value.startswith(ESCAPE_MARK):
        return value
    return _BODY_UNESCAPE.sub(_unescape_char, value[len(ESCAPE_MARK) :])


def _unescape_key(value: str) -> str:
    """An object key: always a string (a key is never a number, whatever it spells)."""
    if not value.startswith(ESCAPE_MARK):
        return value
    return _BODY_UNESCAPE.sub(_unescape_char, value[len(ESCAPE_MARK) :])


def escape_json(value: Any) -> Any:
    """``value`` with every string Postgres would refuse in its escaped form.

    Returns new containers only where something changed, so a clean value
    comes back as the same object.
    """
    if isinstance(value, str):
        return _escape_str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return NUMBER_MARK + (
            "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        )
    if isinstance(value, dict):
        return {
            (_escape_str(k) if isinstance(k, str) else k): escape_json(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [escape_json(v) for v in value]
    return value


def unescape_json(value: Any) -> Any:
    """Inverse of :func:`escape_json`."""
    if isinstance(value, str):
        return _unescape_str(value)
    if isinstance(value, dict):
        return {
            (_unescape_key(k) if isinstance(k, str) else k): unescape_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [unescape_json(v) for v in value]
    return value


def _orjson_text(value: Any) -> str | None:
    """orjson's JSON for ``value``, or None where it refuses (integers past 64 bits,
    lone surrogates, keys that are no strings, deep nesting).

    The text only has to be read by ``jsonb``, which keeps values, not spellings,
    so it need not be the standard library's character for character. Several
    times faster than :mod:`json`; it writes NaN and the infinities as ``null``,
    which callers rule out.
    """
    try:
        return orjson.dumps(value).decode("utf-8")
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return None


def dumps_raw(value: Any) -> str:
    """JSON text for a raw JSON column: verbatim unless Postgres would refuse it.

    The common case costs one orjson encode and three substring scans (orjson
    refuses lone surrogates, so its text holds none); only a value that holds
    NUL, a lone surrogate or the mark is walked and escaped. Where orjson refuses
    the value, or its text holds ``null`` (possibly a NaN or an infinity it wrote
    so), the standard library's strict encoder decides.
    """
    text = _orjson_text(value)
    if text is None or "null" in text:
        try:
            text = _STRICT.encode(value)
        except ValueError:  # NaN or an infinity: JSON has no spelling jsonb accepts
            return _READABLE.encode(escape_json(value))
        if _SURROGATE.search(text):
            return _READABLE.encode(escape_json(value))
    if _ESCAPED_NUL in text or ESCAPE_MARK in text or NUMBER_MARK in text:
        text = _READABLE.encode(escape_json(value))
    return text


def loads_raw(text: str | None) -> Any:
    """Parse a raw JSON column read as text (``col::text``), decoding escapes."""
    if text is None:
        return None
    value = json.loads(text)
    return unescape_json(value) if ESCAPE_MARK in text or NUMBER_MARK in text else value


def clean(value: str | None) -> str | None:
    """A string as a Postgres text column stores it: no NUL, no lone surrogate."""
    if value is None:
        return None
    value = clean_text(value) or ""
    return value.replace("\x00", "") if "\x00" in value else value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- capture items -----------------------------------------------------------------


def capture_items(updates: Sequence[NormalizedUpdate], options: CaptureOptions) -> str:
    """The ``p_items`` argument of ``superbrain_capture_many`` for ``updates``, as JSON text.

    Built by string assembly so that each payload is encoded exactly once (its
    message travels inside it: the function stores ``payload -> update_type``
    as the message's raw JSON).
    """
    head = (
        '{"bot_id":'
        + str(int(options.bot_id))
        + ',"source":'
        + _READABLE.encode(clean(options.source))
        + ',"update_id":'
    )
    types: dict[str, str] = {}
    pieces = ["["]
    for update in updates:
        msg = update.message
        message = "null" if msg is None else _item_text(_message_item(update, msg, options))
        update_type = types.get(update.update_type)
        if update_type is None:
            update_type = types[update.update_type] = _READABLE.encode(clean(update.update_type))
        if len(pieces) > 1:
            pieces.append(",")
        pieces += (
            head,
            str(int(update.update_id)),
            ',"update_type":',
            update_type,
            ',"payload":',
            dumps_raw(update.payload),
            ',"message":',
            message,
            "}",
        )
    pieces.append("]")
    return "".join(pieces)


def _item_text(item: JSONDict) -> str:
    """A message item as JSON. Its text fields are clean and its raw JSON fields are
    escaped (NaN and the infinities are marked strings there), so orjson's
    ``null`` is always a real None here."""
    text = _orjson_text(item)
    return text if text is not None else _READABLE.encode(item)


def _message_item(
    update: NormalizedUpdate, msg: NormalizedMessage, options: CaptureOptions
) -> JSONDict:
    return {
        "chat_id": msg.chat_id,
        "message_id": msg.message_id,
        "user_id": msg.user_id,
        "message_text": clean(msg.text),
        "message_type": clean(msg.message_type),
        "reply_to_message_id": msg.reply_to_message_id,
        "reply_to_text": clean(msg.reply_to_text),
        "is_clarification": msg.is_clarification,
        "message_date": msg.date.isoformat(),
        "edit_date": _iso(msg.edit_date),
        "media_group_id": clean(msg.media_group_id),
        "message_thread_id": msg.message_thread_id,
        "sender_is_bot": msg.sender_is_bot,
        "entities": escape_json(msg.entities) if msg.entities else [],
        "forward_origin": escape_json(msg.forward_origin.to_json()) if msg.forward_origin else None,
        # Only edits need it: an original has one content by definition.
        "content_hash": version_hash(msg),
        "is_edit": update.update_type in EDIT_UPDATE_TYPES,
        "files": [_file_item(f, options) for f in msg.files],
        "business_connection_id": clean(msg.business_connection_id),
    }


def _file_item(desc: FileDescriptor, options: CaptureOptions) -> JSONDict:
    status, reason = initial_file_status(desc, options)
    return {
        "file_type": clean(desc.file_type),
        "file_id": clean(desc.file_id),
        "file_unique_id": clean(desc.file_unique_id),
        "file_key": clean(desc.file_unique_id or desc.file_id or desc.file_type),
        "file_name": clean(desc.file_name),
        "mime_type": clean(desc.mime_type),
        "file_size": desc.file_size,
        "raw_metadata": escape_json(desc.raw),
        "status": status.value,
        "download_reason": reason,
    }


def capture_results(
    updates: Sequence[NormalizedUpdate], rows: Sequence[JSONDict]
) -> list[CaptureResult]:
    """``superbrain_capture_many``'s result, one :class:`CaptureResult` per update."""
    if len(rows) != len(updates):
        raise StorageError(f"expected {len(updates)} capture results, got {len(rows)}")
    return [
        CaptureResult(
            update.update_id,
            update.update_type,
            CaptureOutcome(row["outcome"]),
            raw_message_id=row.get("raw_message_id"),
            version=row.get("version"),
            chain_id=row.get("chain_id"),
            file_row_ids=tuple(row.get("file_row_ids") or ()),
        )
        for update, row in zip(updates, rows, strict=True)
    ]


# -- bot responses ------------------------------------------------------------------


def bot_response_items(responses: Sequence[BotResponseIn]) -> str:
    """The ``p_items`` argument of ``superbrain_record_bot_responses``, as JSON text."""
    return _READABLE.encode(
        [
            {
                "chat_id": r.chat_id,
                "message_id": r.message_id,
                "user_id": r.user_id,
                "response_text": clean(r.response_text),
                "response_type": clean(r.response_type),
                "related_user_message_id": r.related_user_message_id,
                "ai_analysis": escape_json(r.ai_analysis),
                "method": clean(r.method),
                "request": escape_json(r.request),
                "result": escape_json(r.result),
                "error": clean(r.error),
                "created_at": _iso(r.created_at),
                "is_edit": r.is_edit,
                "idempotency_key": clean(r.idempotency_key),
            }
            for r in responses
        ]
    )


def bot_response_from_row(row: JSONDict) -> BotResponse:
    """A ``bot_responses`` row as a JSON object (``to_jsonb(row)``) to the model."""
    return BotResponse(
        id=int(row["id"]),
        chat_id=int(row["chat_id"]),
        message_id=row.get("message_id"),
        user_id=row.get("user_id"),
        response_text=row.get("response_text"),
        response_type=row.get("response_type") or "text",
        related_user_message_id=row.get("related_user_message_id"),
        chain_id=row.get("chain_id"),
        ai_analysis=unescape_json(row.get("ai_analysis")),
        method=row.get("method"),
        request=unescape_json(row.get("request")),
        result=unescape_json(row.get("result")),
        error=row.get("error"),
        created_at=parse_timestamp(row.get("created_at")),
        is_edit=bool(row.get("is_edit")),
    )


def parse_timestamp(value: str | datetime | None) -> datetime:
    """A timestamp from JSON (``to_jsonb(timestamptz)``) or the driver, as aware UTC."""
    if value is None:
        return datetime.fromtimestamp(0, tz=UTC)
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
