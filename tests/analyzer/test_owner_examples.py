"""Learning from the owner's corrections, end to end on every backend.

Night 1 files a message as a note; the owner answers under it "это задача";
night 2 moves it to tasks (a clarification, through the analyzer). A later,
similar message then lands in tasks on night 3 because of that example, and
says so in ``explain``; an unrelated message is unaffected.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.rules import RulesClassifier
from superbrain_core.analyzer.explain import explain_message
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_message, make_update
from superbrain_core.storage.base import Store

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CORRECTED = "шины на зимние у Коли в гараже"
SIMILAR = "шины на летние у Коли в гараже"
UNRELATED = "мысль про отпуск на море"


async def current(store: Store, message_id: int) -> tuple[str, dict[str, object]]:
    history = await store.routing_history(OWNER_ID, message_id)
    (entry,) = [h for h in history if h.superseded_at is None]
    return entry.destination, entry.classification


async def night(store: Store, when: datetime) -> None:
    report = await run_batch(
        store, RulesClassifier(), BatchOptions(concurrency=2), clock=lambda: when
    )
    assert report.ok, report.failures


async def test_a_correction_teaches_the_next_night(store: Store) -> None:
    capturer = Capturer(store)
    await capturer.capture(make_update(1, message_id=1, text=CORRECTED, date=T0))
    await night(store, T0 + timedelta(hours=15))
    assert (await current(store, 1))[0] == "notes"

    # The owner corrects it by answering under it; the next night moves it.
    root = make_message(1, text=CORRECTED, date=T0)
    reply = make_message(2, text="это задача", date=T0 + DAY, reply_to=root)
    await capturer.capture({"update_id": 2, "message": reply})
    await night(store, T0 + DAY + timedelta(hours=15))
    assert (await current(store, 1))[0] == "tasks"
    assert [e.message_id for e in await store.owner_examples()] == [1]

    # Two new messages: one like the corrected one, one about something else.
    await capturer.capture(make_update(3, message_id=3, text=SIMILAR, date=T0 + 2 * DAY))
    await capturer.capture(make_update(4, message_id=4, text=UNRELATED, date=T0 + 2 * DAY))
    await night(store, T0 + 2 * DAY + timedelta(hours=15))

    destination, classification = await current(store, 3)
    assert destination == "tasks"
    assert classification["owner_example"] == f"{OWNER_ID}:1"
    (task,) = [t for t in await store.list_records("tasks") if t["message_id"] == 3]
    assert task["title"] == "Шины на летние у Коли в гараже"
    destination, classification = await current(store, 4)
    assert destination == "notes" and "owner_example" not in classification
    # The corrected message itself stays where the owner put it.
    assert (await current(store, 1))[0] == "tasks"

    found = await explain_message(store, OWNER_ID, 3)
    assert found is not None and found.example is not None
    assert (found.example.message_id, found.example.message_text) == (1, CORRECTED)
    unrelated = await explain_message(store, OWNER_ID, 4)
    assert unrelated is not None and unrelated.example is None


async def test_without_the_correction_the_similar_message_is_a_note(store: Store) -> None:
    """The control: the rules alone file the similar message as a note."""
    capturer = Capturer(store)
    await capturer.capture(make_update(1, message_id=1, text=CORRECTED, date=T0))
    await capturer.capture(make_update(3, message_id=3, text=SIMILAR, date=T0))
    await night(store, T0 + timedelta(hours=15))
    assert (await current(store, 3))[0] == "notes"
    assert await store.owner_examples() == []
