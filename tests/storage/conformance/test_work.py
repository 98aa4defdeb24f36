"""The analyzer's storage behaviour every backend must have: claims, leases, placements, moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import anyio
import attrs
import pytest

from superbrain_core.analyzer.classify.schema import Classification, EventKind, ItemType
from superbrain_core.analyzer.routing import placement_for
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, bot_message, make_message, make_update
from superbrain_core.models import (
    Placement,
    PlacementResult,
    RouteOutcome,
    WorkContext,
    WorkFailure,
)
from superbrain_core.storage.base import Store
from tests.storage.backends import StoreFactory

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 20, 59, 30, tzinfo=UTC)
LEASE = timedelta(minutes=15)


async def capture_texts(store: Store, texts: list[str], *, first_id: int = 1) -> None:
    capturer = Capturer(store)
    for offset, text in enumerate(texts):
        n = first_id + offset
        await capturer.capture(make_update(n, message_id=n, text=text, date=T0))


def verdict(kind: ItemType, *, version: str = "1", **fields: object) -> Classification:
    return Classification(
        type=kind,
        confidence=0.9,
        classifier="test",
        classifier_version=version,
        title=str(fields.pop("title", "Заголовок")),
        **fields,  # type: ignore[arg-type]
    )


async def context(store: Store, message_id: int, chat_id: int = OWNER_ID) -> WorkContext:
    contexts = await store.load_work_contexts([(chat_id, message_id)])
    return contexts[(chat_id, message_id)]


async def place(store: Store, message_id: int, c: Classification, ids: list[int]) -> object:
    ctx = await context(store, message_id)
    (result,) = await store.apply_placements([placement_for(c, ctx, ids)], run_id=None)
    return result


async def test_claim_takes_oldest_first_and_a_live_lease_blocks_others(store: Store) -> None:
    await capture_texts(store, ["a", "b", "c"])
    # A short lease on the real clock: Postgres judges leases by its own clock,
    # so expiry is waited for, not simulated.
    short = timedelta(seconds=1)
    now = datetime.now(UTC)
    first = await store.claim_work("w1", limit=2, lease_until=now + short, now=now)
    assert [i.message_id for i in first] == [1, 2]
    second = await store.claim_work("w2", limit=10, lease_until=now + short, now=now)
    assert [i.message_id for i in second] == [3]
    assert await store.claim_work("w3", limit=10, lease_until=now + LEASE, now=now) == []
    # w1 and w2 crashed: once their leases have expired, their rows are claimable again.
    await anyio.sleep(1.3)
    later = datetime.now(UTC)
    again = await store.claim_work("w3", limit=10, lease_until=later + LEASE, now=later)
    assert sorted(i.message_id for i in again) == [1, 2, 3]


async def test_released_claims_are_claimable_at_once(store: Store) -> None:
    await capture_texts(store, ["a", "b"])
    await store.claim_work("w1", limit=10, lease_until=T0 + LEASE, now=T0)
    assert await store.release_claims("w1") == 2
    assert len(await store.claim_work("w2", limit=10, lease_until=T0 + LEASE, now=T0)) == 2


async def test_concurrent_claims_never_overlap(store_factory: StoreFactory) -> None:
    async with store_factory() as setup:
        await capture_texts(setup, [f"m{i}" for i in range(60)])
    claimed: dict[str, list[int]] = {}

    async def worker(name: str) -> None:
        async with store_factory() as store:
            claimed[name] = []
            while items := await store.claim_work(name, limit=7, lease_until=T0 + LEASE, now=T0):
                claimed[name].extend(i.id for i in items)

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(worker, f"w{n}")
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == 60 and len(set(every)) == 60


async def test_a_clarification_targets_its_chain_root(store: Store) -> None:
    capturer = Capturer(store)
    root = make_message(1, text="Купить билеты", date=T0)
    await capturer.capture({"update_id": 1, "message": root})
    question = bot_message(2, "Когда?", T0 + timedelta(seconds=1))
    await capturer.capture(
        make_update(
            2, message_id=3, text="В пятницу", date=T0 + timedelta(minutes=1), reply_to=question
        )
    )
    await capturer.capture(
        make_update(
            3,
            message_id=4,
            text="Нет, в субботу",
            date=T0 + timedelta(minutes=2),
            reply_to=make_message(3, text="В пятницу", date=T0),
        )
    )
    items = await store.claim_work("w", limit=10, lease_until=T0 + LEASE, now=T0)
    # The bot's question was never recorded, so the chain is rooted at it; the
    # earliest stored message of the chain (3) is what gets filed.
    assert {(i.message_id, i.target_message_id) for i in items} == {(1, 1), (3, 3), (4, 3)}
    ctx = await context(store, 3)
    assert [m.message_id for m in ctx.members] == [4]
    assert ctx.input_version == max(i.id for i in items if i.message_id in (3, 4))


async def test_reply_to_a_recorded_bot_message_folds_into_the_users_message(
    store: Store,
) -> None:
    from superbrain_core.models import BotResponseIn

    capturer = Capturer(store)
    await capturer.capture(make_update(1, message_id=1, text="Купить билеты", date=T0))
    await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID, message_id=2, response_text="Когда?", related_user_message_id=1
        )
    )
    await capturer.capture(
        make_update(
            2,
            message_id=3,
            text="в пятницу",
            date=T0 + timedelta(minutes=1),
            reply_to=bot_message(2, "Когда?", T0),
        )
    )
    items = await store.claim_work("w", limit=10, lease_until=T0 + LEASE, now=T0)
    assert {(i.message_id, i.target_message_id) for i in items} == {(1, 1), (3, 1)}
    ctx = await context(store, 1)
    assert [m.message_text for m in ctx.members] == ["в пятницу"]
    assert [b.response_text for b in ctx.bot_messages] == ["Когда?"]


async def test_place_update_move_and_history(store: Store) -> None:
    await capture_texts(store, ["Купить билеты в пятницу"])
    (item,) = await store.claim_work("w", limit=1, lease_until=T0 + LEASE, now=T0)
    due = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    placed = await place(store, 1, verdict(ItemType.TASK, due_at=due), [item.id])
    assert placed.outcome is RouteOutcome.PLACED and placed.destination == "tasks"
    (task,) = await store.list_records("tasks")
    assert (task["title"], task["status"], task["raw_message_id"]) == ("Заголовок", "open", item.id)
    assert datetime.fromisoformat(str(task["due_at"])) == due
    msg = await store.get_message(OWNER_ID, 1)
    assert msg is not None and msg.is_processed and msg.processed_at is not None

    same = await place(store, 1, verdict(ItemType.TASK, due_at=due), [])
    assert same.outcome is RouteOutcome.UNCHANGED
    assert len(await store.routing_history(OWNER_ID, 1)) == 1

    later = due + timedelta(days=1)
    updated = await place(store, 1, verdict(ItemType.TASK, due_at=later), [])
    assert updated.outcome is RouteOutcome.UPDATED and updated.record_id == task["id"]
    (task2,) = await store.list_records("tasks")
    assert datetime.fromisoformat(str(task2["due_at"])) == later

    moved = await place(
        store,
        1,
        verdict(ItemType.EVENT, starts_at=later, event_kind=EventKind.MEETING, people=["Олег"]),
        [],
    )
    assert moved.outcome is RouteOutcome.MOVED and moved.previous_destination == "tasks"
    assert await store.list_records("tasks") == []
    (event,) = await store.list_records("events")
    assert (event["kind"], event["people"]) == ("meeting", ["Олег"])
    history = await store.routing_history(OWNER_ID, 1)
    assert [h.destination for h in history] == ["tasks", "tasks", "events"]
    assert [h.superseded_at is None for h in history] == [False, False, True]
    assert history[-1].record_id == event["id"]
    assert history[-1].classification["type"] == "event"


async def test_every_destination_gets_its_columns(store: Store) -> None:
    await capture_texts(store, ["x"] * 7)
    cases = [
        (ItemType.NOTE, "notes", {"tags": ["идея"]}),
        (ItemType.LINK, "links", {"url": "https://example.org"}),
        (ItemType.CONTACT, "people", {"phone": "+79991234567", "people": ["Иван"]}),
        (ItemType.EXPENSE, "expenses", {"amount": Decimal("1500.50"), "currency": "RUB"}),
        (ItemType.FILE, "files", {}),
        (ItemType.EVENT, "events", {}),
        (ItemType.NONE, "none", {}),
    ]
    for n, (kind, table, fields) in enumerate(cases, start=1):
        result = await place(store, n, verdict(kind, **fields), [])
        assert result.destination == table
    assert (await store.list_records("notes"))[0]["tags"] == ["идея"]
    assert (await store.list_records("links"))[0]["url"] == "https://example.org"
    person = (await store.list_records("people"))[0]
    assert (person["name"], person["phone"]) == ("Иван", "+79991234567")
    expense = (await store.list_records("expenses"))[0]
    assert (Decimal(str(expense["amount"])), expense["currency"]) == (Decimal("1500.50"), "RUB")
    assert datetime.fromisoformat(str(expense["spent_at"])) == T0.replace(microsecond=0)
    assert (await store.list_records("events"))[0]["kind"] == "other"
    none_entry = (await store.routing_history(OWNER_ID, 7))[0]
    assert none_entry.destination == "none" and none_entry.record_id is None


async def test_a_verdict_from_older_input_is_dropped(store: Store) -> None:
    await capture_texts(store, ["Купить билеты"])
    ctx = await context(store, 1)
    newer = placement_for(verdict(ItemType.EVENT), ctx, [])
    newer = attrs.evolve(newer, input_version=ctx.input_version + 5)
    await store.apply_placements([newer], run_id=None)
    (stale,) = await store.apply_placements(
        [placement_for(verdict(ItemType.TASK), ctx, [ctx.root.id])], run_id=None
    )
    assert stale.outcome is RouteOutcome.STALE
    assert await store.list_records("tasks") == []
    assert len(await store.list_records("events")) == 1
    msg = await store.get_message(OWNER_ID, 1)
    assert msg is not None and msg.is_processed  # its rows were covered by the newer verdict


async def test_placements_are_atomic_with_their_batch(store: Store) -> None:
    await capture_texts(store, ["a", "b"])
    good = placement_for(verdict(ItemType.NOTE), await context(store, 1), [1])
    bad = placement_for(verdict(ItemType.NOTE), await context(store, 2), [2])
    bad = attrs.evolve(bad, destination="no_such_table")
    with pytest.raises(Exception, match="no_such_table"):
        await store.apply_placements([good, bad], run_id=None)
    assert await store.list_records("notes") == []
    assert await store.routing_history(OWNER_ID, 1) == []
    msg = await store.get_message(OWNER_ID, 1)
    assert msg is not None and not msg.is_processed


async def test_failures_back_off_then_quarantine(store: Store) -> None:
    await capture_texts(store, ["a"])
    (item,) = await store.claim_work("w", limit=1, lease_until=T0 + LEASE, now=T0)
    retry_at = T0 + timedelta(hours=1)
    await store.record_work_failures([WorkFailure(item.id, "HTTP 502", retry_at)])
    assert await store.claim_work("w", limit=1, lease_until=T0 + LEASE, now=T0) == []
    assert await store.pending_work(now=T0) == 0
    (again,) = await store.claim_work("w", limit=1, lease_until=retry_at + LEASE, now=retry_at)
    assert again.attempts == 1
    await store.record_work_failures(
        [WorkFailure(item.id, "HTTP 500 again", retry_at, quarantine=True)]
    )
    much_later = T0 + timedelta(days=30)
    assert await store.claim_work("w", limit=1, lease_until=much_later, now=much_later) == []
    (problem,) = await store.work_problems()
    assert (problem.attempts, problem.last_error) == (2, "HTTP 500 again")
    assert problem.quarantined_at is not None
    assert await store.requeue_quarantined() == 1
    assert len(await store.claim_work("w", limit=1, lease_until=much_later, now=much_later)) == 1


async def test_reclassify_requeues_only_other_versions(store: Store) -> None:
    await capture_texts(store, ["a", "b"])
    await place(store, 1, verdict(ItemType.NOTE, version="1"), [1])
    await place(store, 2, verdict(ItemType.NOTE, version="2"), [2])
    peeked = await store.peek_work(after_id=0, limit=10, now=T0, reclassify=("test", "2"))
    assert [i.message_id for i in peeked] == [1]
    assert await store.peek_work(after_id=0, limit=10, now=T0) == []
    assert await store.requeue_for_reclassify("test", "2") == 1
    items = await store.claim_work("w", limit=10, lease_until=T0 + LEASE, now=T0)
    assert [i.message_id for i in items] == [1]


async def test_an_edit_makes_the_message_pending_again(store: Store) -> None:
    await capture_texts(store, ["Купить хлеб"])
    await place(store, 1, verdict(ItemType.TASK), [1])
    assert await store.pending_work(now=T0) == 0
    edited = make_message(1, text="Купить хлеб и молоко", date=T0, edit_date=1764018000)
    await Capturer(store).capture({"update_id": 2, "edited_message": edited})
    (item,) = await store.claim_work("w", limit=5, lease_until=T0 + LEASE, now=T0)
    ctx = await context(store, 1)
    assert ctx.root.id == item.id and ctx.root.message_text == "Купить хлеб и молоко"


async def test_batch_runs_are_recorded(store: Store) -> None:
    run_id = await store.start_batch_run("test", "1", "w")
    running = await store.last_batch_run()
    assert running is not None and running.status == "running" and running.finished_at is None
    await store.finish_batch_run(run_id, status="ok", counts={"processed": 3}, digest="Разбор")
    done = await store.last_batch_run()
    assert done is not None and done.id == run_id and done.status == "ok"
    assert done.counts == {"processed": 3} and done.digest == "Разбор"
    assert done.finished_at is not None


async def test_a_nul_character_never_blocks_a_placement(store: Store) -> None:
    await capture_texts(store, ["до\u0000после"])
    c = verdict(ItemType.NOTE, title="до\u0000после", summary="до\u0000после", tags=["a\u0000"])
    result = await place(store, 1, c, [1])
    assert result.outcome is RouteOutcome.PLACED
    (note,) = await store.list_records("notes")
    assert (note["text"], note["tags"]) == ("допосле", ["a"])
    raw = await store.get_message(OWNER_ID, 1)
    assert raw is not None and raw.raw_telegram_json["text"] == "до\u0000после"


# -- a batch of placements files exactly what the same placements file one at a time


def _chat(chat_id: int) -> dict[str, object]:
    return {"id": chat_id, "type": "private", "first_name": "Owner"}


async def _prepare_chat(store: Store, chat_id: int, first_update: int) -> list[Placement]:
    """Messages in every state a batch can meet, some filed beforehand; returns the
    placements of the batch, in (message_id) order, for one chat."""
    capturer = Capturer(store)
    chat = _chat(chat_id)
    u = first_update

    async def say(message_id: int, text: str, **kw: object) -> None:
        nonlocal u
        await capturer.capture(
            make_update(u, message_id=message_id, text=text, date=T0, chat=chat, **kw)
        )
        u += 1

    for n, text in [(1, "заметка"), (2, "задача"), (3, "задача"), (4, "заметка"), (7, "x")]:
        await say(n, text)
    await say(5, "корень")
    await say(6, "ответ", reply_to=make_message(5, text="корень", date=T0, chat=chat))
    await say(10, "корень 2")
    await say(11, "ответ 2", reply_to=make_message(10, text="корень 2", date=T0, chat=chat))
    for n, text in [(12, "ничего"), (13, "старое")]:
        await say(n, text)

    async def ctx(message_id: int) -> WorkContext:
        return (await store.load_work_contexts([(chat_id, message_id)]))[(chat_id, message_id)]

    due = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    before = [
        placement_for(verdict(ItemType.TASK, due_at=due), await ctx(2), []),
        placement_for(verdict(ItemType.TASK), await ctx(3), []),
        placement_for(verdict(ItemType.NOTE), await ctx(4), []),
        # The reply filed on its own (as when its root was not stored yet).
        attrs.evolve(placement_for(verdict(ItemType.NOTE), await ctx(6), []), member_ids=()),
    ]
    newer = placement_for(verdict(ItemType.EVENT), await ctx(13), [])
    before.append(attrs.evolve(newer, input_version=newer.input_version + 1000))
    for p in before:
        await store.apply_placements([p], run_id=None)

    async def ids(message_id: int) -> list[int]:
        return [m.id for m in await store.message_versions(chat_id, message_id)]

    return [
        placement_for(verdict(ItemType.NOTE, tags=["a"]), await ctx(1), await ids(1)),
        placement_for(verdict(ItemType.TASK, due_at=due + LEASE), await ctx(2), await ids(2)),
        placement_for(verdict(ItemType.EVENT), await ctx(3), await ids(3)),
        placement_for(verdict(ItemType.NOTE), await ctx(4), await ids(4)),
        placement_for(verdict(ItemType.LINK, url="https://x.org"), await ctx(5), await ids(5)),
        placement_for(verdict(ItemType.NOTE), await ctx(7), []),
        placement_for(verdict(ItemType.TASK), await ctx(7), await ids(7)),
        placement_for(verdict(ItemType.NOTE, title="корень 2"), await ctx(10), await ids(10)),
        attrs.evolve(
            placement_for(verdict(ItemType.EXPENSE), await ctx(11), await ids(11)),
            member_ids=(),
        ),
        placement_for(verdict(ItemType.NONE), await ctx(12), await ids(12)),
        placement_for(verdict(ItemType.TASK), await ctx(13), await ids(13)),
    ]


async def _filed(store: Store, chat_id: int) -> dict[str, object]:
    """What a chat's filing left behind, without row ids and times."""
    skip = {"id", "raw_message_id", "chat_id", "created_at", "updated_at"}
    records = {
        table: sorted(
            (sorted((k, repr(v)) for k, v in r.items() if k not in skip))
            for r in await store.list_records(table)
            if r["chat_id"] == chat_id
        )
        for table in ("events", "tasks", "notes", "links", "expenses")
    }
    history = {
        n: [
            (h.destination, h.record_id is None, h.superseded_at is None, h.classification["type"])
            for h in await store.routing_history(chat_id, n)
        ]
        for n in (1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13)
    }
    processed = {
        n: [m.is_processed for m in await store.message_versions(chat_id, n)]
        for n in (1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13)
    }
    return {"records": records, "history": history, "processed": processed}


async def test_a_batch_files_what_the_same_placements_file_one_at_a_time(store: Store) -> None:
    batch = await _prepare_chat(store, 7001, 1)
    alone = await _prepare_chat(store, 7002, 1001)
    together = await store.apply_placements(batch, run_id=None)
    one_by_one = [(await store.apply_placements([p], run_id=None))[0] for p in alone]

    def outcomes(results: list[PlacementResult]) -> list[tuple[object, ...]]:
        return [
            (r.message_id, r.outcome, r.destination, r.previous_destination, r.record_id is None)
            for r in results
        ]

    assert outcomes(together) == outcomes(one_by_one)
    assert [r.outcome for r in together] == [
        RouteOutcome.PLACED,
        RouteOutcome.UPDATED,
        RouteOutcome.MOVED,
        RouteOutcome.UNCHANGED,
        RouteOutcome.PLACED,  # the root; its reply's own filing is absorbed
        RouteOutcome.PLACED,
        RouteOutcome.MOVED,  # the same message again in the same batch
        RouteOutcome.PLACED,
        RouteOutcome.PLACED,  # a member placed on its own after its root
        RouteOutcome.PLACED,
        RouteOutcome.STALE,
    ]
    assert await _filed(store, 7001) == await _filed(store, 7002)
    filed = await _filed(store, 7001)
    history = filed["history"]
    assert isinstance(history, dict)
    assert [h[2] for h in history[6]] == [False]  # absorbed into its root's filing
    assert [h[0] for h in history[7]] == ["notes", "tasks"]
    # Record ids come back for what was filed: each message's last result points
    # at the row its current log entry names.
    last = {r.message_id: r for r in together}
    for r in last.values():
        if r.destination != "none" and r.outcome is not RouteOutcome.STALE:
            (entry,) = [
                h for h in await store.routing_history(7001, r.message_id) if not h.superseded_at
            ]
            assert entry.record_id == r.record_id


async def test_a_batch_of_fresh_placements_is_filed_once_even_if_retried(store: Store) -> None:
    await capture_texts(store, [f"заметка {n}" for n in range(1, 41)])
    items = await store.claim_work("w", limit=100, lease_until=T0 + LEASE, now=T0)
    contexts = await store.load_work_contexts([(OWNER_ID, i.message_id) for i in items])
    placements = [
        placement_for(
            verdict(ItemType.NOTE, title=f"t{i.message_id}"),
            contexts[(OWNER_ID, i.message_id)],
            [i.id],
        )
        for i in items
    ]
    first = await store.apply_placements(placements, run_id=None)
    again = await store.apply_placements(placements, run_id=None)
    assert {r.outcome for r in first} == {RouteOutcome.PLACED}
    assert {r.outcome for r in again} == {RouteOutcome.UNCHANGED}
    assert [r.record_id for r in again] == [r.record_id for r in first]
    notes = await store.list_records("notes")
    assert len(notes) == 40 and len({n["message_id"] for n in notes}) == 40
    assert {n["id"] for n in notes} == {r.record_id for r in first}
    assert await store.pending_work(now=T0 + 2 * LEASE) == 0
    for i in items:
        assert len(await store.routing_history(OWNER_ID, i.message_id)) == 1
