"""JSON and text helpers that keep arbitrary Telegram content storable.

Telegram text can contain anything, including lone UTF-16 surrogates (JSON
allows ``"\\ud83d"`` on its own) that UTF-8 cannot encode, so a naive
``json.dumps(..., ensure_ascii=False)`` followed by a database write can fail and
lose the update. The helpers here choose a form that always encodes while
staying semantically equal to the input.
"""

from __future__ import annotations

import json
import re
from typing import Any

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


def dumps(value: Any) -> str:
    """Compact JSON that always encodes as UTF-8 and loads back equal to ``value``.

    Readable (non-ASCII kept) in the usual case; when the value holds lone
    surrogates it falls back to ASCII escapes, which JSON round-trips exactly.
    """
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
        encoded = message_json if key == message_key else dumps(value)
        parts.append(f"{_ASCII.encode(key)}:{encoded}")
    return "{" + ",".join(parts) + "}"


def loads(text: str | bytes | None) -> Any:
    """Inverse of :func:`dumps` (``None`` stays ``None``)."""
    if text is None:
        return None
    return json.loads(text)


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
    if value is None or not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub("\ufffd", value)
