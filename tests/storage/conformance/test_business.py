"""Issue 15 point 3: a business message's identity includes its business connection.

A bot serving two businesses gets ``business_message`` updates with the same chat
id (the customer) and the same message id from two ``business_connection_id``s:
two messages, both stored, analyzable, searchable and explainable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import make_message
from superbrain_core.storage.base import Store, business_chat_key

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CUSTOMER = {"id": 777000111, "type": "private", "first_name": "Клиент"}


def business(
    update_id: int,
    connection: str,
    message_id: int,
    text: str,
    kind: str = "business_message",
    **extra: object,
) -> dict[str, object]:
    sender = {"id": CUSTOMER["id"], "is_bot": False, "first_name": "Клиент"}
    message = make_message(message_id, text=text, date=T0, chat=CUSTOMER, sender=sender, **extra)
    message["business_connection_id"] = connection
    return {"update_id": update_id, kind: message}


async def test_two_connections_with_the_same_chat_and_message_id_are_two_messages(
    store: Store,
) -> None:
    capturer = Capturer(store)
    await capturer.capture(business(1, "conn-bakery", 5, "Два торта к субботе"))
    await capturer.capture(business(2, "conn-flowers", 5, "Букет роз к субботе"))
    bakery = await store.business_chat_id("conn-bakery", CUSTOMER["id"])
    flowers = await store.business_chat_id("conn-flowers", CUSTOMER["id"])
    assert bakery is not None and flowers is not None and bakery != flowers
    assert bakery < 0 and flowers < 0, "a block of chat ids no Bot API chat reaches"
    assert bakery in {business_chat_key(n, CUSTOMER["id"]) for n in (1, 2)}
    first = await store.get_message(bakery, 5)
    second = await store.get_message(flowers, 5)
    assert first is not None and first.message_text == "Два торта к субботе"
    assert second is not None and second.message_text == "Букет роз к субботе"
    assert first.raw_telegram_json["business_connection_id"] == "conn-bakery"
    assert await store.business_chat_id("conn-unknown", CUSTOMER["id"]) is None
    # Both are work for the analyzer and both are found.
    now = datetime.now(UTC)
    assert await store.pending_work(now=now) == 2
    hits = await store.search("субботе")
    assert sorted(h.chat_id for h in hits) == sorted([bakery, flowers])
    # An edit goes to its own connection's message; a reply joins its own chain.
    when = int((T0 + timedelta(minutes=1)).timestamp())
    edit = business(
        3, "conn-flowers", 5, "Букет тюльпанов", "edited_business_message", edit_date=when
    )
    await capturer.capture(edit)
    assert (await store.get_message(flowers, 5)).message_text == "Букет тюльпанов"  # type: ignore[union-attr]
    assert (await store.get_message(bakery, 5)).message_text == "Два торта к субботе"  # type: ignore[union-attr]
    reply = business(
        4,
        "conn-bakery",
        6,
        "и свечи",
        reply_to=make_message(5, text="Два торта к субботе", date=T0, chat=CUSTOMER),
    )
    await capturer.capture(reply)
    chain = await store.chain_of(bakery, 6)
    assert chain is not None and chain.original_message_id == 5 and chain.chat_id == bakery
    assert await store.chain_of(flowers, 5) is None
