"""Telegram Desktop "Export chat history" (JSON) read as a stream and mapped to messages.

The reader the importer (:mod:`superbrain_core.history.importer`) drives, by
concern:

* :mod:`~superbrain_core.history.desktop.stream`: ``result.json`` walked with
  ijson, one message object at a time, each with its chat (:class:`ExportStream`);
* :mod:`~superbrain_core.history.desktop.locations`: where the reader is, so an
  error names the byte, line, column, chat and message;
* :mod:`~superbrain_core.history.desktop.peers`: the chat ids imported chats are
  stored under, and the way back (:func:`export_peer_of`);
* :mod:`~superbrain_core.history.desktop.mapping`: an export message as the
  :class:`~superbrain_core.models.NormalizedMessage` live capture produces;
* :mod:`~superbrain_core.history.desktop.files`: the files a message names, as
  unchecked paths relative to the export folder;
* :mod:`~superbrain_core.history.desktop.values`: what of a loose JSON value
  storage can keep.

Nothing here touches the disk beyond the stream it is given: which of a
message's file paths are safe to open is :mod:`superbrain_core.history.importer`'s job.
"""

from __future__ import annotations

from superbrain_core.history.desktop.files import (
    MEDIA_TYPES,
    PATH_FIELDS,
    ExportFileRef,
    is_placeholder,
)
from superbrain_core.history.desktop.locations import TrackedReader
from superbrain_core.history.desktop.mapping import (
    ENTITY_TYPES,
    REPLY_TEXT_MEMORY,
    SERVICE_ACTIONS,
    ExportMessage,
    MessageMapper,
    UnusableMessage,
    flatten_text,
    parse_export_date,
)
from superbrain_core.history.desktop.peers import (
    ACCOUNT_CHAT_BASES,
    ACCOUNT_CHAT_BLOCK,
    BASIC_GROUP_TYPES,
    CHANNEL_ID_OFFSET,
    CHANNEL_TYPES,
    PRIVATE_TYPES,
    ExportChat,
    ExportPeer,
    bot_api_chat_id,
    export_peer_of,
    import_chat_id,
    peer_id,
)
from superbrain_core.history.desktop.stream import (
    MAX_MESSAGE_DEPTH,
    MAX_OUTER_DEPTH,
    MAX_PATH_BYTES,
    MAX_SKIPPED_DEPTH,
    ExportStream,
    RawExportMessage,
)
from superbrain_core.history.desktop.values import INT64_MAX

__all__ = [
    "ACCOUNT_CHAT_BASES",
    "ACCOUNT_CHAT_BLOCK",
    "BASIC_GROUP_TYPES",
    "CHANNEL_ID_OFFSET",
    "CHANNEL_TYPES",
    "ENTITY_TYPES",
    "INT64_MAX",
    "MAX_MESSAGE_DEPTH",
    "MAX_OUTER_DEPTH",
    "MAX_PATH_BYTES",
    "MAX_SKIPPED_DEPTH",
    "MEDIA_TYPES",
    "PATH_FIELDS",
    "PRIVATE_TYPES",
    "REPLY_TEXT_MEMORY",
    "SERVICE_ACTIONS",
    "ExportChat",
    "ExportFileRef",
    "ExportMessage",
    "ExportPeer",
    "ExportStream",
    "MessageMapper",
    "RawExportMessage",
    "TrackedReader",
    "UnusableMessage",
    "bot_api_chat_id",
    "export_peer_of",
    "flatten_text",
    "import_chat_id",
    "is_placeholder",
    "parse_export_date",
    "peer_id",
]
