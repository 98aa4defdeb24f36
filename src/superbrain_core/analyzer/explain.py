"""Everything known about one message, for ``superbrain explain`` and notebooks.

Answers "why is this message where it is": its stored versions, the chain it
belongs to, the message it is filed under (a clarification is filed under its
chain's root), every placement ever made for that message, the row it lives
in now, and the owner's example the placement followed, when it followed one.
"""

from __future__ import annotations

import attrs

from superbrain_core.models import JSONDict, MessageChain, RawMessage, RoutingEntry
from superbrain_core.storage.base import Store


@attrs.frozen
class Explanation:
    chat_id: int
    message_id: int
    versions: tuple[RawMessage, ...]
    chain: MessageChain | None
    filed_under: int | None
    """The message id whose placement decides this one's (itself unless a clarification)."""
    history: tuple[RoutingEntry, ...]
    record: JSONDict | None
    example: RawMessage | None = None
    """The owner's example the current placement followed (the rules classifier
    files a message like a close enough one the owner settled), if any."""

    @property
    def current(self) -> RoutingEntry | None:
        live = [h for h in self.history if h.superseded_at is None]
        return live[-1] if live else None


async def _filed_under(
    store: Store, chat_id: int, message_id: int, chain: MessageChain | None
) -> int:
    """The earliest stored message of the chain, as the analyzer chooses it."""
    if chain is None:
        return message_id
    candidates = [chain.original_message_id, *(r.message_id for r in chain.replies)]
    for candidate in sorted(set(candidates)):
        if await store.get_message(chat_id, candidate) is not None:
            return candidate
    return message_id


async def explain_message(store: Store, chat_id: int, message_id: int) -> Explanation | None:
    """``None`` when no version of the message is stored."""
    versions = tuple(await store.message_versions(chat_id, message_id))
    if not versions:
        return None
    chain = await store.chain_of(chat_id, message_id)
    target = await _filed_under(store, chat_id, message_id, chain)
    history = tuple(await store.routing_history(chat_id, target))
    record = None
    live = [h for h in history if h.superseded_at is None and h.record_id is not None]
    if live:
        entry = live[-1]
        rows = await store.list_records(
            entry.destination, after_id=(entry.record_id or 1) - 1, limit=1
        )
        record = rows[0] if rows and rows[0]["id"] == entry.record_id else None
    example = None
    current = [h for h in history if h.superseded_at is None]
    source = current[-1].classification.get("owner_example") if current else None
    if isinstance(source, str) and ":" in source:
        chat_text, _, message_text = source.partition(":")
        if chat_text.lstrip("-").isdigit() and message_text.isdigit():
            example = await store.get_message(int(chat_text), int(message_text))
    return Explanation(chat_id, message_id, versions, chain, target, history, record, example)
