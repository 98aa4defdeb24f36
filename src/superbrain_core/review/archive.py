"""The archive as a chat client shows it: chats, bubbles, albums, edits, files, links.

Everything is read from what capture stored (``raw_messages`` versions, ``raw_files``,
``bot_responses``); nothing is re-derived from Telegram. A bubble is one message,
or an album (consecutive messages of one ``media_group_id``) shown together the
way Telegram shows it; a message's older versions stay readable under it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from superbrain_core.models import BotResponse, JSONDict, RawFile, RawMessage
from superbrain_core.storage.base import MessageFilter, Store

_PAGE = 1000
#: File types shown as pictures (thumbnails) rather than as attachments.
MEDIA_TYPES = frozenset({"photo", "video", "animation", "video_note", "sticker"})


@attrs.frozen
class ChatSummary:
    chat_id: int
    title: str
    kind: str
    messages: int
    last_date: datetime


def chat_title(chat: JSONDict | None, chat_id: int) -> str:
    """What a chat is called: its title, a person's name, a username, or its id."""
    chat = chat or {}
    name = " ".join(str(chat[k]) for k in ("first_name", "last_name") if chat.get(k))
    return str(chat.get("title") or name or chat.get("username") or chat_id)


async def all_messages(store: Store, where: MessageFilter | None = None) -> list[RawMessage]:
    """Every stored version matching ``where``, by id."""
    found: list[RawMessage] = []
    after = 0
    while True:
        page = await store.list_messages(where, after_id=after, limit=_PAGE)
        found.extend(page)
        if len(page) < _PAGE:
            return found
        after = page[-1].id


async def list_chats(store: Store) -> list[ChatSummary]:
    """Every chat with stored messages, the most recently active first.

    It reads every stored version once, which is fine for one person's archive
    (tens of thousands of messages); the store has no per-chat index of its own.
    """
    seen: dict[int, tuple[set[int], datetime, JSONDict]] = {}
    for m in await all_messages(store):
        ids, last, chat = seen.get(m.chat_id, (set(), m.message_date, {}))
        ids.add(m.message_id)
        chat = m.raw_telegram_json.get("chat") or chat
        seen[m.chat_id] = (ids, max(last, m.message_date), chat)
    chats = [
        ChatSummary(cid, chat_title(chat, cid), str(chat.get("type") or "?"), len(ids), last)
        for cid, (ids, last, chat) in seen.items()
    ]
    return sorted(chats, key=lambda c: c.last_date, reverse=True)


@attrs.frozen
class MessageView:
    """One message with every stored version (oldest first) and its files."""

    versions: tuple[RawMessage, ...]
    files: tuple[RawFile, ...] = ()

    @property
    def newest(self) -> RawMessage:
        return self.versions[-1]

    @property
    def message_id(self) -> int:
        return self.newest.message_id

    @property
    def edited(self) -> bool:
        return len(self.versions) > 1 or self.newest.edit_date is not None

    @property
    def service(self) -> bool:
        return self.newest.message_type.startswith("service:")

    @property
    def media(self) -> tuple[RawFile, ...]:
        return tuple(f for f in self.files if f.file_type in MEDIA_TYPES)

    @property
    def attachments(self) -> tuple[RawFile, ...]:
        return tuple(f for f in self.files if f.file_type not in MEDIA_TYPES)

    @property
    def forward_label(self) -> str | None:
        return forward_label(self.newest.forward_origin)

    @property
    def sender(self) -> str:
        raw = self.newest.raw_telegram_json
        sender = raw.get("from") or raw.get("sender_chat")
        return chat_title(sender, self.newest.user_id or self.newest.chat_id)


def forward_label(origin: JSONDict | None) -> str | None:
    """ "Forwarded from …" for a forwarded message, ``None`` otherwise."""
    if not origin:
        return None
    for key in ("name", "sender_user_name", "sender_name", "chat_title", "title", "signature"):
        if origin.get(key):
            return str(origin[key])
    for key in ("sender_user", "chat", "sender_chat"):
        value = origin.get(key)
        if isinstance(value, dict):
            return chat_title(value, int(value.get("id") or 0))
    return str(origin.get("kind") or origin.get("type") or "forward")


@attrs.frozen
class Bubble:
    """What one bubble shows: a message, an album, or the bot's reply."""

    messages: tuple[MessageView, ...] = ()
    bot: BotResponse | None = None

    @property
    def date(self) -> datetime:
        return self.bot.created_at if self.bot is not None else self.messages[0].newest.message_date

    @property
    def album(self) -> bool:
        return len(self.messages) > 1

    @property
    def anchor(self) -> str:
        if self.bot is not None:
            return f"b{self.bot.id}"
        return f"bubble{self.messages[0].message_id}"


def message_views(versions: Iterable[RawMessage], files: Iterable[RawFile]) -> list[MessageView]:
    """Versions grouped into messages (by message id), with their files."""
    by_id: dict[int, list[RawMessage]] = defaultdict(list)
    for v in versions:
        by_id[v.message_id].append(v)
    files_of: dict[int, list[RawFile]] = defaultdict(list)
    for f in files:
        files_of[f.message_id].append(f)
    return [
        MessageView(
            tuple(sorted(vs, key=lambda v: v.version)),
            tuple(sorted(files_of.get(mid, []), key=lambda f: f.id)),
        )
        for mid, vs in sorted(by_id.items())
    ]


def bubbles(views: Sequence[MessageView], bot: Iterable[BotResponse] = ()) -> list[Bubble]:
    """Messages in date order with each album folded into one bubble, and the bot's
    replies placed by when they were sent."""
    ordered = sorted(views, key=lambda v: (v.newest.message_date, v.message_id))
    out: list[Bubble] = []
    for view in ordered:
        group = view.newest.media_group_id
        last = out[-1] if out else None
        if (
            group
            and last is not None
            and last.bot is None
            and last.messages[-1].newest.media_group_id == group
        ):
            out[-1] = Bubble((*last.messages, view))
        else:
            out.append(Bubble((view,)))
    out.extend(Bubble(bot=b) for b in bot if b.message_id is not None or b.response_text)
    return sorted(out, key=lambda b: b.date)


async def chat_files(store: Store, chat_id: int) -> list[RawFile]:
    """Every file descriptor of one chat (the store pages files by id, not by chat)."""
    found: list[RawFile] = []
    after = 0
    while True:
        page = await store.list_files(after_id=after, limit=_PAGE)
        found.extend(f for f in page if f.chat_id == chat_id)
        if len(page) < _PAGE:
            return found
        after = page[-1].id


@attrs.frozen
class ChatView:
    chat_id: int
    title: str
    bubbles: tuple[Bubble, ...]
    views: tuple[MessageView, ...]


async def chat_view(store: Store, chat_id: int) -> ChatView | None:
    """One chat as bubbles; ``None`` when nothing of it is stored."""
    versions = await all_messages(store, MessageFilter(chat_id=chat_id))
    if not versions:
        return None
    views = message_views(versions, await chat_files(store, chat_id))
    replies = await store.bot_responses(chat_id)
    title = chat_title(versions[-1].raw_telegram_json.get("chat"), chat_id)
    return ChatView(chat_id, title, tuple(bubbles(views, replies)), tuple(views))


@attrs.frozen
class Link:
    url: str
    message_id: int
    date: datetime
    text: str | None


def _utf16_slice(text: str, offset: int, length: int) -> str:
    """Telegram's entity offsets count UTF-16 code units."""
    data = text.encode("utf-16-le", "surrogatepass")
    return data[offset * 2 : (offset + length) * 2].decode("utf-16-le", "replace")


def links_of(views: Iterable[MessageView]) -> list[Link]:
    """URLs in messages' newest versions (``url`` and ``text_link`` entities), in order."""
    found: list[Link] = []
    for view in views:
        m = view.newest
        text = m.message_text or ""
        for entity in m.entities or []:
            kind: Any = entity.get("type")
            url: str | None = None
            if kind == "text_link":
                url = entity.get("url")
            elif kind == "url":
                url = _utf16_slice(text, int(entity["offset"]), int(entity["length"])).strip()
            if url:
                found.append(Link(url, m.message_id, m.message_date, m.message_text))
    return found
