"""Issue 15 point 9: a second, different content under a stored ``update_id`` is kept
as a conflict (both payloads) and reported; an identical redelivery stays a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.demo.samples import OWNER_ID, make_update
from superbrain_core.models import CaptureOutcome
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.telegram import normalize_update

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 20, 59, 30, tzinfo=UTC)


async def test_identical_redelivery_is_a_plain_duplicate(store: Store) -> None:
    payload = make_update(7, message_id=70, text="раз", date=T0)
    capturer = Capturer(store)
    assert (await capturer.capture(payload)).outcome is CaptureOutcome.NEW
    # A copy (not the same object), as a spool replay or a second ingest sends it.
    again = await capturer.capture(make_update(7, message_id=70, text="раз", date=T0))
    assert again.outcome is CaptureOutcome.DUPLICATE
    assert await store.update_conflicts() == []
    assert (await store.stats()).tables["update_conflicts"] == 0


async def test_different_content_under_a_stored_update_id_is_kept_as_a_conflict(
    store: Store,
) -> None:
    first = make_update(8, message_id=80, text="бот А", date=T0)
    second = make_update(8, message_id=81, text="бот Б", date=T0)
    capturer = Capturer(store)
    assert (await capturer.capture(first)).outcome is CaptureOutcome.NEW
    result = await capturer.capture(second)
    assert result.outcome is CaptureOutcome.CONFLICT
    conflicts = await store.update_conflicts()
    assert len(conflicts) == 1
    (conflict,) = conflicts
    assert (conflict.bot_id, conflict.update_id, conflict.update_type) == (0, 8, "message")
    assert conflict.stored_payload == first and conflict.payload == second
    stored = await store.get_update(8)
    assert stored is not None and stored.payload == first, "the first content stays stored"
    assert (await store.stats()).tables["update_conflicts"] == 1
    # The same conflicting content again is recorded once, and is then a duplicate.
    assert (await capturer.capture(second)).outcome is CaptureOutcome.DUPLICATE
    assert len(await store.update_conflicts()) == 1
    # A third content is a second conflict row.
    third = make_update(8, message_id=82, text="бот В", date=T0)
    assert (await capturer.capture(third)).outcome is CaptureOutcome.CONFLICT
    assert [c.payload for c in await store.update_conflicts()] == [second, third]
    assert await store.get_message(OWNER_ID, 80) is not None


async def test_a_conflict_is_reported_by_the_tally(store: Store) -> None:
    capturer = Capturer(store, CaptureOptions(bot_id=5))
    tally = CaptureTally()
    updates = [
        make_update(9, message_id=90, text="a", date=T0),
        make_update(9, message_id=91, text="b", date=T0),
        make_update(10, message_id=92, text="c", date=T0),
    ]
    normalized = [normalize_update(u) for u in updates]
    tally.add_all(await capturer.capture_normalized(normalized), normalized)
    assert (tally.new, tally.duplicate, tally.conflicts) == (2, 0, 1)
    assert any("update 9" in p and "update_conflicts" in p for p in tally.problems)
    (conflict,) = await store.update_conflicts()
    assert conflict.bot_id == 5
