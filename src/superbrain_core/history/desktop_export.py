"""Telegram Desktop "Export chat history" (JSON) read as a stream and mapped to messages.

An export is one ``result.json``: either a single chat (``name``, ``type``,
``id``, ``messages``) or a whole account (``chats.list[]`` and
``left_chats.list[]``, each chat shaped like the single one). It can be
gigabytes, so it is never loaded whole: :class:`ExportStream` walks it with ijson
(the C backend when it is there), builds one message object at a time and
attaches the chat it belongs to. Telegram writes a chat's ``name``, ``type`` and
``id`` before its ``messages``; an export that does not is refused with the spot.

The mapping (:class:`MessageMapper`) turns an export message into the same
:class:`NormalizedMessage` live capture produces, so storage, chains and the
analyzer need nothing import-specific:

* **Keys.** Supergroup and channel ids become Bot API chat ids, so an imported
  message and the same message captured by the bot have the same
  ``(chat_id, message_id)``. Every other chat is numbered per account, so its
  messages get a chat id of their own that no live chat has
  (:func:`import_chat_id`, :func:`export_peer_of` maps back).
* **Eras.** ``from_id`` is a bare number in 2020 exports and ``"user123"`` /
  ``"channel123"`` later; ``date_unixtime``/``edited_unixtime`` (2022+) are
  exact, older exports only have local wall-clock ``date``/``edited``, read in
  the time zone the caller names (the exporter's clock, which Telegram Desktop
  does not record). A 1970 ``edited`` is Telegram's "never edited".
* **Bad values.** One message's unusable value (an id past 64 bits, a date no
  calendar holds, nesting past :data:`MAX_MESSAGE_DEPTH`) is a problem noted
  with the message, never the end of the import.
* **Text.** ``text`` is a string or a list of strings and entity objects
  (``text_entities`` from 2022 is the same as a uniform list). It is flattened to
  plain text, and the entities kept as Bot API ``MessageEntity`` objects with
  UTF-16 offsets, as live messages have them.
* **Verbatim.** The export object itself is the message's raw JSON.

Nothing here touches the disk beyond the stream it is given: which of a
message's file paths are safe to open is :mod:`superbrain_core.history.importer`'s job.
"""

from __future__ import annotations

import collections
import importlib
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import IO, Any

import attrs

from superbrain_core.errors import InputError
from superbrain_core.models import FileDescriptor, ForwardOrigin, JSONDict, NormalizedMessage


def _ijson_backend() -> Any:
    """ijson's C backend (~10x faster), else its pure-Python one, which is always there.

    Imported by name: ijson ships no type information, and its modules are only
    used through the few calls below.
    """
    try:
        return importlib.import_module("ijson.backends.yajl2_c")
    except ImportError:  # pragma: no cover - depends on the platform's wheel
        return importlib.import_module("ijson.backends.python")


_IJSON: Any = _ijson_backend()
_IJSON_COMMON: Any = importlib.import_module("ijson.common")
_IJSON_UTILS: Any = importlib.import_module("ijson.utils")
#: Whether the parser's errors carry yajl's "(right here) ------^" snippet.
_IJSON_IS_YAJL = _IJSON.__name__.endswith("yajl2_c")

#: The export's chat types. Telegram numbers messages per chat only in supergroups
#: and channels; everywhere else (private chats, Saved Messages, bot chats, basic
#: groups) per account, so an export's message ids there are the owner's, not the
#: bot's. ``replies`` and ``verification_codes`` are Telegram's own service accounts.
PRIVATE_TYPES = frozenset(
    {"personal_chat", "bot_chat", "saved_messages", "replies", "verification_codes"}
)
BASIC_GROUP_TYPES = frozenset({"private_group"})
CHANNEL_TYPES = frozenset(
    {"private_supergroup", "public_supergroup", "private_channel", "public_channel"}
)
#: Bot API ``Chat.type`` per export chat type.
_BOT_API_CHAT_TYPE = {
    **dict.fromkeys(PRIVATE_TYPES, "private"),
    "private_group": "group",
    "private_supergroup": "supergroup",
    "public_supergroup": "supergroup",
    "private_channel": "channel",
    "public_channel": "channel",
}
#: Supergroups and channels are ``-100<id>`` in the Bot API.
CHANNEL_ID_OFFSET = 10**12
#: Where imported per-account-numbered chats live: ``chat_id = -(base + export id)``.
#: Every id the Bot API hands out lies above -3 * 10**12 (users are below 2**40,
#: basic groups -1..-10**12, channels -10**12 - id, secret chats about
#: -2 * 10**12), so these blocks can never meet a live chat's key; they also stay
#: far below 2**53, so a tool that reads ids as floats keeps them exact.
ACCOUNT_CHAT_BASES = {"user": 4 * 10**12, "group": 6 * 10**12, "other": 8 * 10**12}
#: Each block's width: the largest export id a block (or the channel mapping) takes.
ACCOUNT_CHAT_BLOCK = 2 * 10**12
#: The kinds of export peer :func:`import_chat_id` tells apart.
_PEER_KIND = {
    **dict.fromkeys(PRIVATE_TYPES, "user"),
    **dict.fromkeys(BASIC_GROUP_TYPES, "group"),
    **dict.fromkeys(CHANNEL_TYPES, "channel"),
}

#: ``media_type`` of a ``file`` as the Bot API names that kind of message.
MEDIA_TYPES = {
    "sticker": "sticker",
    "voice_message": "voice",
    "video_message": "video_note",
    "video_file": "video",
    "animation": "animation",
    "audio_file": "audio",
}
#: Service ``action`` names whose Bot API counterpart is a Message field; the
#: rest (``phone_call``, ``clear_history``…) have none and keep the export's name.
SERVICE_ACTIONS = {
    "create_group": "group_chat_created",
    "create_channel": "channel_chat_created",
    "migrate_to_supergroup": "migrate_to_chat_id",
    "migrate_from_group": "migrate_from_chat_id",
    "invite_members": "new_chat_members",
    "join_group_by_link": "new_chat_members",
    "join_group_by_request": "new_chat_members",
    "remove_members": "left_chat_member",
    "edit_group_title": "new_chat_title",
    "edit_group_photo": "new_chat_photo",
    "delete_group_photo": "delete_chat_photo",
    "pin_message": "pinned_message",
    "set_messages_ttl": "message_auto_delete_timer_changed",
    "send_payment": "successful_payment",
    "topic_created": "forum_topic_created",
    "topic_edit": "forum_topic_edited",
    "boost_apply": "boost_added",
}
#: Export entity types whose Bot API ``MessageEntity`` type is spelled differently.
ENTITY_TYPES = {"link": "url", "mention_name": "text_mention", "phone": "phone_number"}
#: Fields that hold a path relative to the export folder, and the file type each is.
PATH_FIELDS = ("photo", "file", "thumbnail", "contact_vcard")
#: How many recent messages' words are kept to fill a reply's ``reply_to_text``.
REPLY_TEXT_MEMORY = 20_000
#: Ids and sizes are stored in 64-bit columns; a larger number cannot be.
INT64_MAX = 2**63 - 1

_PEER = re.compile(r"^(user|channel|chat)(-?\d+)$")


def bot_api_chat_id(export_id: int, chat_type: str) -> int:
    """The id the Bot API gives the peer of an export chat.

    Private chats (personal, bot, saved messages) are the peer's user id;
    basic groups are ``-id``; supergroups and channels ``-100<id>``. Raises
    ``ValueError`` for a type this mapping does not know. Only supergroups and
    channels are *stored* under this id; see :func:`import_chat_id`.
    """
    kind = _PEER_KIND.get(chat_type)
    if kind == "user":
        return export_id
    if kind == "group":
        return -export_id
    if kind == "channel":
        return -(CHANNEL_ID_OFFSET + export_id)
    raise ValueError(f"unknown chat type {chat_type!r}")


def import_chat_id(export_id: int, chat_type: str) -> int:
    """The ``chat_id`` an export chat's messages are stored under.

    Supergroups and channels: the Bot API's ``-100<id>``, since Telegram numbers
    their messages per chat and the bot's capture of the same message has the
    same key (an import then adds only what the bot did not see). Every other
    type is numbered per account, so the export's ``(chat, message id)`` names a
    different message than the bot's: those chats get their own block,
    ``-(ACCOUNT_CHAT_BASES[kind] + id)`` (users, basic groups, unknown types),
    which no Bot API chat id reaches. :func:`export_peer_of` maps back. Raises
    ``ValueError`` for an id the mapping could not keep apart from others (outside
    ``1 .. 10**12 - 1`` for channels, ``1 .. ACCOUNT_CHAT_BLOCK - 1`` otherwise).
    """
    kind = _PEER_KIND.get(chat_type, "other")
    top = CHANNEL_ID_OFFSET if kind == "channel" else ACCOUNT_CHAT_BLOCK
    if not 0 < export_id < top:
        raise ValueError(f"chat id {export_id} is outside 1..{top - 1}")
    if kind == "channel":
        return -(CHANNEL_ID_OFFSET + export_id)
    return -(ACCOUNT_CHAT_BASES[kind] + export_id)


@attrs.frozen
class ExportPeer:
    """What an imported chat id stands for: the export's own chat id, the kind of
    peer (``user``, ``group``, ``channel``, ``other``) and, where the Bot API has
    one, the id the bot would see that peer under (not a key of the same messages
    except for channels)."""

    kind: str
    export_id: int
    bot_api_id: int | None


def export_peer_of(chat_id: int) -> ExportPeer | None:
    """The export peer behind a stored ``chat_id``, or ``None`` for an id that is not
    in an import block (a live private chat or basic group)."""
    for kind, base in ACCOUNT_CHAT_BASES.items():
        export_id = -chat_id - base
        if 0 < export_id < ACCOUNT_CHAT_BLOCK:
            bot_id = {"user": export_id, "group": -export_id}.get(kind)
            return ExportPeer(kind, export_id, bot_id)
    export_id = -chat_id - CHANNEL_ID_OFFSET
    if 0 < export_id < CHANNEL_ID_OFFSET:
        return ExportPeer("channel", export_id, chat_id)
    return None


def peer_id(value: Any) -> int | None:
    """A sender id as the Bot API spells it: ``"user123"`` → 123, ``"channel123"`` →
    ``-100123``, ``"chat123"`` → ``-123``; a bare number (2020 exports) as is."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    match = _PEER.match(value)
    if match is None:
        return int(value) if value.lstrip("-").isdigit() else None
    kind, number = match.group(1), int(match.group(2))
    if kind == "user":
        return number
    if kind == "channel":
        return -(CHANNEL_ID_OFFSET + number)
    return -number


def _fits(value: int | None) -> bool:
    return value is None or -INT64_MAX - 1 <= value <= INT64_MAX


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def flatten_text(value: Any) -> tuple[str, list[JSONDict]]:
    """Plain text and Bot API entities of an export ``text`` (string or list of parts).

    Entity parts become ``{type, offset, length, …}`` with UTF-16 offsets; the
    export's extra fields are kept (``href`` also as ``url``, ``user_id`` also as
    ``user``), and a collapsed ``blockquote`` is an ``expandable_blockquote``.
    """
    if isinstance(value, str):
        return value, []
    if not isinstance(value, list):
        return "", []
    parts: list[str] = []
    entities: list[JSONDict] = []
    offset = 0
    for part in value:
        if isinstance(part, str):
            parts.append(part)
            offset += _utf16_len(part)
            continue
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        text = text if isinstance(text, str) else ""
        kind = part.get("type")
        length = _utf16_len(text)
        if isinstance(kind, str) and kind != "plain" and length:
            entity: JSONDict = {k: v for k, v in part.items() if k not in ("type", "text")}
            bot_type = ENTITY_TYPES.get(kind, kind)
            if kind == "blockquote" and part.get("collapsed") is True:
                bot_type = "expandable_blockquote"
            entity.update(type=bot_type, offset=offset, length=length)
            if isinstance(part.get("href"), str):
                entity["url"] = part["href"]
            if kind == "mention_name" and peer_id(part.get("user_id")) is not None:
                entity["user"] = {"id": peer_id(part.get("user_id"))}
            entities.append(entity)
        parts.append(text)
        offset += length
    return "".join(parts), entities


def parse_export_date(value: Any, unixtime: Any, zone: tzinfo) -> tuple[datetime | None, bool]:
    """``(UTC datetime, sentinel)``: from ``*_unixtime`` when present and readable, else
    the local wall-clock text read in ``zone``. ``sentinel`` is True for Telegram's
    "never" (a date in 1970, which exports write for unedited messages); the
    datetime is then ``None``. A value no calendar holds (``"99999999999999999"``)
    is unreadable (``(None, False)``), not an error: it is one message's problem.
    """
    if isinstance(unixtime, str | int) and not isinstance(unixtime, bool):
        try:
            seconds = int(unixtime)
        except ValueError:
            seconds = None
        if seconds is not None and 0 <= seconds <= 86_400:
            return None, True
        if seconds is not None:
            try:
                return datetime.fromtimestamp(seconds, tz=UTC), False
            except (OverflowError, OSError, ValueError):
                pass  # out of range: the text form may still be readable
    if not isinstance(value, str):
        return None, False
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        if parsed.year <= 1970:
            return None, True
        return parsed.astimezone(UTC), False
    except (OverflowError, ValueError):
        return None, False


@attrs.frozen
class ExportChat:
    """A chat of the export: its own id and type, and the chat id its messages get."""

    export_id: int
    type: str
    name: str | None
    chat_id: int
    """Where its messages are stored (:func:`import_chat_id`)."""
    index: int
    """Position in the export (1-based), to name a chat that has no name."""
    peer_id: int | None = None
    """The Bot API's id of the peer (:func:`bot_api_chat_id`), as ``from_id`` and
    ``reply_to_peer_id`` name it; ``None`` for a type the Bot API mapping lacks."""

    @classmethod
    def of(cls, export_id: int, kind: str, name: str | None, index: int) -> ExportChat:
        """Raises ``ValueError`` for an id :func:`import_chat_id` cannot place."""
        peer = bot_api_chat_id(export_id, kind) if kind in _PEER_KIND else None
        return cls(export_id, kind, name, import_chat_id(export_id, kind), index, peer)

    def describe(self) -> str:
        title = f"{self.name!r}" if self.name else f"#{self.index}"
        return f"chat {title} (id {self.export_id}, {self.type})"


@attrs.frozen
class ExportFileRef:
    """A file a message names. ``path`` is relative to the export folder and not yet
    checked; ``note`` is Telegram's placeholder when the bytes were not exported."""

    descriptor: FileDescriptor
    path: str | None
    note: str | None


@attrs.frozen
class ExportMessage:
    chat: ExportChat
    message: NormalizedMessage
    files: tuple[ExportFileRef, ...]
    problems: tuple[str, ...] = ()
    """What could not be understood; the message is stored anyway."""


@attrs.frozen
class RawExportMessage:
    """A message object as read, with the chat it is in and where the reader was.

    ``problem`` is set (and ``data`` is ``None``) for a message the stream had to
    skip, e.g. one nested too deep to build.
    """

    chat: ExportChat
    data: Any
    offset: int
    problem: str | None = None


class UnusableMessage(Exception):
    """One message cannot be stored at all (its key does not fit the key columns);
    the import notes it and goes on."""


class MessageMapper:
    """Maps export messages to normalized ones; remembers recent texts for replies.

    The export gives a reply only the id it answers; live capture also stores
    the answered message's words (``reply_to_text``). Replies almost always
    answer something recent, so a bounded memory of the last
    :data:`REPLY_TEXT_MEMORY` messages fills it without memory growing with
    the export. What a message's values make impossible to keep is returned with
    it (:attr:`ExportMessage.problems`), so whoever maps owns its problems.
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._recent: collections.OrderedDict[tuple[int, int], str] = collections.OrderedDict()

    def map(self, chat: ExportChat, data: JSONDict) -> ExportMessage:
        """Raise ``ValueError`` when ``data`` lacks an integer ``id`` and
        :class:`UnusableMessage` when the id does not fit 64 bits; anything else that
        cannot be understood is kept raw and listed in the result's ``problems``."""
        message_id = data.get("id")
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            raise ValueError("message has no integer id")
        where = f"{chat.describe()}, message {message_id}"
        if not _fits(message_id):
            raise UnusableMessage(f"{where}: the id does not fit 64 bits; skipped")
        problems: list[str] = []
        is_service = data.get("type") == "service"
        sender_field = "actor_id" if is_service else "from_id"
        user_id = peer_id(data.get(sender_field))
        if user_id is None and not is_service:
            sender_field = "actor_id"
            user_id = peer_id(data.get(sender_field))
        if not _fits(user_id):
            problems.append(f"{where}: {sender_field} does not fit 64 bits; stored without it")
            user_id = None
        text, entities = flatten_text(
            data["text_entities"]
            if isinstance(data.get("text_entities"), list)
            else data.get("text")
        )
        message_type = _message_type(data, text)
        words = text or _structured_text(data)
        date, _ = parse_export_date(data.get("date"), data.get("date_unixtime"), self.zone)
        if date is None:
            problems.append(f"{where}: no readable date; stored as 1970-01-01")
            date = datetime.fromtimestamp(0, tz=UTC)
        edited, never = parse_export_date(
            data.get("edited"), data.get("edited_unixtime"), self.zone
        )
        if edited is None and not never and ("edited" in data or "edited_unixtime" in data):
            problems.append(f"{where}: unreadable edit date; stored as not edited")
        reply_to_id, reply_to_text, is_reply = self._reply(chat, data)
        if not _fits(reply_to_id):
            problems.append(f"{where}: reply_to_message_id does not fit 64 bits; not linked")
            reply_to_id, reply_to_text, is_reply = None, None, False
        msg = NormalizedMessage(
            chat_id=chat.chat_id,
            message_id=message_id,
            user_id=user_id,
            date=date,
            message_type=message_type,
            raw=data,
            chat_type=_BOT_API_CHAT_TYPE.get(chat.type),
            # In a bot's chat the bot writes under the chat's own id.
            sender_is_bot=chat.type == "bot_chat" and user_id == chat.peer_id,
            edit_date=edited,
            text=words or None,
            entities=entities,
            reply_to_message_id=reply_to_id,
            reply_to_text=reply_to_text,
            is_clarification=is_reply,
            forward_origin=_forward_origin(data),
            files=(),
        )
        self._remember((chat.chat_id, message_id), words or f"[{message_type}]")
        files = _file_refs(data, message_type)
        return ExportMessage(chat=chat, message=msg, files=files, problems=tuple(problems))

    def _reply(self, chat: ExportChat, data: JSONDict) -> tuple[int | None, str | None, bool]:
        target = data.get("reply_to_message_id")
        if isinstance(target, bool) or not isinstance(target, int):
            return None, None, False
        other_peer = peer_id(data.get("reply_to_peer_id"))
        if other_peer is not None and other_peer != chat.peer_id:
            # A reply to a message in another chat: nothing local to link to.
            return None, None, False
        return target, self._recent.get((chat.chat_id, target)), True

    def _remember(self, key: tuple[int, int], words: str) -> None:
        self._recent[key] = words
        if len(self._recent) > REPLY_TEXT_MEMORY:
            self._recent.popitem(last=False)


def _message_type(data: JSONDict, text: str) -> str:
    if data.get("type") == "service":
        action = data.get("action")
        name = action if isinstance(action, str) and action else "unknown"
        return f"service:{SERVICE_ACTIONS.get(name, name)}"
    if "photo" in data:
        return "photo"
    media = data.get("media_type")
    if isinstance(media, str) and media in MEDIA_TYPES:
        return MEDIA_TYPES[media]
    if "file" in data:
        return "document"
    for field, kind in (
        ("contact_information", "contact"),
        ("location_information", "location"),
        ("poll", "poll"),
        ("todo_list", "checklist"),
        ("game_title", "game"),
        ("invoice_information", "invoice"),
    ):
        if data.get(field) is not None:
            if kind == "location" and (data.get("place_name") or data.get("address")):
                return "venue"
            return kind
    return "text" if text else "unknown"


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _structured_text(data: JSONDict) -> str:
    """Words of content that has no text, as :func:`telegram.text_of` gives them."""
    contact = data.get("contact_information")
    if isinstance(contact, dict):
        names = ("first_name", "last_name", "phone_number")
        return " ".join(p for p in (_s(contact.get(n)) for n in names) if p)
    for field, title in (("poll", "question"), ("todo_list", "title")):
        obj = data.get(field)
        if isinstance(obj, dict):
            answers = obj.get("answers")
            items = answers if isinstance(answers, list) else []
            lines = [_s(obj.get(title)), *(_s(a.get("text")) for a in items if isinstance(a, dict))]
            return "\n".join(p for p in lines if p)
    if data.get("location_information") is not None:
        return ", ".join(p for p in (_s(data.get("place_name")), _s(data.get("address"))) if p)
    invoice = data.get("invoice_information")
    if isinstance(invoice, dict):
        return "\n".join(p for p in (_s(invoice.get("title")), _s(invoice.get("description"))) if p)
    return "\n".join(p for p in (_s(data.get("game_title")), _s(data.get("game_description"))) if p)


def _forward_origin(data: JSONDict) -> ForwardOrigin | None:
    """``forwarded_from`` (and its id, 2023+), else ``saved_from``; the export has no
    original date. A bare name is a ``hidden_user`` origin, the Bot API's shape
    for "a name, no id"."""
    name = data.get("forwarded_from")
    origin_id = peer_id(data.get("forwarded_from_id"))
    if "forwarded_from" not in data and "forwarded_from_id" not in data:
        name = data.get("saved_from")
        origin_id = peer_id(data.get("saved_from_id"))
        if "saved_from" not in data and origin_id is None:
            return None
    display = name if isinstance(name, str) else None
    if origin_id is None:
        return ForwardOrigin(kind="hidden_user", name=display)
    if origin_id > 0:
        return ForwardOrigin(kind="user", user_id=origin_id, name=display)
    kind = "channel" if origin_id < -CHANNEL_ID_OFFSET else "chat"
    return ForwardOrigin(kind=kind, chat_id=origin_id, name=display)


def _int(value: Any) -> int | None:
    """An integer that fits a 64-bit column, else ``None`` (the raw object keeps it)."""
    if isinstance(value, int) and not isinstance(value, bool) and _fits(value):
        return value
    return None


def is_placeholder(path: str) -> bool:
    """Telegram's stand-in for bytes it did not export: ``(File not included. …)``,
    ``(File unavailable, please try again later)``, ``(File exceeds maximum size. …)``."""
    return path.startswith("(") and path.endswith(")")


def _file_refs(data: JSONDict, message_type: str) -> tuple[ExportFileRef, ...]:
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
                    file_name=_s(data.get("file_name")) if field == "file" else None,
                    mime_type=_s(data.get("mime_type")) if field == "file" else None,
                    file_size=_int(data.get(size_key)) if is_main else None,
                    width=_int(data.get("width")) if is_main else None,
                    height=_int(data.get("height")) if is_main else None,
                    duration=_int(data.get("duration_seconds")) if is_main else None,
                    raw=metadata,
                ),
                path=path,
                note=note,
            )
        )
    return tuple(refs)


# -- streaming ------------------------------------------------------------------------

_CHAT = "chats.list.item"
_LEFT = "left_chats.list.item"
#: Keys only a single-chat export has at the top (a full export starts with ``about``).
_SINGLE_CHAT_KEYS = frozenset({"name", "type", "id", "messages"})
#: Containers nested inside one message beyond which it is skipped as a problem.
#: Telegram's deepest (buttons, entities) are under ten levels.
MAX_MESSAGE_DEPTH = 64
#: Nesting (inside a message being skipped) or key path length (bytes) at which
#: the import stops. The parser builds a prefix string per open container, so
#: memory grows with depth times path length: 100,000 levels (a 200 KB file)
#: would take gigabytes. These bounds keep it to tens of megabytes.
MAX_SKIPPED_DEPTH = 2048
MAX_PATH_BYTES = 32 * 1024
#: Containers outside messages (a full export's own structure is six levels deep).
MAX_OUTER_DEPTH = 64
_OPENS = frozenset({"start_map", "start_array"})
_CLOSES = frozenset({"end_map", "end_array"})


def _under(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


class TrackedReader:
    """A binary stream that counts what the parser has read, for progress and errors.

    The C parser reports an error's position only as a snippet of the chunk it
    was parsing; keeping that chunk (and the newlines before it) turns the
    snippet back into a byte offset, line and column.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.offset = 0
        self.chunk = b""
        self.chunk_start = 0
        self._lines_before_chunk = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if not data:
            # End of file: keep the last data, so the end is located in it.
            return data
        self._lines_before_chunk += self.chunk.count(b"\n")
        self.chunk_start = self.offset
        self.chunk = data
        self.offset += len(data)
        return data

    def position(self, offset: int) -> tuple[int, int] | None:
        """``(line, column)``, 1-based, of a byte offset inside the current chunk."""
        inside = offset - self.chunk_start
        if not 0 <= inside <= len(self.chunk):
            return None
        before = self.chunk[:inside]
        line = self._lines_before_chunk + before.count(b"\n") + 1
        return line, inside - (before.rfind(b"\n") + 1) + 1


def _locate_in_chunk(message: str, reader: TrackedReader) -> int | None:
    """The byte offset yajl's error snippet points at, when it can be found exactly.

    yajl renders up to 30 bytes before the error, newlines as spaces, so that
    the error byte sits under the caret of ``(right here) ------^``.
    """
    lines = message.split("\n")
    for i, line in enumerate(lines[1:], start=1):
        caret = line.find("------^")
        if caret < 0:
            continue
        column = caret + len("------^") - 1
        context = lines[i - 1]
        before = context[:column].lstrip(" ")
        if not before:
            return None
        needle = before.encode("utf-8", "surrogateescape")
        hay = reader.chunk.replace(b"\n", b" ").replace(b"\r", b" ")
        found = hay.find(needle)
        if found < 0 or hay.find(needle, found + 1) >= 0:
            return None
        return reader.chunk_start + found + len(needle)
    return None


class ExportStream:
    """Iterates the messages of one export file, each with its chat.

    ``source`` names the file in errors. Errors are :class:`InputError`: the
    JSON is malformed or ends early, or a chat's messages come before its id
    and type. Each names the byte offset (exact where the parser allows it,
    else the range it was reading), line and column, and the chat and message
    it was in.
    """

    def __init__(self, raw: IO[bytes], source: str) -> None:
        self.reader = TrackedReader(raw)
        self.source = source
        self.chats = 0
        self._chat_index = 0
        self._chat: ExportChat | None = None
        self._meta: dict[str, Any] = {}
        self._current_id: Any = None
        self._last_id: Any = None

    @property
    def offset(self) -> int:
        return self.reader.offset

    def where(self, *, in_last: bool = False) -> str:
        """The chat and message the reader is at; ``in_last`` when the message read last
        is itself the bad one (it parsed, but cannot be stored)."""
        chat = self._chat.describe() if self._chat else "no chat yet"
        if self._current_id is not None and (in_last or self._current_id != self._last_id):
            return f"{chat}, in message {self._current_id!r}"
        if self._last_id is not None:
            return f"{chat}, after message {self._last_id!r}"
        return chat

    def error(self, reason: str, offset: int | None = None, *, in_last: bool = False) -> InputError:
        located = self.reader.position(offset) if offset is not None else None
        if offset is None:
            reason = f"{reason} (somewhere in bytes {self.reader.chunk_start}-{self.reader.offset})"
        return InputError(
            f"{reason}; {self.where(in_last=in_last)}",
            source=self.source,
            line=located[0] if located else None,
            column=located[1] if located else None,
            offset=offset,
        )

    def __iter__(self) -> Iterator[RawExportMessage]:
        events = iter(_IJSON.parse(self.reader, use_float=True))
        try:
            head, base = self._shape(events)
            yield from self._messages(itertools.chain(head, events), base)
        except _IJSON_COMMON.JSONError as exc:
            text = str(exc)
            if "premature EOF" in text or (
                isinstance(exc, _IJSON_COMMON.IncompleteJSONError) and not _IJSON_IS_YAJL
            ):
                raise self.error(
                    "the file ends in the middle of the JSON: it looks truncated",
                    self.reader.offset,
                ) from exc
            first = text.strip().split("\n", 1)[0]
            raise self.error(f"invalid JSON: {first}", _locate_in_chunk(text, self.reader)) from exc

    @staticmethod
    def _shape(
        events: Iterator[tuple[str, str, Any]],
    ) -> tuple[list[tuple[str, str, Any]], str]:
        """The events up to the first top-level key, and where chats are: at the top
        (``""``, a single-chat export) or under ``chats.list.item``."""
        head: list[tuple[str, str, Any]] = []
        for event in events:
            head.append(event)
            if event[0] == "" and event[1] != "start_map":
                single = event[1] == "map_key" and event[2] in _SINGLE_CHAT_KEYS
                return head, "" if single else _CHAT
        return head, _CHAT

    def _messages(
        self, events: Iterator[tuple[str, str, Any]], base: str
    ) -> Iterator[RawExportMessage]:
        """Feed the parser's events to ijson's object builder (C), noting each chat's keys
        and the message being read, and yield each message as it completes.

        A left chat's events are moved under ``chats`` so one prefix finds every
        message. This loop runs once per JSON token of a file that may hold
        gigabytes, so the events inside a message take the first branch only,
        where nesting is counted: a message deeper than :data:`MAX_MESSAGE_DEPTH`
        is no longer built but skipped to its end and yielded as a problem.
        """
        chat, messages, message = base, _under(base, "messages"), _under(base, "messages.item")
        inner, message_id = message + ".", message + ".id"
        keys = {_under(base, k): k for k in ("id", "type", "name")}
        left = _LEFT if base else None  # only a full export has left chats
        found: list[Any] = _IJSON_UTILS.sendable_list()
        build = _IJSON.items_basecoro(found, message, None).send
        depth = 0  # containers open inside the current message
        outer = 0  # containers open outside messages
        skipping = False
        for item in events:
            prefix = item[0]
            if left is not None and prefix.startswith(left):
                prefix = chat + prefix[len(left) :]
                item = (prefix, item[1], item[2])
            if prefix.startswith(inner):
                event = item[1]
                if event in _OPENS:
                    depth += 1
                    if depth > MAX_MESSAGE_DEPTH or len(prefix) > MAX_PATH_BYTES:
                        skipping = True
                        self._check_skip(depth, prefix)
                elif event in _CLOSES:
                    depth -= 1
                elif prefix == message_id:
                    self._current_id = item[2]
                if not skipping:
                    build(item)
                continue
            event = item[1]
            if event in _OPENS:
                outer += 1
                if outer > MAX_OUTER_DEPTH or len(prefix) > MAX_PATH_BYTES:
                    raise self.error(
                        f"the JSON is nested more than {MAX_OUTER_DEPTH} levels deep"
                        f" (or its key path passes {MAX_PATH_BYTES} bytes) outside any message"
                        f" at {prefix[:80]!r}"
                    )
            elif event in _CLOSES:
                outer -= 1
            if skipping:  # the end of the message being skipped: start afresh
                assert self._chat is not None
                skipping, depth = False, 0
                found = _IJSON_UTILS.sendable_list()
                build = _IJSON.items_basecoro(found, message, None).send
                self._last_id = self._current_id
                problem = (
                    f"{self._chat.describe()}, message {self._current_id!r}: nested more than"
                    f" {MAX_MESSAGE_DEPTH} levels deep; skipped"
                )
                yield RawExportMessage(self._chat, None, self.reader.offset, problem)
                continue
            build(item)
            if found:
                assert self._chat is not None  # messages only start after _chat_of_meta
                for data in found:
                    self._last_id = self._current_id
                    yield RawExportMessage(self._chat, data, self.reader.offset)
                del found[:]
                continue
            if prefix in keys and event in ("string", "number", "null"):
                self._meta[keys[prefix]] = item[2]
            if prefix == chat and event == "start_map":
                self._new_chat()
            elif prefix == messages and event == "start_array":
                self._chat = self._chat_of_meta()

    def _check_skip(self, depth: int, prefix: str) -> None:
        """Past the bounds a skipped message may reach, the parser's own memory is at
        stake: stop here, naming the message."""
        if depth > MAX_SKIPPED_DEPTH or len(prefix) > MAX_PATH_BYTES:
            raise self.error(
                f"a message is nested more than {MAX_SKIPPED_DEPTH} levels deep (or its key"
                f" path passes {MAX_PATH_BYTES} bytes); the parser cannot go on safely",
                in_last=True,
            )

    def _new_chat(self) -> None:
        self._chat_index += 1
        self._chat = None
        self._meta = {}
        self._current_id = self._last_id = None

    def _chat_of_meta(self) -> ExportChat:
        export_id, kind = self._meta.get("id"), self._meta.get("type")
        if isinstance(export_id, bool) or not isinstance(export_id, int):
            raise self.error(f"chat #{self._chat_index} has no integer id before its messages")
        if not isinstance(kind, str):
            raise self.error(f"chat #{self._chat_index} has no type before its messages")
        name = self._meta.get("name")
        try:
            found = ExportChat.of(
                export_id,
                kind,
                name if isinstance(name, str) else None,
                max(self._chat_index, 1),  # a single-chat export has no list
            )
        except ValueError as exc:
            raise self.error(f"chat #{self._chat_index}: {exc}") from None
        self.chats += 1
        return found
