"""The Postgres side of :meth:`Store.import_messages`, shared with the Supabase store.

Both backends call ``superbrain_import_messages`` (``sql/0006_desktop_import.sql``)
with the jsonb built here, one function call per batch (one statement, so one
transaction). The message text and file fields are cleaned and the raw export
object NUL-safely encoded exactly as capture does (:mod:`pgcodec`), so imported
rows read back like captured ones on every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from superbrain_core.errors import StorageError
from superbrain_core.models import ImportedFile, ImportedMessage, JSONDict
from superbrain_core.storage.base import CaptureOptions, version_hash
from superbrain_core.storage.pgsql import codec as pgcodec

FUNCTION = "superbrain_import_messages"


def import_items(messages: Sequence[ImportedMessage]) -> str:
    """The ``p_items`` argument as JSON text; each raw object is encoded once."""
    parts = []
    for item in messages:
        msg = item.message
        fields: JSONDict = {
            "chat_id": msg.chat_id,
            "message_id": msg.message_id,
            "user_id": msg.user_id,
            "message_text": pgcodec.clean(msg.text),
            "message_type": pgcodec.clean(msg.message_type),
            "reply_to_message_id": msg.reply_to_message_id,
            "reply_to_text": pgcodec.clean(msg.reply_to_text),
            "is_clarification": msg.is_clarification,
            "message_date": msg.date.isoformat(),
            "edit_date": msg.edit_date.isoformat() if msg.edit_date else None,
            "media_group_id": pgcodec.clean(msg.media_group_id),
            "message_thread_id": msg.message_thread_id,
            "sender_is_bot": msg.sender_is_bot,
            "entities": pgcodec.escape_json(msg.entities) if msg.entities else [],
            "forward_origin": pgcodec.escape_json(msg.forward_origin.to_json())
            if msg.forward_origin
            else None,
            "content_hash": version_hash(msg),
            "files": [_file_item(f) for f in item.files],
        }
        parts.append('{"raw":' + pgcodec.dumps_raw(msg.raw) + "," + pgcodec.dumps_raw(fields)[1:])
    return "[" + ",".join(parts) + "]"


def _file_item(imported: ImportedFile) -> JSONDict:
    desc = imported.descriptor
    return {
        "file_type": pgcodec.clean(desc.file_type),
        "file_id": pgcodec.clean(desc.file_id),
        "file_unique_id": pgcodec.clean(desc.file_unique_id),
        "file_key": pgcodec.clean(desc.file_unique_id or desc.file_id or desc.file_type),
        "file_name": pgcodec.clean(desc.file_name),
        "mime_type": pgcodec.clean(desc.mime_type),
        "file_size": desc.file_size,
        "raw_metadata": pgcodec.escape_json(desc.raw),
        "status": imported.status.value,
        "download_reason": pgcodec.clean(imported.reason),
        "file_hash": imported.file_hash,
        "file_path": pgcodec.clean(imported.file_path),
    }


def import_ids(messages: Sequence[ImportedMessage], found: Any) -> tuple[int | None, ...]:
    """The function's result checked against the input: one id (or null) per message."""
    ids = found if isinstance(found, list) else []
    if len(ids) != len(messages):
        raise StorageError(f"expected {len(messages)} import results, got {len(ids)}")
    return tuple(int(i) if i is not None else None for i in ids)


def arguments(payload: str, options: CaptureOptions) -> tuple[str, str, int]:
    return payload, pgcodec.clean(options.source) or "desktop_export", int(options.bot_id)
