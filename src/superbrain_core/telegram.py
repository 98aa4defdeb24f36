"""Pure normalization of Telegram Bot API JSON.

Input is exactly what Telegram sends (for aiogram objects:
``obj.model_dump(mode="json", by_alias=True, exclude_none=True)``). Nothing here
does I/O, and nothing here rejects an update for having fields it does not know:
the verbatim payload always travels along, so a Bot API release that adds an
update kind or a field loses nothing; it is merely not *analyzed* yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from superbrain_core.errors import NotAnUpdateError
from superbrain_core.jsonutil import clean_text
from superbrain_core.models import (
    FileDescriptor,
    ForwardOrigin,
    JSONDict,
    NormalizedMessage,
    NormalizedUpdate,
)

#: Update fields that carry a ``Message`` object worth storing as a raw message.
MESSAGE_UPDATE_TYPES: frozenset[str] = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_message",
        "edited_business_message",
    }
)

#: Of those, the ones that carry a *new version* of an existing message.
EDIT_UPDATE_TYPES: frozenset[str] = frozenset(
    {"edited_message", "edited_channel_post", "edited_business_message"}
)

#: Content fields in the order they are tested. Order matters: an ``animation``
#: message also carries ``document``, and a ``venue`` also carries ``location``.
CONTENT_TYPES: tuple[str, ...] = (
    "text",
    "animation",
    "photo",
    "document",
    "video",
    "audio",
    "voice",
    "video_note",
    "sticker",
    "venue",
    "location",
    "contact",
    "poll",
    "dice",
    "game",
    "invoice",
    "story",
    "paid_media",
    "checklist",
)

#: Fields whose presence makes a message a service message (``service:<field>``).
SERVICE_FIELDS: tuple[str, ...] = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "successful_payment",
    "refunded_payment",
    "users_shared",
    "user_shared",
    "chat_shared",
    "connected_website",
    "write_access_allowed",
    "passport_data",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "checklist_tasks_done",
    "checklist_tasks_added",
    "direct_message_price_changed",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway",
    "giveaway_winners",
    "giveaway_completed",
    "gift",
    "unique_gift",
    "paid_message_price_changed",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "web_app_data",
)

#: Media fields whose files are described in ``raw_files``.
FILE_FIELDS: tuple[str, ...] = (
    "animation",
    "photo",
    "document",
    "audio",
    "voice",
    "video",
    "video_note",
    "sticker",
)

_FILE_FIELD_SET = frozenset(FILE_FIELDS)
#: The fields :func:`forward_origin_of` reads; a message with none of them is no forward.
_FORWARD_FIELDS = frozenset(
    {"forward_origin", "forward_date", "forward_from", "forward_from_chat", "forward_sender_name"}
)

#: Telegram's id of the account that stands in for anonymous group admins.
ANONYMOUS_ADMIN_BOT_ID = 1087968824

#: Every id and size is stored as a signed 64-bit integer (SQLite INTEGER,
#: Postgres bigint); Telegram's own fit, a number outside cannot be stored.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def utc_from_unix(value: Any) -> datetime | None:
    """A Telegram unix timestamp as an aware UTC datetime (``None`` stays ``None``)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _dict(value: Any) -> JSONDict | None:
    return value if isinstance(value, dict) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _label(value: Any) -> str | None:
    """A string for a column of its own (a file id, an album id): lone surrogates, which
    no UTF-8 column can hold, become U+FFFD; the verbatim payload keeps the original."""
    return clean_text(_str(value))


def as_bot_api_json(obj: Any) -> JSONDict:
    """Bot API JSON for ``obj``: a dict as is, an aiogram (pydantic) object dumped.

    aiogram objects are dumped by alias (``from`` not ``from_user``), in JSON
    mode (dates as unix numbers) and without ``None`` fields, which is exactly
    what Telegram sent, so live capture and file ingest store identical payloads.
    """
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)
    if dump is None:
        raise NotAnUpdateError(f"cannot turn a {type(obj).__name__} into Bot API JSON")
    data = dump(mode="json", by_alias=True, exclude_none=True)
    if not isinstance(data, dict):
        raise NotAnUpdateError(f"{type(obj).__name__}.model_dump() did not return an object")
    return data


def update_type_of(payload: Mapping[str, Any]) -> str:
    """The update's kind: its one field besides ``update_id`` (``unknown`` if there is none).

    Telegram puts exactly one optional field in an Update; if a future or
    malformed update carries several, the message-like one wins so it is analyzed.
    A key with a lone surrogate is named with U+FFFD in its place (the kind is
    stored as text; the payload keeps the key as it was).
    """
    keys = [k for k in payload if k != "update_id"]
    for key in keys:
        if key in MESSAGE_UPDATE_TYPES:
            return key
    return (clean_text(keys[0]) or "") if keys else "unknown"


def message_type_of(message: Mapping[str, Any]) -> str:
    """Classify a Message object: a content type, ``service:<field>``, or ``unknown``."""
    for field in CONTENT_TYPES:
        if message.get(field) is not None:
            return field
    for field in SERVICE_FIELDS:
        if message.get(field) is not None:
            return f"service:{field}"
    return "unknown"


def text_of(message: Mapping[str, Any]) -> str | None:
    """The message's own words: its text, else its caption.

    Media without a caption have no text; structured content that carries words
    (a poll's question, a venue's title, a contact's name) yields those so that
    classification and search see them.
    """
    text = _str(message.get("text"))
    if text is not None:
        return text
    caption = _str(message.get("caption"))
    if caption is not None:
        return caption
    poll = _dict(message.get("poll"))
    if poll:
        question = _str(poll.get("question")) or ""
        listed = poll.get("options")
        items = listed if isinstance(listed, list) else []
        options = [_str(o.get("text")) for o in items if isinstance(o, dict)]
        return "\n".join([question, *(o for o in options if o)]) or None
    venue = _dict(message.get("venue"))
    if venue:
        return ", ".join(p for p in (_str(venue.get("title")), _str(venue.get("address"))) if p)
    contact = _dict(message.get("contact"))
    if contact:
        names = ("first_name", "last_name", "phone_number")
        return " ".join(p for p in (_str(contact.get(n)) for n in names) if p) or None
    for field in ("game", "invoice"):
        obj = _dict(message.get(field))
        if obj:
            lines = (_str(obj.get("title")), _str(obj.get("description")))
            return "\n".join(p for p in lines if p) or None
    return None


def placeholder_for(message: Mapping[str, Any]) -> str:
    """A stand-in for a message without words, naming what it was: ``[photo]``, ``[voice]``."""
    return f"[{message_type_of(message)}]"


def _sender(message: Mapping[str, Any]) -> tuple[int | None, bool]:
    """``(user_id, is_bot)`` of whoever sent the message.

    A message sent on behalf of a chat (channel posts, anonymous admins, a
    channel's automatic forward into its discussion group) is attributed to that
    chat via ``sender_chat``; ``from`` then holds a stand-in account.
    """
    sender_chat = _dict(message.get("sender_chat"))
    sender = _dict(message.get("from"))
    if sender_chat and _int(sender_chat.get("id")) is not None:
        return _int(sender_chat.get("id")), False
    if sender and _int(sender.get("id")) is not None:
        return _int(sender.get("id")), bool(sender.get("is_bot", False))
    chat = _dict(message.get("chat")) or {}
    if chat.get("type") == "channel":
        return _int(chat.get("id")), False
    return None, False


def forward_origin_of(message: Mapping[str, Any]) -> ForwardOrigin | None:
    """Unify ``forward_origin`` (Bot API 7.0+) and the legacy ``forward_from*`` fields."""
    if _FORWARD_FIELDS.isdisjoint(message):
        return None
    origin = _dict(message.get("forward_origin"))
    if origin:
        kind = _str(origin.get("type")) or "unknown"
        user = _dict(origin.get("sender_user")) or {}
        chat = _dict(origin.get("chat")) or _dict(origin.get("sender_chat")) or {}
        return ForwardOrigin(
            kind=kind,
            date=utc_from_unix(origin.get("date")),
            user_id=_int(user.get("id")),
            chat_id=_int(chat.get("id")),
            message_id=_int(origin.get("message_id")),
            name=_str(origin.get("sender_user_name"))
            or _display_name(user)
            or _str(chat.get("title")),
            signature=_str(origin.get("author_signature")),
        )
    date = utc_from_unix(message.get("forward_date"))
    fwd_user = _dict(message.get("forward_from"))
    fwd_chat = _dict(message.get("forward_from_chat"))
    # ``_str``: a ``type`` that is a list or an object cannot be looked up in a set.
    chat_types = {"channel", "group", "supergroup"}
    if fwd_chat or (fwd_user and _str(fwd_user.get("type")) in chat_types):
        chat = fwd_chat or fwd_user or {}
        return ForwardOrigin(
            kind="channel" if chat.get("type") == "channel" else "chat",
            date=date,
            chat_id=_int(chat.get("id")),
            message_id=_int(message.get("forward_from_message_id")),
            name=_str(chat.get("title")) or _str(chat.get("username")),
            signature=_str(message.get("forward_signature")),
        )
    if fwd_user:
        return ForwardOrigin(
            kind="user", date=date, user_id=_int(fwd_user.get("id")), name=_display_name(fwd_user)
        )
    sender_name = _str(message.get("forward_sender_name"))
    if sender_name or date is not None:
        return ForwardOrigin(kind="hidden_user", date=date, name=sender_name)
    return None


def _display_name(user: Mapping[str, Any]) -> str | None:
    parts = [_str(user.get("first_name")), _str(user.get("last_name"))]
    name = " ".join(p for p in parts if p)
    return name or _str(user.get("username"))


def files_of(message: Mapping[str, Any]) -> tuple[FileDescriptor, ...]:
    """Descriptors of the files a message carries; for a photo, only its largest size.

    An animation also appears as ``document`` in the same message: it is one file
    and is described once.
    """
    if _FILE_FIELD_SET.isdisjoint(message):  # most messages: no media at all
        return ()
    found: list[FileDescriptor] = []
    seen: set[str] = set()
    for field in FILE_FIELDS:
        value = message.get(field)
        obj = _largest_photo(value) if field == "photo" else _dict(value)
        if not obj:
            continue
        key = _str(obj.get("file_unique_id")) or _str(obj.get("file_id")) or field
        if key in seen:
            continue
        seen.add(key)
        found.append(
            FileDescriptor(
                file_type=field,
                file_id=_label(obj.get("file_id")),
                file_unique_id=_label(obj.get("file_unique_id")),
                file_name=_label(obj.get("file_name")),
                mime_type=_label(obj.get("mime_type")),
                file_size=_int(obj.get("file_size")),
                width=_int(obj.get("width")) or _int(obj.get("length")),
                height=_int(obj.get("height")) or _int(obj.get("length")),
                duration=_int(obj.get("duration")),
                raw=obj,
            )
        )
    return tuple(found)


def _largest_photo(value: Any) -> JSONDict | None:
    if not isinstance(value, list):
        return None
    sizes = [s for s in value if isinstance(s, dict)]
    if not sizes:
        return None

    def area(size: JSONDict) -> tuple[int, int]:
        w, h = _int(size.get("width")) or 0, _int(size.get("height")) or 0
        return (w * h, _int(size.get("file_size")) or 0)

    # max() keeps the first of equal sizes; Telegram lists sizes ascending, so
    # prefer the last of equals by scanning reversed.
    return max(reversed(sizes), key=area)


def _is_topic_anchor(message: Mapping[str, Any], replied: Mapping[str, Any]) -> bool:
    """True when ``reply_to_message`` is only the forum topic's creation message.

    In forum supergroups every message in a topic points at the topic's
    ``forum_topic_created`` service message; that is placement, not a reply.
    """
    return bool(
        message.get("is_topic_message")
        and replied.get("forum_topic_created") is not None
        and _int(replied.get("message_id")) == _int(message.get("message_thread_id"))
    )


def normalize_message(message: Mapping[str, Any]) -> NormalizedMessage:
    """Derive the analyzable facts of one Message object.

    Raises :class:`NotAnUpdateError` only when the object lacks what makes it a
    message at all (an integer ``message_id`` and a ``chat`` with an integer id).
    """
    chat = _dict(message.get("chat"))
    chat_id = _int(chat.get("id")) if chat else None
    message_id = _int(message.get("message_id"))
    if chat_id is None or message_id is None:
        raise NotAnUpdateError("message has no integer message_id and chat.id")
    user_id, is_bot = _sender(message)
    replied = _dict(message.get("reply_to_message"))
    if replied is not None and _is_topic_anchor(message, replied):
        replied = None
    reply_to_id: int | None = None
    reply_to_text: str | None = None
    reply_to_is_bot = False
    if replied is not None:
        reply_to_id = _int(replied.get("message_id"))
        reply_to_text = text_of(replied) or placeholder_for(replied)
        reply_to_is_bot = bool((_dict(replied.get("from")) or {}).get("is_bot", False))
    else:
        external = _dict(message.get("external_reply"))
        quote = _dict(message.get("quote"))
        if external is not None:
            reply_to_id = None  # another chat: there is no local message to link
            reply_to_text = (
                _str((quote or {}).get("text")) or text_of(external) or placeholder_for(external)
            )
    entities = message.get("entities")
    if not isinstance(entities, list):
        entities = message.get("caption_entities")
    date = utc_from_unix(message.get("date")) or datetime.fromtimestamp(0, tz=UTC)
    return NormalizedMessage(
        chat_id=chat_id,
        message_id=message_id,
        user_id=user_id,
        sender_is_bot=is_bot,
        chat_type=_str(chat.get("type")) if chat else None,
        date=date,
        edit_date=utc_from_unix(message.get("edit_date")),
        message_type=message_type_of(message),
        text=text_of(message),
        entities=[e for e in entities if isinstance(e, dict)] if isinstance(entities, list) else [],
        reply_to_message_id=reply_to_id,
        reply_to_text=reply_to_text,
        reply_to_is_bot=reply_to_is_bot,
        is_clarification=replied is not None,
        forward_origin=forward_origin_of(message),
        media_group_id=_label(message.get("media_group_id")),
        message_thread_id=_int(message.get("message_thread_id")),
        files=files_of(message),
        raw=dict(message),
        business_connection_id=_label(message.get("business_connection_id")),
    )


def _fits(value: int | None) -> bool:
    return value is None or INT64_MIN <= value <= INT64_MAX


def _fits_plainly(message: NormalizedMessage) -> bool:
    """Every number of a message without files or forward origin fits (the usual case,
    told with a few comparisons instead of :func:`fit_int64`'s field-by-field walk)."""
    if message.files or message.forward_origin is not None:
        return False
    user, reply, thread = message.user_id, message.reply_to_message_id, message.message_thread_id
    return (
        INT64_MIN <= message.chat_id <= INT64_MAX
        and INT64_MIN <= message.message_id <= INT64_MAX
        and (user is None or INT64_MIN <= user <= INT64_MAX)
        and (reply is None or INT64_MIN <= reply <= INT64_MAX)
        and (thread is None or INT64_MIN <= thread <= INT64_MAX)
    )


def fit_int64(message: NormalizedMessage) -> tuple[NormalizedMessage | None, list[str]]:
    """``message`` with every number no 64-bit column can hold left out of its columns.

    The raw JSON keeps every number exactly (SQLite stores JSON as text, Postgres
    ``jsonb`` holds any number), so nothing is lost: the column is empty and the
    message is still stored and analyzed. Only a message whose identity does not
    fit (``chat.id``, ``message_id``) cannot be keyed: ``None`` then, and it is
    kept in the raw update only. Returns the names of the numbers left out.
    """
    if _fits_plainly(message):
        return message, []
    for name, value in (("chat.id", message.chat_id), ("message_id", message.message_id)):
        if not _fits(value):
            return None, [name]
    dropped: list[str] = []
    changes: dict[str, Any] = {}
    for name, field in (
        ("the sender's id", "user_id"),
        ("reply_to_message.message_id", "reply_to_message_id"),
        ("message_thread_id", "message_thread_id"),
    ):
        if not _fits(getattr(message, field)):
            dropped.append(name)
            changes[field] = None
    origin = message.forward_origin
    if origin is not None:
        fixes: dict[str, Any] = {
            field: None
            for field in ("user_id", "chat_id", "message_id")
            if not _fits(getattr(origin, field))
        }
        if fixes:
            dropped += [f"forward_origin's {field}" for field in fixes]
            changes["forward_origin"] = attrs.evolve(origin, **fixes)
    files = []
    for file in message.files:
        fixes = {
            field: None
            for field in ("file_size", "width", "height", "duration")
            if not _fits(getattr(file, field))
        }
        dropped += [f"{file.file_type}.{field}" for field in fixes]
        files.append(attrs.evolve(file, **fixes) if fixes else file)
    if any(f is not g for f, g in zip(files, message.files, strict=True)):
        changes["files"] = tuple(files)
    return (attrs.evolve(message, **changes) if changes else message), dropped


def normalize_update(payload: Any) -> NormalizedUpdate:
    """Normalize one Bot API Update.

    The only hard requirement is an integer ``update_id``: Telegram numbers every
    update, and that number is what makes a redelivered update recognizable.
    Unknown update kinds are normal (``update_type`` is their field name).
    """
    if not isinstance(payload, dict):
        raise NotAnUpdateError(f"expected a JSON object, got {type(payload).__name__}")
    update_id = payload.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        hint = ""
        if "message_id" in payload and "chat" in payload:
            hint = ' (this looks like a bare Message; wrap it as {"update_id": N, "message": …})'
        elif "ok" in payload:
            hint = " (this looks like a Bot API response envelope)"
        raise NotAnUpdateError(f"object has no integer update_id{hint}")
    if not INT64_MIN <= update_id <= INT64_MAX:
        raise NotAnUpdateError(
            "update_id is outside the signed 64-bit range (Telegram's update ids fit in it)"
        )
    update_type = update_type_of(payload)
    message: NormalizedMessage | None = None
    problem: str | None = None
    if update_type in MESSAGE_UPDATE_TYPES:
        # A message we cannot make sense of is still a numbered update: it is
        # kept raw (and reported) rather than refused, because refusing it
        # would lose it for good.
        inner = _dict(payload.get(update_type))
        if inner is None:
            problem = f"{update_type} is not an object"
        else:
            try:
                message = normalize_message(inner)
            except NotAnUpdateError as exc:
                problem = f"{update_type}: {exc.reason}"
            else:
                message, too_big = fit_int64(message)
                if message is None:
                    # It cannot be keyed as a message: keep it raw, say why.
                    problem = f"{update_type}: {too_big[0]} is outside the signed 64-bit range"
                elif too_big:
                    problem = (
                        f"{update_type}: {', '.join(too_big)} outside the signed 64-bit range:"
                        " kept in the raw JSON only; the message is stored"
                    )
    return NormalizedUpdate(
        update_id=update_id,
        update_type=update_type,
        payload=payload,
        message=message,
        problem=problem,
    )
