"""Issue 15 points 1 and 2: chains and "current version" do not depend on arrival order.

Spool replay, ``ingest day2.json day1.json``, a Desktop import next to live
capture: each reorders a conversation. Whatever the order, the store must end
up as in-order arrival leaves it. The random-order properties are in
``tests/fuzz/test_arrival_order_fuzz.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_message, make_update
from superbrain_core.models import CaptureOutcome, ImportedMessage, Placement
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.telegram import normalize_message

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


def thread() -> dict[int, dict[str, Any]]:
    """10 ← 11 ← 12: a message, a reply to it, a reply to the reply."""
    m10 = make_message(10, text="Купить подарок", date=T0)
    m11 = make_message(11, text="маме", date=T0 + timedelta(minutes=1), reply_to=m10)
    m12 = make_message(12, text="к субботе", date=T0 + timedelta(minutes=2), reply_to=m11)
    return {10: m10, 11: m11, 12: m12}


async def capture_in(store: Store, order: list[int]) -> None:
    capturer = Capturer(store)
    messages = thread()
    for n in order:
        await capturer.capture({"update_id": n, "message": messages[n]})


@pytest.mark.parametrize("order", [[10, 12, 11], [12, 10, 11], [12, 11, 10], [11, 12, 10]])
async def test_a_root_that_turns_out_to_be_a_reply_is_merged_into_its_parents_chain(
    store: Store, order: list[int]
) -> None:
    await capture_in(store, order)
    chains = await store.list_chains()
    assert len(chains) == 1, [(c.original_message_id, c.replies) for c in chains]
    (chain,) = chains
    assert chain.original_message_id == 10 and chain.original_text == "Купить подарок"
    assert [r.message_id for r in chain.replies] == [11, 12]
    assert [r.text for r in chain.replies] == ["маме", "к субботе"]
    for n in (10, 11, 12):
        found = await store.chain_of(OWNER_ID, n)
        assert found is not None and found.chain_id == chain.chain_id
        msg = await store.get_message(OWNER_ID, n)
        assert msg is not None and msg.chain_id == chain.chain_id


async def test_merged_messages_become_work_again(store: Store) -> None:
    """12 (a reply to 11) was filed under 11 before 11 arrived; once 11 turns out to
    answer 10, the half-conversation is work again, to be filed under 10."""
    await capture_in(store, [10, 12])
    now = datetime.now(UTC)
    items = await store.claim_work("w", limit=10, lease_until=now + timedelta(minutes=5), now=now)
    assert {i.message_id for i in items} == {10, 12}
    placements = [
        Placement(
            chat_id=OWNER_ID,
            message_id=i.target_message_id,
            raw_message_id=i.id,
            destination="none",
            values={},
            classification={"type": "none"},
            classifier="t",
            classifier_version="1",
            confidence=1.0,
            input_version=i.id,
            processed_ids=(i.id,),
        )
        for i in items
    ]
    await store.apply_placements(placements, run_id=None)
    assert await store.pending_work(now=now) == 0
    await capture_in(store, [11])
    items = await store.claim_work("w", limit=10, lease_until=now + timedelta(minutes=5), now=now)
    assert {i.message_id for i in items} == {11, 12}, "the merged chain's messages are work"
    assert {i.target_message_id for i in items} == {10}, "filed under the whole chain's root"


async def test_an_import_merges_chains_too(store: Store) -> None:
    """The Desktop import joins reply chains exactly as capture does."""
    messages = thread()
    await Capturer(store).capture({"update_id": 12, "message": messages[12]})
    imported = [ImportedMessage(message=normalize_message(messages[n])) for n in (10, 11)]
    await store.import_messages(imported, CaptureOptions(source="desktop_export"))
    chains = await store.list_chains()
    assert [(c.original_message_id, [r.message_id for r in c.replies]) for c in chains] == [
        (10, [11, 12])
    ]


def edits() -> dict[str, dict[str, Any]]:
    """Message 20 as sent, then edited twice (a minute apart)."""
    base = {"message_id": 20, "date": T0}
    return {
        "v1": make_update(1, **base, text="встреча в понедельник"),
        "v2": make_update(
            2, "edited_message", **base, text="встреча во вторник", edit_date=_unix(T0, 60)
        ),
        "v3": make_update(
            3, "edited_message", **base, text="встреча в среду", edit_date=_unix(T0, 120)
        ),
    }


def _unix(start: datetime, seconds: int) -> int:
    return int((start + timedelta(seconds=seconds)).timestamp())


@pytest.mark.parametrize(
    "order", [["v3", "v1", "v2"], ["v2", "v3", "v1"], ["v3", "v2", "v1"], ["v1", "v3", "v2"]]
)
async def test_versions_follow_telegrams_edit_date_not_arrival(
    store: Store, order: list[str]
) -> None:
    updates = edits()
    capturer = Capturer(store)
    for name in order:
        result = await capturer.capture(updates[name])
        assert result.outcome is not CaptureOutcome.DUPLICATE
    versions = await store.message_versions(OWNER_ID, 20)
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.message_text for v in versions] == [
        "встреча в понедельник",
        "встреча во вторник",
        "встреча в среду",
    ]
    current = await store.get_message(OWNER_ID, 20)
    assert current is not None and current.message_text == "встреча в среду"
    # Search finds the current text and only it.
    assert [h.message_id for h in await store.search("среду")] == [20]
    assert await store.search("вторник") == []
    assert await store.search("понедельник") == []
    # A redelivered old edit is still a duplicate.
    again = dict(updates["v2"], update_id=99)
    assert (await capturer.capture(again)).outcome is CaptureOutcome.DUPLICATE


async def test_a_late_older_edit_of_a_reply_leaves_the_chain_showing_the_newest(
    store: Store,
) -> None:
    root = make_message(30, text="Купить", date=T0)
    reply = make_message(31, text="хлеб", date=T0 + timedelta(minutes=1), reply_to=root)
    capturer = Capturer(store)
    await capturer.capture({"update_id": 1, "message": root})
    await capturer.capture({"update_id": 2, "message": reply})
    newer = dict(reply, text="молоко", edit_date=_unix(T0, 300))
    older = dict(reply, text="кефир", edit_date=_unix(T0, 200))
    await capturer.capture({"update_id": 3, "edited_message": newer})
    await capturer.capture({"update_id": 4, "edited_message": older})
    chain = await store.chain_of(OWNER_ID, 31)
    assert chain is not None and [r.text for r in chain.replies] == ["молоко"]
    root_newer = dict(root, text="Купить срочно", edit_date=_unix(T0, 400))
    root_older = dict(root, text="Купить завтра", edit_date=_unix(T0, 350))
    await capturer.capture({"update_id": 5, "edited_message": root_newer})
    await capturer.capture({"update_id": 6, "edited_message": root_older})
    chain = await store.chain_of(OWNER_ID, 30)
    assert chain is not None and chain.original_text == "Купить срочно"


def run_sql(store: Store, statement: str) -> None:
    """A statement straight on the store's database (to set up a state that only a race
    between two writers produces)."""
    if store.backend == "sqlite":
        import sqlite3

        with sqlite3.connect(getattr(store, "path")) as conn:  # noqa: B009
            conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(getattr(store, "_dsn"), autocommit=True) as conn:  # noqa: B009
        conn.execute(statement.encode())


async def test_input_version_never_goes_backwards(store: Store) -> None:
    """A chain's newest version written while a concurrent transaction created the chain
    can lack the chain id. The context must still count it: the highest raw row id of
    every version of the chain, never lower than what an earlier run saw, so a later
    edit is filed instead of being dropped as stale."""
    root = make_message(40, text="Купить билеты", date=T0)
    reply = make_message(41, text="в кино", date=T0 + timedelta(minutes=1), reply_to=root)
    capturer = Capturer(store)
    await capturer.capture({"update_id": 1, "message": root})
    await capturer.capture({"update_id": 2, "message": reply})
    first = (await store.load_work_contexts([(OWNER_ID, 40)]))[(OWNER_ID, 40)]
    edited = dict(reply, text="в театр", edit_date=_unix(T0, 600))
    result = await capturer.capture({"update_id": 3, "edited_message": edited})
    assert result.raw_message_id is not None
    run_sql(store, f"UPDATE raw_messages SET chain_id = NULL WHERE id = {result.raw_message_id}")
    later = (await store.load_work_contexts([(OWNER_ID, 40)]))[(OWNER_ID, 40)]
    assert later.input_version >= result.raw_message_id > first.input_version
    assert [m.message_text for m in later.members] == ["в театр"], "the newest version"
