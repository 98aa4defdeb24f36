"""The analyzer loop end to end on every backend: routing, corrections, failures, crashes, races."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import anyio
import attrs
import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.analyzer.classify.schema import (
    Classification,
    ClassifierError,
    ClassifierInput,
    ItemType,
)
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, bot_message, make_message, make_update
from superbrain_core.models import BotResponseIn
from superbrain_core.storage.base import Store
from tests.storage.backends import StoreFactory

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEYWORDS = {
    "купить": ItemType.TASK,
    "встреча": ItemType.EVENT,
    "http": ItemType.LINK,
    "₽": ItemType.EXPENSE,
}
TABLES = ("events", "tasks", "notes", "files", "people", "links", "expenses")


def classifier(version: str = "1") -> KeywordClassifier:
    return KeywordClassifier(KEYWORDS, version=version)


class Clock:
    """A settable clock, so back-off and lease expiry need no sleeping."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def capture_texts(store: Store, texts: list[str], *, first: int = 1) -> None:
    capturer = Capturer(store)
    for n, text in enumerate(texts, start=first):
        await capturer.capture(make_update(n, message_id=n, text=text, date=T0))


async def placements(store: Store) -> Counter[tuple[int, int]]:
    """How many structured rows each message has across all tables (must be 0 or 1)."""
    seen: Counter[tuple[int, int]] = Counter()
    for table in TABLES:
        for row in await store.list_records(table, limit=100_000):
            seen[(row["chat_id"], row["message_id"])] += 1
    return seen


async def current_destination(store: Store, message_id: int) -> str | None:
    history = await store.routing_history(OWNER_ID, message_id)
    current = [h for h in history if h.superseded_at is None]
    assert len(current) <= 1
    return current[0].destination if current else None


async def test_a_run_files_everything_and_records_itself(store: Store) -> None:
    await capture_texts(
        store,
        ["Купить молоко", "Встреча в 15:00", "https://example.org", "Обед 450 ₽", "Мысль дня"],
    )
    report = await run_batch(store, classifier(), BatchOptions(concurrency=4), clock=Clock())
    assert report.ok and report.status == "ok"
    assert (report.claimed, report.processed, report.classified) == (5, 5, 5)
    assert dict(report.routed) == {
        "tasks": 1,
        "events": 1,
        "links": 1,
        "expenses": 1,
        "notes": 1,
    }
    assert [await current_destination(store, n) for n in range(1, 6)] == [
        "tasks",
        "events",
        "links",
        "expenses",
        "notes",
    ]
    for n in range(1, 6):
        msg = await store.get_message(OWNER_ID, n)
        assert msg is not None and msg.is_processed
    run = await store.last_batch_run()
    assert run is not None and run.id == report.run_id and run.status == "ok"
    assert run.counts["processed"] == 5 and run.counts["routed"]["tasks"] == 1
    assert run.digest == report.digest and "5 сообщений" in report.digest
    # The unsure one (no keyword: confidence 0.5) is asked about in the digest.
    assert [q.message_id for q in report.questions] == [5]
    assert "«Мысль дня» — Что это?" in report.digest
    again = await run_batch(store, classifier(), clock=Clock())
    assert again.claimed == 0 and again.ok and "новых сообщений нет" in again.digest


async def test_a_clarification_in_a_later_run_moves_the_item(store: Store) -> None:
    capturer = Capturer(store)
    await capturer.capture(make_update(1, message_id=1, text="Купить билеты с Олегом", date=T0))
    first = await run_batch(store, classifier(), clock=Clock())
    assert dict(first.routed) == {"tasks": 1}
    (task,) = await store.list_records("tasks")
    # The bot asked; the owner answered the bot's message the next day.
    await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID, message_id=2, response_text="Это задача?", related_user_message_id=1
        )
    )
    await capturer.capture(
        make_update(
            2,
            message_id=3,
            text="Нет, это встреча",
            date=T0 + timedelta(days=1),
            reply_to=bot_message(2, "Это задача?", T0),
        )
    )
    second = await run_batch(store, classifier(), clock=Clock(T0 + timedelta(days=1)))
    assert second.moved == 1 and dict(second.routed) == {"events": 1}
    assert (second.claimed, second.processed) == (1, 1)
    assert "Переложено после уточнений: 1." in second.digest
    assert await store.list_records("tasks") == []
    (event,) = await store.list_records("events")
    assert event["message_id"] == 1 and task["message_id"] == 1
    history = await store.routing_history(OWNER_ID, 1)
    assert [(h.destination, h.superseded_at is None) for h in history] == [
        ("tasks", False),
        ("events", True),
    ]
    assert history[0].run_id == first.run_id and history[1].run_id == second.run_id
    # The clarification itself is folded into the root, never filed on its own.
    assert await store.routing_history(OWNER_ID, 3) == []
    reply = await store.get_message(OWNER_ID, 3)
    assert reply is not None and reply.is_processed


async def test_reply_to_reply_chains_fold_into_the_root(store: Store) -> None:
    capturer = Capturer(store)
    root = make_message(1, text="Купить подарок", date=T0)
    r1 = make_message(2, text="маме", date=T0 + timedelta(minutes=1), reply_to=root)
    r2 = make_message(
        3, text="и встреча с ней в субботу", date=T0 + timedelta(minutes=2), reply_to=r1
    )
    for n, m in enumerate([root, r1, r2], start=1):
        await capturer.capture({"update_id": n, "message": m})
    seen: list[ClassifierInput] = []

    class Spy(KeywordClassifier):
        async def classify(self, item: ClassifierInput) -> Classification:
            seen.append(item)
            return await super().classify(item)

    report = await run_batch(store, Spy(KEYWORDS), clock=Clock())
    assert report.classified == 1 and report.processed == 3
    (item,) = seen
    assert [m.text for m in item.chain] == ["Купить подарок", "маме", "и встреча с ней в субботу"]
    assert await current_destination(store, 1) == "events"
    assert await placements(store) == Counter({(OWNER_ID, 1): 1})


class Flaky(KeywordClassifier):
    """Fails for texts containing "сбой" while ``broken`` is set."""

    broken = True

    async def classify(self, item: ClassifierInput) -> Classification:
        if self.broken and "сбой" in (item.text or ""):
            raise ClassifierError("HTTP 502 from classifier")
        return await super().classify(item)


async def test_failures_retry_with_backoff_then_quarantine(store: Store) -> None:
    await capture_texts(store, ["Купить хлеб", "сбой тут"])
    clock = Clock()
    options = BatchOptions(max_attempts=3, retry_base=timedelta(minutes=10))
    flaky = Flaky(KEYWORDS)
    first = await run_batch(store, flaky, options, clock=clock)
    assert not first.ok and first.status == "partial"
    assert (first.processed, first.failed, first.quarantined) == (1, 1, 0)
    assert first.failures[0].error == "HTTP 502 from classifier"
    assert "Не удалось разобрать: 1" in first.digest
    # Too early: the back-off keeps it out of an immediate rerun.
    assert (await run_batch(store, flaky, options, clock=clock)).claimed == 0
    clock.now += timedelta(minutes=11)
    second = await run_batch(store, flaky, options, clock=clock)
    assert (second.claimed, second.failed) == (1, 1)
    clock.now += timedelta(minutes=19)  # the second back-off is 20 minutes
    assert (await run_batch(store, flaky, options, clock=clock)).claimed == 0
    clock.now += timedelta(minutes=2)
    third = await run_batch(store, flaky, options, clock=clock)
    assert (third.failed, third.quarantined) == (0, 1) and third.failures[0].quarantined
    (problem,) = await store.work_problems()
    assert problem.attempts == 3 and problem.last_error == "HTTP 502 from classifier"
    clock.now += timedelta(days=10)
    assert (await run_batch(store, flaky, options, clock=clock)).claimed == 0
    flaky.broken = False
    assert await store.requeue_quarantined() == 1
    healed = await run_batch(store, flaky, options, clock=clock)
    assert healed.ok and healed.processed == 1
    assert await current_destination(store, 2) == "notes"


async def test_a_timeout_or_a_crashing_classifier_is_a_failed_attempt(store: Store) -> None:
    await capture_texts(store, ["медленно", "ломается"])

    class Bad(KeywordClassifier):
        async def classify(self, item: ClassifierInput) -> Classification:
            if item.text == "медленно":
                await anyio.sleep(5)
            raise KeyError("bug")

    report = await run_batch(
        store, Bad(KEYWORDS), BatchOptions(classify_timeout=0.2), clock=Clock()
    )
    errors = sorted(f.error for f in report.failures)
    assert errors == ["KeyError: 'bug'", "classifier took longer than 0.2s"]
    for n in (1, 2):
        msg = await store.get_message(OWNER_ID, n)
        assert msg is not None and not msg.is_processed


async def test_a_non_retryable_error_quarantines_at_once(store: Store) -> None:
    await capture_texts(store, ["x"])

    class Refuses(KeywordClassifier):
        async def classify(self, item: ClassifierInput) -> Classification:
            raise ClassifierError("model refused", retryable=False)

    report = await run_batch(store, Refuses(KEYWORDS), clock=Clock())
    assert (report.failed, report.quarantined) == (0, 1)


async def test_dry_run_writes_nothing(store: Store) -> None:
    await capture_texts(store, ["Купить хлеб", "Встреча"])
    report = await run_batch(store, classifier(), BatchOptions(dry_run=True), clock=Clock())
    assert report.run_id is None and report.classified == 2
    assert sorted((p.message_id, p.current, p.proposed) for p in report.proposals) == [
        (1, None, "tasks"),
        (2, None, "events"),
    ]
    assert "Пробный разбор" in report.digest
    assert await placements(store) == Counter()
    assert await store.last_batch_run() is None
    assert await store.pending_work(now=T0) == 2


async def test_reclassify_refiles_items_of_an_older_version(store: Store) -> None:
    await capture_texts(store, ["Купить хлеб", "Встреча"])
    await run_batch(store, classifier("1"), clock=Clock())
    assert (await run_batch(store, classifier("2"), clock=Clock())).claimed == 0
    v2 = KeywordClassifier({"купить": ItemType.NOTE, "встреча": ItemType.EVENT}, version="2")
    dry = await run_batch(store, v2, BatchOptions(dry_run=True, reclassify=True), clock=Clock())
    assert [(p.message_id, p.current, p.proposed) for p in dry.proposals] == [(1, "tasks", "notes")]
    assert dry.changes == 1 and dict(dry.routed) == {"notes": 1, "events": 1}
    report = await run_batch(store, v2, BatchOptions(reclassify=True), clock=Clock())
    assert report.requeued == 2 and report.moved == 1
    assert await current_destination(store, 1) == "notes"
    history = await store.routing_history(OWNER_ID, 2)
    assert [h.classifier_version for h in history] == ["1", "2"]
    assert (await run_batch(store, v2, BatchOptions(reclassify=True), clock=Clock())).claimed == 0


async def test_limit_claims_at_most_that_many(store: Store) -> None:
    await capture_texts(store, [f"заметка {n}" for n in range(10)])
    report = await run_batch(store, classifier(), BatchOptions(limit=4, page_size=3), clock=Clock())
    assert report.claimed == 4 and report.processed == 4
    assert await store.pending_work(now=T0) == 6


async def test_two_runs_at_once_place_every_message_exactly_once(
    store_factory: StoreFactory,
) -> None:
    texts = [f"Купить вещь {n}" if n % 3 else f"Встреча {n}" for n in range(120)]
    async with store_factory() as setup:
        await capture_texts(setup, texts)
        capturer = Capturer(setup)
        # Clarifications of early messages, so both runs may refile one root.
        for n in range(1, 20):
            await capturer.capture(
                make_update(
                    1000 + n,
                    message_id=1000 + n,
                    text="это встреча",
                    date=T0,
                    reply_to=make_message(n, text=texts[n - 1], date=T0),
                )
            )
    reports = []

    async def one_run() -> None:
        async with store_factory() as store:
            reports.append(
                await run_batch(store, classifier(), BatchOptions(page_size=10, concurrency=4))
            )

    async with anyio.create_task_group() as tg:
        tg.start_soon(one_run)
        tg.start_soon(one_run)
    # 139 raw rows; a clarification settled by its root's placement before any
    # run claimed it needs no claim of its own.
    assert 120 <= sum(r.claimed for r in reports) <= 139
    assert all(r.ok for r in reports)
    async with store_factory() as store:
        seen = await placements(store)
        assert len(seen) == 120 and set(seen.values()) == {1}
        for n in range(1, 20):
            assert await current_destination(store, n) == "events"
        assert await store.pending_work(now=datetime.now(UTC)) == 0


async def test_a_run_killed_midway_is_finished_by_the_next(store_factory: StoreFactory) -> None:
    async with store_factory() as setup:
        await capture_texts(setup, [f"Купить {n}" for n in range(50)])
    calls = 0

    class Dies(KeywordClassifier):
        async def classify(self, item: ClassifierInput) -> Classification:
            nonlocal calls
            calls += 1
            if calls > 20:
                await anyio.sleep(3600)  # hangs until the run is killed
            return await super().classify(item)

    clock = Clock(datetime.now(UTC))
    options = BatchOptions(page_size=8, concurrency=2, flush_size=3)
    async with store_factory() as store:
        with anyio.move_on_after(1.0):
            await run_batch(store, Dies(KEYWORDS), options, clock=clock)
        run = await store.last_batch_run()
        assert run is not None and run.status == "interrupted"  # cancelled from outside
        done_before = sum((await placements(store)).values())
        assert 0 < done_before < 50
    # Simulate a hard kill too: claims left behind by a dead worker come back to
    # a run holding the run lock at once, without waiting for their lease.
    async with store_factory() as store:
        await store.claim_work(
            "ghost", limit=5, lease_until=clock.now + options.lease, now=clock.now
        )
        clock.now += timedelta(seconds=1)
        exclusive = attrs.evolve(options, exclusive=True)
        report = await run_batch(store, classifier(), exclusive, clock=clock)
        assert report.rescued == 5
        assert report.ok and report.claimed == 50 - done_before
        seen = await placements(store)
        assert len(seen) == 50 and set(seen.values()) == {1}
        for n in range(1, 51):
            assert len(await store.routing_history(OWNER_ID, n)) == 1


async def test_report_lists_are_bounded_but_counts_exact(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import superbrain_core.analyzer.batch as batch_module

    monkeypatch.setattr(batch_module, "REPORT_LIST_LIMIT", 3)
    await capture_texts(store, [f"мысль {n}" for n in range(20)])  # no keyword: all unsure
    report = await run_batch(store, classifier(), clock=Clock())
    assert report.asked == 20 and len(report.questions) == 3
    assert report.counts()["questions"] == 20
    assert "…и ещё 17 вопросов." in report.digest


async def test_an_unfilable_verdict_is_quarantined_and_the_rest_are_filed(store: Store) -> None:
    await capture_texts(store, ["Купить хлеб", "яд", "Встреча", "половинка"])

    class Odd(KeywordClassifier):
        async def classify(self, item: ClassifierInput) -> Classification:
            verdict = await super().classify(item)
            if item.text == "яд":  # a year-1 date passes validation but cannot be stored
                ancient = datetime(1, 1, 1, tzinfo=ZoneInfo("Europe/Moscow"))
                return attrs.evolve(verdict, type=ItemType.TASK, due_at=ancient)
            if item.text == "половинка":  # half an emoji from an LLM
                return attrs.evolve(verdict, title="обрыв \ud83d")
            return verdict

    report = await run_batch(store, Odd(KEYWORDS), clock=Clock())
    assert report.status == "partial" and (report.quarantined, report.failed) == (1, 0)
    assert report.failures[0].message_id == 2 and "OverflowError" in report.failures[0].error
    assert await current_destination(store, 1) == "tasks"
    assert await current_destination(store, 3) == "events"
    (note,) = await store.list_records("notes")
    assert note["message_id"] == 4
    again = await run_batch(store, Odd(KEYWORDS), clock=Clock(T0 + timedelta(days=2)))
    assert again.claimed == 0, "the bad one stays quarantined instead of failing every run"


async def test_a_heartbeat_keeps_slow_claims_from_being_taken_twice(
    store_factory: StoreFactory,
) -> None:
    async with store_factory() as setup:
        await capture_texts(setup, [f"Купить {n}" for n in range(8)])
    calls: Counter[int] = Counter()

    class Slow(KeywordClassifier):
        async def classify(self, item: ClassifierInput) -> Classification:
            calls[item.message_id] += 1
            await anyio.sleep(0.15)
            return await super().classify(item)

    lease = timedelta(seconds=0.3)  # far shorter than the run (8 × 0.15 s)
    reports = []

    async def slow_run() -> None:
        async with store_factory() as store:
            options = BatchOptions(concurrency=1, page_size=8, lease=lease)
            reports.append(await run_batch(store, Slow(KEYWORDS), options))

    async def late_run() -> None:
        await anyio.sleep(0.6)  # well after the first lease would have expired
        async with store_factory() as store:
            reports.append(await run_batch(store, classifier(), BatchOptions(lease=lease)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_run)
        tg.start_soon(late_run)
    assert set(calls.values()) == {1} and len(calls) == 8
    assert sorted(r.claimed for r in reports) == [0, 8]


async def test_a_root_arriving_after_its_reply_takes_the_reply_out_of_its_own_place(
    store: Store,
) -> None:
    capturer = Capturer(store)
    root = make_message(5, text="Купить билеты", date=T0)
    await capturer.capture(
        make_update(2, message_id=10, text="это встреча в пятницу", date=T0, reply_to=root)
    )
    first = await run_batch(store, classifier(), clock=Clock())
    assert first.classified == 1 and await current_destination(store, 10) == "events"
    await capturer.capture({"update_id": 1, "message": root})  # a replay brings the root
    await run_batch(store, classifier(), clock=Clock())
    assert await current_destination(store, 5) == "events"
    assert await current_destination(store, 10) is None
    assert await placements(store) == Counter({(OWNER_ID, 5): 1})


async def test_a_storage_failure_surfaces_as_itself(store: Store) -> None:
    from superbrain_core.errors import TransientStorageError

    await capture_texts(store, [f"Купить {n}" for n in range(30)])

    async def broken(*args: object, **kwargs: object) -> object:
        raise TransientStorageError("connection lost")

    store.apply_placements = broken  # type: ignore[method-assign]
    with pytest.raises(TransientStorageError, match="connection lost"):
        await run_batch(store, classifier(), BatchOptions(concurrency=4, page_size=5))
    run = await store.last_batch_run()
    assert run is not None and run.status == "failed"
    assert await store.pending_work(now=datetime.now(UTC)) == 30, "claims were released"
