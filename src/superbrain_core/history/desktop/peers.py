"""Where an export's chats are stored: chat-id namespaces and the way back.

Supergroup and channel ids become Bot API chat ids, so an imported message and
the same message captured by the bot have the same ``(chat_id, message_id)``.
Every other chat is numbered per account, so its messages get a chat id of their
own that no live chat has (:func:`import_chat_id`; :func:`export_peer_of` maps
back). These numbers are a storage contract: once messages are stored under
them, they must never change, so they are kept apart from the rest of the mapping.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

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
