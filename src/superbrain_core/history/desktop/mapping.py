"""Export messages turned into the messages live capture produces.

:class:`MessageMapper` turns an export message into the same
:class:`NormalizedMessage` live capture produces, so storage, chains and the
analyzer need nothing import-specific. What it must reconcile:

* **Eras.** ``from_id`` is a bare number in 2020 exports and ``"user123"`` /
  ``"channel123"`` later; ``date_unixtime``/``edited_unixtime`` (2022+) are
  exact, older exports only have local wall-clock ``date``/``edited``, read in
  the time zone the caller names (the exporter's clock, which Telegram Desktop
  does not record). A 1970 ``edited`` is Telegram's "never edited".
* **Bad values.** One message's unusable value (an id past 64 bits, a date no
  calendar holds) is a problem noted with the message, never the end of the
  import.
* **Text.** ``text`` is a string or a list of strings and entity objects
  (``text_entities`` from 2022 is the same as a uniform list). It is flattened to
  plain text, and the entities kept as Bot API ``MessageEntity`` objects with
  UTF-16 offsets, as live messages have them.
* **Verbatim.** The export object itself is the message's raw JSON.

Chat keys come from :mod:`~superbrain_core.history.desktop.peers`, file
references from :mod:`~superbrain_core.history.desktop.files`.
"""

from __future__ import annotations

import collections
from datetime import UTC, datetime, tzinfo
from typing import Any

import attrs

from superbrain_core.history.desktop.files import MEDIA_TYPES, PATH_FIELDS, ExportFileRef, file_refs
from superbrain_core.history.desktop.peers import (
    CHANNEL_ID_OFFSET,
    PRIVATE_TYPES,
    ExportChat,
    peer_id,
)
from superbrain_core.history.desktop.values import fits, str_or_none
from superbrain_core.models import ForwardOrigin, JSONDict, NormalizedMessage

#: Bot API ``Chat.type`` per export chat type.
_BOT_API_CHAT_TYPE = {
    **dict.fromkeys(PRIVATE_TYPES, "private"),
    "private_group": "group",
    "private_supergroup": "supergroup",
    "public_supergroup": "supergroup",
    "private_channel": "channel",
    "public_channel": "channel",
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
#: How many recent messages' words are kept to fill a reply's ``reply_to_text``.
REPLY_TEXT_MEMORY = 20_000
_EPOCH = datetime.fromtimestamp(0, tz=UTC)
_PATH_FIELDS = frozenset(PATH_FIELDS)
#: A message without any of these was not forwarded or saved from anywhere.
_ORIGIN_FIELDS = frozenset({"forwarded_from", "forwarded_from_id", "saved_from", "saved_from_id"})


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
class ExportMessage:
    chat: ExportChat
    message: NormalizedMessage
    files: tuple[ExportFileRef, ...]
    problems: tuple[str, ...] = ()
    """What could not be understood; the message is stored anyway."""


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
        if not fits(message_id):
            raise UnusableMessage(
                f"{_where(chat, message_id)}: the id does not fit 64 bits; skipped"
            )
        problems: list[str] = []
        get = data.get
        is_service = get("type") == "service"
        sender_field = "actor_id" if is_service else "from_id"
        user_id = peer_id(get(sender_field))
        if user_id is None and not is_service:
            sender_field = "actor_id"
            user_id = peer_id(get(sender_field))
        if not fits(user_id):
            problems.append(
                f"{_where(chat, message_id)}: {sender_field} does not fit 64 bits;"
                " stored without it"
            )
            user_id = None
        entities_field = get("text_entities")
        text, entities = flatten_text(
            entities_field if isinstance(entities_field, list) else get("text")
        )
        message_type = _message_type(data, text)
        words = text or _structured_text(data)
        date, _ = parse_export_date(get("date"), get("date_unixtime"), self.zone)
        if date is None:
            problems.append(f"{_where(chat, message_id)}: no readable date; stored as 1970-01-01")
            date = _EPOCH
        edited: datetime | None = None
        if "edited" in data or "edited_unixtime" in data:
            edited, never = parse_export_date(get("edited"), get("edited_unixtime"), self.zone)
            if edited is None and not never:
                problems.append(
                    f"{_where(chat, message_id)}: unreadable edit date; stored as not edited"
                )
        reply_to_id, reply_to_text, is_reply = self._reply(chat, data)
        if not fits(reply_to_id):
            problems.append(
                f"{_where(chat, message_id)}: reply_to_message_id does not fit 64 bits; not linked"
            )
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
        files = file_refs(data, message_type) if _PATH_FIELDS.intersection(data) else ()
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


def _where(chat: ExportChat, message_id: int) -> str:
    """The message named in a problem (built only when there is one: most messages have none)."""
    return f"{chat.describe()}, message {message_id}"


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


def _structured_text(data: JSONDict) -> str:
    """Words of content that has no text, as :func:`telegram.text_of` gives them."""
    _s = str_or_none
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
    if _ORIGIN_FIELDS.isdisjoint(data):
        return None
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
