"""Order-independent history (issue 15 points 1 and 2), as properties, on every backend.

Random reply trees with random edits arrive in a random order, in random
batches, with random redeliveries, partly through a Desktop import: chains,
version order and current versions must equal those of in-order arrival.
Each example writes into chats and a ``bot_id`` of its own, so examples share
one database (SQLite file or Postgres) without resetting it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from superbrain_core.demo.samples import make_message
from superbrain_core.models import CaptureOutcome, ImportedMessage
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.telegram import normalize_message, normalize_update
from tests.fuzz.conftest import fuzz_settings
from tests.storage.backends import StoreFactory

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WORDS = ["встреча", "купить", "завтра", "Олег", "отчёт", "молоко", "15:00", "проект"]
_runs = itertools.count(1)


@attrs.frozen
class Thread:
    """Messages 1..n of one chat: ``parents[i]`` is what message i+1 replies to (or
    ``None``), ``edits[i]`` how many times it was edited, ``texts`` its words."""

    parents: tuple[int | None, ...]
    edits: tuple[int, ...]
    texts: tuple[str, ...]

    def updates(self, chat_id: int) -> list[dict[str, Any]]:
        """Every update of the thread, in the order Telegram sent them."""
        chat = {"id": chat_id, "type": "private", "first_name": "Owner"}
        originals: dict[int, dict[str, Any]] = {}
        out: list[tuple[datetime, dict[str, Any]]] = []
        for i, parent in enumerate(self.parents):
            n = i + 1
            date = T0 + timedelta(minutes=n)
            body: dict[str, Any] = {"chat": chat, "text": f"{self.texts[i]} v0"}
            if parent is not None:
                body["reply_to"] = originals[parent]
            originals[n] = make_message(n, date=date, **body)
            out.append((date, {"message": originals[n]}))
            for k in range(1, self.edits[i] + 1):
                edited = dict(originals[n], text=f"{self.texts[i]} v{k}")
                when = date + timedelta(seconds=7 * k)
                edited["edit_date"] = int(when.timestamp())
                out.append((when, {"edited_message": edited}))
        out.sort(key=lambda pair: pair[0])
        return [{"update_id": u, **body} for u, (_, body) in enumerate(out, start=1)]


@st.composite
def threads(draw: st.DrawFn) -> Thread:
    size = draw(st.integers(min_value=2, max_value=7))
    parents = tuple(
        draw(st.none() | st.integers(min_value=1, max_value=i)) if i else None for i in range(size)
    )
    edits = tuple(draw(st.integers(min_value=0, max_value=2)) for _ in range(size))
    texts = tuple(draw(st.sampled_from(WORDS)) for _ in range(size))
    return Thread(parents, edits, texts)


@attrs.frozen
class Arrival:
    """How the updates arrive: an order, redeliveries, and batch boundaries."""

    order: tuple[int, ...]
    batches: tuple[int, ...]


@st.composite
def arrivals(draw: st.DrawFn, count: int) -> Arrival:
    order = list(draw(st.permutations(range(count))))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        order.insert(draw(st.integers(0, len(order))), draw(st.integers(0, count - 1)))
    sizes = tuple(draw(st.integers(min_value=1, max_value=4)) for _ in order)
    return Arrival(tuple(order), sizes)


async def deliver(
    store: Store, updates: list[dict[str, Any]], arrival: Arrival, bot_id: int
) -> None:
    options = CaptureOptions(bot_id=bot_id, source="ingest")
    sequence = [normalize_update(updates[i]) for i in arrival.order]
    start = 0
    for size in arrival.batches:
        if start >= len(sequence):
            break
        results = await store.capture_many(sequence[start : start + size], options)
        assert all(r.outcome is not CaptureOutcome.CONFLICT for r in results)
        start += size


async def picture(store: Store, chat_id: int, count: int) -> dict[str, Any]:
    """What must not depend on arrival order: versions, current texts, chains."""
    versions = {}
    current = {}
    chain_root = {}
    chains = {c.chain_id: c for c in await store.list_chains(chat_id=chat_id)}
    for n in range(1, count + 1):
        stored = await store.message_versions(chat_id, n)
        versions[n] = [(v.version, v.message_text) for v in stored]
        newest = await store.get_message(chat_id, n)
        current[n] = newest.message_text if newest else None
        chain = await store.chain_of(chat_id, n)
        chain_root[n] = chain.original_message_id if chain else None
        if chain is not None:
            assert chain.chain_id in chains
            assert {v.chain_id for v in stored} == {chain.chain_id}, "every version in the chain"
    shapes = sorted(
        (
            c.original_message_id,
            c.original_text,
            tuple((r.message_id, r.text) for r in c.replies),
        )
        for c in chains.values()
    )
    return {"versions": versions, "current": current, "roots": chain_root, "chains": shapes}


@st.composite
def shuffled_threads(draw: st.DrawFn) -> tuple[Thread, Arrival]:
    """A thread and how its updates arrive. Everything is drawn here, before the test
    runs: a draw inside an async test that overruns hypothesis' buffer ends the example
    with an exception in the event loop's task, not in the test."""
    thread = draw(threads())
    count = len(thread.updates(0))
    return thread, draw(arrivals(count))


@attrs.frozen
class Mix:
    """Which originals a Desktop import brings, the live ones' order, and when the
    import runs among them."""

    imported: frozenset[int]
    order: tuple[int, ...]
    when: int


@st.composite
def mixed_threads(draw: st.DrawFn) -> tuple[Thread, Mix]:
    thread = draw(threads())
    count = len(thread.parents)
    unedited = attrs.evolve(thread, edits=(0,) * count)
    imported = frozenset(draw(st.sets(st.integers(1, count))))
    live = [n - 1 for n in range(1, count + 1) if n not in imported]
    order = tuple(draw(st.permutations(live)))
    return unedited, Mix(imported, order, draw(st.integers(0, len(order))))


@fuzz_settings(0.5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=shuffled_threads())
async def test_any_arrival_order_gives_the_in_order_history(
    store_factory: StoreFactory, case: tuple[Thread, Arrival]
) -> None:
    thread, arrival = case
    run = next(_runs)
    in_order_chat, shuffled_chat = 10_000_000 + 2 * run, 10_000_001 + 2 * run
    reference = thread.updates(in_order_chat)
    shuffled = thread.updates(shuffled_chat)
    count = len(thread.parents)
    async with store_factory() as store:
        in_order = Arrival(tuple(range(len(reference))), (1,) * len(reference))
        await deliver(store, reference, in_order, bot_id=2 * run)
        await deliver(store, shuffled, arrival, bot_id=2 * run + 1)
        expected = await picture(store, in_order_chat, count)
        got = await picture(store, shuffled_chat, count)
    assert got == expected
    # Nothing twice: one version per distinct update, numbered 1..n.
    for n, stored in got["versions"].items():
        assert [v for v, _ in stored] == list(range(1, thread.edits[n - 1] + 2))


@fuzz_settings(0.5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mixed_threads())
async def test_an_import_mixed_with_capture_gives_the_in_order_chains(
    store_factory: StoreFactory, case: tuple[Thread, Mix]
) -> None:
    """Some originals come from a Desktop import, in export order, among live updates
    arriving in any order: the chains are those of in-order capture."""
    thread, mix = case
    run = next(_runs)
    in_order_chat, mixed_chat = 20_000_000 + 2 * run, 20_000_001 + 2 * run
    count = len(thread.parents)
    reference = thread.updates(in_order_chat)
    mixed = thread.updates(mixed_chat)
    head, tail = mix.order[: mix.when], mix.order[mix.when :]
    async with store_factory() as store:
        await deliver(store, reference, Arrival(tuple(range(count)), (1,) * count), 2 * run)
        await deliver(store, mixed, Arrival(head, (1,) * len(head)), 2 * run + 1)
        batch = [
            ImportedMessage(message=normalize_message(mixed[n - 1]["message"]))
            for n in sorted(mix.imported)
        ]
        await store.import_messages(batch, CaptureOptions(source="desktop_export"))
        await deliver(store, mixed, Arrival(tail, (1,) * len(tail)), 2 * run + 1)
        expected = await picture(store, in_order_chat, count)
        got = await picture(store, mixed_chat, count)
    assert got["chains"] == expected["chains"]
    assert got["roots"] == expected["roots"]
    assert got["current"] == expected["current"]
