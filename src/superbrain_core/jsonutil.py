"""JSON and text helpers that keep arbitrary Telegram content storable.

Telegram text can contain anything, including lone UTF-16 surrogates (JSON
allows ``"\\ud83d"`` on its own) that UTF-8 cannot encode, so a naive
``json.dumps(..., ensure_ascii=False)`` followed by a database write can fail and
lose the update. The helpers here choose a form that always encodes while
staying semantically equal to the input.

Speed: encoding and decoding go through orjson (several times the standard
library's speed) wherever its output is the standard library's byte for byte,
and through :mod:`json` for everything orjson refuses or would change: integers
past 64 bits (orjson refuses them when encoding and turns them into floats when
decoding), lone surrogates, NaN and Infinity (orjson writes ``null``), floats
orjson spells differently (``1e-7`` for ``1e-07``), numbers too large for a
double, non-string keys and nesting past orjson's limit. What was stored before
and what is stored now are the same text, so idempotency checks that compare
encoded JSON keep holding across the switch.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

_SURROGATE = re.compile("[\ud800-\udfff]")
#: A JSON string (to the end of the text when it is not closed), or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')

#: Containers nested deeper than this in one update are refused as input errors.
#: Telegram's deepest (a reply's pinned message's keyboard) stay under twenty;
#: the bound keeps hostile input away from recursive decoders and encoders.
MAX_DEPTH = 128

# Reused encoders: json.dumps() with options builds a new encoder on every call.
_READABLE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))

#: orjson output that may differ from the standard library's: floats written with
#: a one-digit negative exponent or as ``0.0000…`` where the standard library
#: writes ``1e-05``. (orjson also writes NaN and Infinity as ``null``: output
#: holding ``null`` is checked by :func:`_has_nonfinite`.)
_ORJSON_SUSPECT = re.compile(rb"[0-9]e-[0-9](?![0-9])|0\.0000")
#: Input with 19+ digits in a row (a JSON integer has no leading zero) may hold an
#: integer past 64 bits, which orjson would silently decode as a float. Written
#: with a leading [1-9], the scan runs at several times the speed of [0-9]{19}.
_LONG_DIGITS = re.compile("[1-9][0-9]{18}")
_LONG_DIGITS_BYTES = re.compile(b"[1-9][0-9]{18}")


def _has_nonfinite(value: Any) -> bool:
    """Whether ``value`` holds a NaN or an infinity anywhere (orjson writes them as ``null``).

    Only asked when orjson's output holds ``null``: a classification, a routing
    entry or a record has a dozen ``None`` fields, and walking them is a third of
    what encoding them again with the standard library would cost. Float
    subclasses need no look: orjson refuses them, and the caller falls back.
    """
    for item in value.values() if isinstance(value, dict) else value:
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is float:
            if not math.isfinite(item):
                return True
        elif isinstance(item, (dict, list, tuple)):
            if item and _has_nonfinite(item):
                return True
        else:  # a type orjson knows and the standard library may not: it decides
            return True
    return False


def _fast(value: Any) -> str | None:
    """``value`` encoded by orjson when that is exactly the standard library's text."""
    try:
        out = orjson.dumps(value)
    except (TypeError, ValueError):  # >64-bit ints, lone surrogates, deep nesting, odd keys
        return None
    # Substring tests first (memchr speed); the expression only when one may apply.
    if (b"e-" in out or b"0.0000" in out) and _ORJSON_SUSPECT.search(out):
        return None
    # Only a container is walked; anything else with null (a bare NaN) falls back.
    if b"null" in out and (not isinstance(value, (dict, list, tuple)) or _has_nonfinite(value)):
        return None
    return out.decode("utf-8")


class ReadableEncoder:
    """``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))``'s ``encode``, through
    orjson wherever that gives the same text (lone surrogates stay as they are, as
    the standard library leaves them: callers that store to Postgres escape them)."""

    def encode(self, value: Any) -> str:
        fast = _fast(value)
        return fast if fast is not None else _READABLE.encode(value)


#: The shared :class:`ReadableEncoder`.
READABLE = ReadableEncoder()


def dumps(value: Any) -> str:
    """Compact JSON that always encodes as UTF-8 and loads back equal to ``value``.

    Readable (non-ASCII kept) in the usual case; when the value holds lone
    surrogates it falls back to ASCII escapes, which JSON round-trips exactly.
    """
    fast = _fast(value)
    if fast is not None:
        return fast
    text = _READABLE.encode(value)
    if _SURROGATE.search(text):
        return _ASCII.encode(value)
    return text


_SORTED = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), sort_keys=True)


def dumps_sorted(value: Any) -> str:
    """ASCII JSON with sorted keys: one text per value, whatever its key order (for hashes)."""
    return _SORTED.encode(value)


def dumps_update(payload: dict[str, Any], message_key: str, message_json: str | None) -> str:
    """``dumps(payload)``, reusing the already encoded message under ``message_key``.

    Capture stores both the whole update and its message; encoding the message
    once halves the JSON work on the hot path. Key order is preserved.
    """
    if message_json is None or message_key not in payload:
        return dumps(payload)
    parts = []
    for key, value in payload.items():
        if key == message_key:
            encoded = message_json
        elif type(value) is int:  # the update_id: its decimal digits, as both encoders write
            encoded = str(value)
        else:
            encoded = dumps(value)
        name = _KEYS.get(key)
        parts.append(f"{_ASCII.encode(key) if name is None else name}:{encoded}")
    return "{" + ",".join(parts) + "}"


#: The encoded keys every update has (``update_id`` and its kind), encoded once.
_KEYS = {
    key: _ASCII.encode(key)
    for key in (
        "update_id",
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_message",
        "edited_business_message",
    )
}


#: What :func:`loads_exact` returns when orjson cannot decide alone.
UNDECIDED: Any = object()


def loads_exact(text: str | bytes) -> Any:
    """``text`` decoded by orjson when that is exactly what :func:`json.loads` gives;
    :data:`UNDECIDED` otherwise (malformed text, NaN or Infinity, lone surrogate
    escapes, a run of 19+ digits that may be an integer past 64 bits, nesting past
    orjson's limit, text that is not UTF-8): the caller then asks the standard
    library, whose answer or error is the reference."""
    if isinstance(text, bytes):
        if _LONG_DIGITS_BYTES.search(text):
            return UNDECIDED
    elif _LONG_DIGITS.search(text):
        return UNDECIDED
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return UNDECIDED


def loads(text: str | bytes | None) -> Any:
    """Inverse of :func:`dumps` (``None`` stays ``None``)."""
    if text is None:
        return None
    value = loads_exact(text)
    if value is UNDECIDED:
        return json.loads(text)
    return value


def nested_too_deep(
    text: str, start: int = 0, end: int | None = None, limit: int = MAX_DEPTH
) -> int | None:
    """Where JSON text first opens a container deeper than ``limit``, else ``None``.

    Scans ``text[start:end]`` (brackets inside strings do not count) and returns
    the index of the first ``[`` or ``{`` past the limit. Cheap in the usual case:
    text with no more brackets than ``limit`` cannot be deeper and is not scanned.
    """
    stop = len(text) if end is None else end
    if text.count("{", start, stop) + text.count("[", start, stop) <= limit:
        return None
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text, start, stop):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif char in "]}":
            depth -= 1
    return None


def clean_text(value: str | None) -> str | None:
    """``value`` with lone surrogates replaced by U+FFFD, for plain text columns.

    Only derived columns use this; the verbatim payload keeps the original.
    """
    # isascii() reads a flag CPython keeps: ASCII text (most ids and labels) skips the scan.
    if value is None or value.isascii() or not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub("\ufffd", value)
