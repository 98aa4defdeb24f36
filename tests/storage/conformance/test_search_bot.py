"""Issue 15 point 10: what the bot said is searchable on every backend, and a hit says
it is the bot's message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_update
from superbrain_core.models import BotResponseIn
from superbrain_core.storage.base import Store

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def test_bot_replies_are_found_and_marked_as_the_bots(store: Store) -> None:
    await Capturer(store).capture(make_update(1, message_id=1, text="Встреча с Олегом", date=T0))
    await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID,
            message_id=2,
            response_text="Записал встречу на пятницу",
            related_user_message_id=1,
            created_at=T0 + timedelta(seconds=2),
        )
    )
    # A send that failed has no message in the chat: nothing to find.
    await store.record_bot_response(
        BotResponseIn(chat_id=OWNER_ID, message_id=None, response_text="пятница", error="429")
    )
    hits = await store.search("пятницу")
    assert [(h.message_id, h.from_bot) for h in hits] == [(2, True)]
    (hit,) = hits
    assert hit.chat_id == OWNER_ID and "пятниц" in hit.snippet and hit.matched_in == "message"
    assert hit.source == "bot_response"
    both = await store.search("встреча")
    assert [(h.message_id, h.from_bot) for h in both] == [(2, True), (1, False)]


async def test_an_edited_bot_message_is_found_by_its_newest_text(store: Store) -> None:
    await store.record_bot_response(
        BotResponseIn(chat_id=OWNER_ID, message_id=5, response_text="Напомню в среду")
    )
    await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID,
            message_id=5,
            response_text="Напомню в четверг",
            is_edit=True,
            method="editMessageText",
        )
    )
    assert [h.message_id for h in await store.search("четверг")] == [5]
    assert await store.search("среду") == []
