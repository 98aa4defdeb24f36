"""The files an export message names, as descriptors and unchecked relative paths.

A message names its photo, file, thumbnail or contact card by a path relative to
the export folder, or by Telegram's placeholder when the bytes were not
exported. This module only reads those fields into :class:`ExportFileRef`; it
never touches the disk. Such a path is untrusted: which ones are safe to open is
:mod:`superbrain_core.history.importer`'s job, which resolves each one inside
the export folder before reading it.
"""

from __future__ import annotations

import attrs

from superbrain_core.history.desktop.values import int64_or_none, str_or_none
from superbrain_core.models import FileDescriptor, JSONDict

#: ``media_type`` of a ``file`` as the Bot API names that kind of message.
MEDIA_TYPES = {
    "sticker": "sticker",
    "voice_message": "voice",
    "video_message": "video_note",
    "video_file": "video",
    "animation": "animation",
    "audio_file": "audio",
}
#: Fields that hold a path relative to the export folder, and the file type each is.
PATH_FIELDS = ("photo", "file", "thumbnail", "contact_vcard")


@attrs.frozen
class ExportFileRef:
    """A file a message names. ``path`` is relative to the export folder and not yet
    checked; ``note`` is Telegram's placeholder when the bytes were not exported."""

    descriptor: FileDescriptor
    path: str | None
    note: str | None


def is_placeholder(path: str) -> bool:
    """Telegram's stand-in for bytes it did not export: ``(File not included. …)``,
    ``(File unavailable, please try again later)``, ``(File exceeds maximum size. …)``."""
    return path.startswith("(") and path.endswith(")")


def file_refs(data: JSONDict, message_type: str) -> tuple[ExportFileRef, ...]:
    """The files export message ``data`` names, one per :data:`PATH_FIELDS` it has."""
    refs: list[ExportFileRef] = []
    for field in PATH_FIELDS:
        value = data.get(field)
        if value is None:
            continue
        if field == "file":
            file_type = message_type if message_type in MEDIA_TYPES.values() else "document"
        else:
            file_type = {"contact_vcard": "vcard"}.get(field, field)
        path = value if isinstance(value, str) else None
        note = None
        if path is not None and is_placeholder(path):
            path, note = None, value
        elif path is None or not path.strip():
            path, note = None, f"no usable path in {field!r}"
        is_main = field in ("photo", "file")
        size_key = "photo_file_size" if field == "photo" else "file_size"
        metadata: JSONDict = {"export_field": field, "export_path": value}
        for key in ("media_type", "mime_type", "width", "height", "duration_seconds", size_key):
            if is_main and key in data:
                metadata[key] = data[key]
        refs.append(
            ExportFileRef(
                descriptor=FileDescriptor(
                    file_type=file_type,
                    file_id=None,
                    file_unique_id=None,
                    file_name=str_or_none(data.get("file_name")) if field == "file" else None,
                    mime_type=str_or_none(data.get("mime_type")) if field == "file" else None,
                    file_size=int64_or_none(data.get(size_key)) if is_main else None,
                    width=int64_or_none(data.get("width")) if is_main else None,
                    height=int64_or_none(data.get("height")) if is_main else None,
                    duration=int64_or_none(data.get("duration_seconds")) if is_main else None,
                    raw=metadata,
                ),
                path=path,
                note=note,
            )
        )
    return tuple(refs)
