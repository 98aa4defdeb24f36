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


def clean_text(value: str | None) -> str | None:
    """``value`` with lone surrogates replaced by U+FFFD, for plain text columns.

    Only derived columns use this; the verbatim payload keeps the original.
    """
    if value is None or not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub("\ufffd", value)
