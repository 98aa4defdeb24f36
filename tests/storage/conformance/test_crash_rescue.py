"""Crash rescue, leases on the database's clock, and the notification outbox, on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import anyio
import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_message, make_update
from superbrain_core.storage.base import Store
from superbrain_core.storage.outbox import Notification

pytestmark = pytest.mark.anyio
MINUTE = timedelta(minutes=1)
NIGHT = date(2026, 11, 25)


async def capture_texts(store: Store, count: int) -> None:
    capturer = Capturer(store)
    for n in range(1, count + 1):
        await capturer.capture(make_update(n, message_id=n, text=f"m{n}"))


async def statuses(store: Store) -> dict[int, str]:
    return {r.id: r.status for r in await store.list_batch_runs()}


async def test_a_lease_ends_by_the_databases_clock_not_the_workers(store: Store) -> None:
    if store.backend == "sqlite":
        pytest.skip("SQLite has one clock: the machine's, which every worker on it shares")
    await capture_texts(store, 2)
    # A worker whose clock is an hour slow takes a one-minute lease. By its own
    # clock the lease ended 59 minutes ago; by the database's it has a minute left.
    slow = datetime.now(UTC) - timedelta(hours=1)
    taken = await store.claim_work("slow", limit=10, lease_until=slow + MINUTE, now=slow)
    assert len(taken) == 2
    now = datetime.now(UTC)
    assert await store.claim_work("right", limit=10, lease_until=now + MINUTE, now=now) == []
    assert await store.pending_work(now=now) == 0
    # The heartbeat renews by length too: a fast clock cannot stretch it.
    fast = now + timedelta(hours=5)
    assert await store.extend_claims("slow", lease_until=slow + MINUTE, now=slow) == 2
    assert await store.claim_work("fast", limit=10, lease_until=fast + MINUTE, now=fast) == []


async def test_under_the_run_lock_a_dead_runs_row_and_claims_come_back_at_once(
    store: Store,
) -> None:
    await capture_texts(store, 3)
    now = datetime.now(UTC)
    dead = await store.start_batch_run("rules", "1", "dead")
    await store.claim_work("dead", limit=2, lease_until=now + MINUTE, now=now)
    await store.claim_work("ghost", limit=5, lease_until=now + MINUTE, now=now)  # no run row
    mine = await store.start_batch_run("rules", "1", "me")
    rescued = await store.rescue_crashed_runs(
        "me", stale_after=MINUTE, exclusive=True, now=datetime.now(UTC)
    )
    assert rescued.run_ids == (dead,) and rescued.released == 3
    assert await statuses(store) == {dead: "crashed", mine: "running"}
    taken = await store.claim_work("me", limit=10, lease_until=now + MINUTE, now=now)
    assert len(taken) == 3
    runs = {r.id: r for r in await store.list_batch_runs()}
    assert runs[dead].finished_at is not None and runs[mine].finished_at is None


async def test_without_the_lock_only_a_run_whose_heartbeat_stopped_is_dead(store: Store) -> None:
    await capture_texts(store, 4)
    now = datetime.now(UTC)
    alive = await store.start_batch_run("rules", "1", "alive")
    await store.claim_work("alive", limit=2, lease_until=now + MINUTE, now=now)
    dead = await store.start_batch_run("rules", "1", "dead")
    await store.claim_work("dead", limit=2, lease_until=now + MINUTE, now=now)
    await anyio.sleep(1.2)
    await store.extend_claims("alive", lease_until=datetime.now(UTC) + MINUTE)  # a heartbeat
    rescued = await store.rescue_crashed_runs(
        "me", stale_after=timedelta(seconds=1), exclusive=False, now=datetime.now(UTC)
    )
    assert rescued.released == 2 and rescued.run_ids == (dead,)
    assert await statuses(store) == {alive: "running", dead: "crashed"}
    now = datetime.now(UTC)
    taken = await store.claim_work("me", limit=10, lease_until=now + MINUTE, now=now)
    assert [i.message_id for i in taken] == [3, 4]  # the live run keeps 1 and 2


def note(kind: str = "digest", key: str = "", night: date = NIGHT) -> Notification:
    return Notification(
        night=night, owner_id=OWNER_ID, kind=kind, item_key=key, body=f"{kind} {key}"
    )


async def test_a_notification_is_claimed_once_per_night_and_owner(store: Store) -> None:
    digest = note()
    assert await store.claim_notification(digest, "run-1")
    assert not await store.claim_notification(digest, "run-2")  # being sent: hands off
    await store.finish_notification(digest, "run-1", message_id=77, error=None)
    assert not await store.claim_notification(digest, "run-3")  # sent: never again
    assert await store.claim_notification(note(night=NIGHT + timedelta(days=1)), "run-3")
    (entry,) = await store.notifications(NIGHT)
    assert entry.status == "sent" and entry.message_id == 77
    # --resend: on purpose.
    assert await store.claim_notification(digest, "run-4", force=True)
    await store.finish_notification(digest, "run-4", message_id=78, error=None)
    (entry,) = await store.notifications(NIGHT)
    assert entry.message_id == 78 and entry.nights == 2


async def test_a_failed_send_can_be_claimed_again(store: Store) -> None:
    digest = note()
    assert await store.claim_notification(digest, "run-1")
    await store.finish_notification(digest, "run-1", message_id=None, error="502 Bad Gateway")
    (entry,) = await store.notifications(NIGHT)
    assert entry.status == "failed" and entry.error == "502 Bad Gateway"
    assert await store.claim_notification(digest, "run-2")
    # A finish from a holder that lost the row changes nothing.
    await store.finish_notification(digest, "run-1", message_id=5, error=None)
    (entry,) = await store.notifications(NIGHT)
    assert entry.status == "sending"


async def test_open_questions_are_the_failed_and_unanswered_within_the_limit(
    store: Store,
) -> None:
    async def ask(key: str, night: date, message_id: int | None, error: str | None) -> None:
        q = note("question", key, night)
        assert await store.claim_notification(q, "run")
        await store.finish_notification(q, "run", message_id=message_id, error=error)

    day1, day2, today = NIGHT, NIGHT + timedelta(days=1), NIGHT + timedelta(days=2)
    await ask("c:1", day1, 101, None)  # answered below
    await ask("c:2", day1, 102, None)  # never answered
    await ask("c:3", day1, None, "403 Forbidden")  # failed
    await ask("c:4", day1, 104, None)  # asked on two nights already
    await ask("c:4", day2, 114, None)
    # The owner replies to question 101.
    reply = make_update(
        50, message_id=50, text="в пятницу", reply_to=make_message(101, text="Когда?")
    )
    await Capturer(store).capture(reply)
    found = await store.open_questions(OWNER_ID, before=today, max_asks=2)
    assert [(e.notification.item_key, e.status, e.nights) for e in found] == [
        ("c:2", "sent", 1),
        ("c:3", "failed", 1),
    ]
    assert found[0].notification.body == "question c:2"
    wider = await store.open_questions(OWNER_ID, before=today, max_asks=3)
    assert [e.notification.item_key for e in wider] == ["c:2", "c:3", "c:4"]
    assert await store.open_questions(OWNER_ID, before=day1, max_asks=3) == []
