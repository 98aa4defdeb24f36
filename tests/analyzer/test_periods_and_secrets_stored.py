"""The new columns reach every backend: an event's end and rule, a secret note's flag.

A secret's note is stored with ``sensitive`` true and its masked summary as the
text: the password itself never reaches a structured table on any backend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.rules import RulesClassifier
from superbrain_core.analyzer.classify.schema import Classification, ClassifierInput, ItemType
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import make_update
from superbrain_core.storage.base import Store

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_a_secret_is_a_sensitive_note_without_the_secret(store: Store) -> None:
    await Capturer(store).capture(
        make_update(1, message_id=1, text="пароль от вайфая на даче: Kolokol_1987", date=T0)
    )
    report = await run_batch(store, RulesClassifier(), BatchOptions(concurrency=1))
    assert report.ok
    (note,) = await store.list_records("notes")
    assert note["sensitive"] is True
    assert "Kolokol_1987" not in (note["text"] or "")
    assert "Kolokol_1987" not in report.render_digest(UTC)


class Periodic:
    """Answers with an event that has an end and a recurrence rule."""

    name = "periodic"
    version = "1"

    async def classify(self, item: ClassifierInput) -> Classification:
        return Classification(
            ItemType.EVENT,
            0.95,
            self.name,
            self.version,
            title="бассейн",
            starts_at=T0 + timedelta(days=1),
        )

    async def aclose(self) -> None:
        return None


async def test_events_have_room_for_an_end_and_a_rule(store: Store) -> None:
    await Capturer(store).capture(make_update(1, message_id=1, text="бассейн", date=T0))
    assert (await run_batch(store, Periodic(), BatchOptions(concurrency=1))).ok
    (event,) = await store.list_records("events")
    assert {"ends_at", "recurrence"} <= set(event)
    assert event["ends_at"] is None and event["recurrence"] is None
