"""The owner's corrections on every backend: recorded in routing_log as the owner's,
kept by later nights, refused cleanly when they cannot be made; tasks ticked off;
and the web page itself on Postgres."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import make_update
from superbrain_core.models import RouteOutcome
from superbrain_core.review import (
    OWNER_CLASSIFIER,
    OWNER_VERSION,
    CorrectionError,
    NotFiled,
    edit_item,
    move_item,
    review_last,
)
from superbrain_core.review.items import all_records
from superbrain_core.storage.base import Store
from tests.web.helpers import KEYWORDS, OWNER, T0, ZONE, logged_in, serve, small_archive

pytestmark = pytest.mark.anyio


async def test_a_move_is_recorded_as_the_owners_decision(store: Store) -> None:
    run_id = await small_archive(store)
    result = await move_item(store, OWNER, 2, "notes")  # "Купить молоко": a task
    assert result.outcome is RouteOutcome.MOVED and result.previous_destination == "tasks"
    history = await store.routing_history(OWNER, 2)
    assert [h.destination for h in history] == ["tasks", "notes"]
    machine, owner = history
    assert machine.superseded_at is not None and machine.run_id == run_id
    assert owner.superseded_at is None
    assert (owner.classifier, owner.classifier_version) == (OWNER_CLASSIFIER, OWNER_VERSION)
    assert owner.confidence == 1.0 and owner.run_id is None
    assert owner.classification["classifier"] == OWNER_CLASSIFIER
    assert owner.classification["type"] == "note"
    assert not await all_records(store, "tasks")
    (note,) = await all_records(store, "notes")
    assert note["id"] == owner.record_id and note["message_id"] == 2
    # The review shows it in its new table, as the owner's.
    review = await review_last(store, 1)
    moved = next(i for i in review.items if i.message_id == 2)
    assert moved.table == "notes" and moved.by_owner


async def test_a_later_night_keeps_the_owners_decision(store: Store) -> None:
    await small_archive(store)
    await move_item(store, OWNER, 1, "tasks")  # the classifier said event
    capturer = Capturer(store)
    # New input for the same message: an edit and a reply that say "встреча" again.
    await capturer.capture(
        make_update(
            10,
            "edited_message",
            message_id=1,
            text="Встреча с Олегом завтра, точно встреча",
            date=T0 + timedelta(minutes=1),
            edit_date=int((T0 + timedelta(minutes=30)).timestamp()),
        )
    )
    report = await run_batch(store, KeywordClassifier(KEYWORDS, version="2"), BatchOptions())
    assert report.processed >= 1
    history = await store.routing_history(OWNER, 1)
    current = history[-1]
    assert current.superseded_at is None
    assert current.destination == "tasks" and current.classifier == OWNER_CLASSIFIER
    assert not await all_records(store, "events")
    # Nothing is left claimable: the night settled the new version under the owner's verdict.
    assert await store.pending_work(now=T0 + timedelta(days=1)) == 0


async def test_an_edit_changes_the_row_through_the_verdict(store: Store) -> None:
    await small_archive(store)
    await edit_item(
        store,
        OWNER,
        3,
        {
            "amount": "750",
            "currency": "RUB",
            "description": "Обед с Олегом",
            "spent_at": "2026-11-24 14:30",
        },
        zone=ZONE,
    )
    (row,) = await all_records(store, "expenses")
    assert row["description"] == "Обед с Олегом"
    assert str(row["amount"]) in {"750", "750.00"}
    current = (await store.routing_history(OWNER, 3))[-1]
    assert current.classifier == OWNER_CLASSIFIER
    assert current.classification["starts_at"].startswith("2026-11-24T14:30:00+03:00")


async def test_impossible_corrections_write_nothing(store: Store) -> None:
    await small_archive(store)
    before = await store.routing_history(OWNER, 3)
    with pytest.raises(CorrectionError, match="unknown table"):
        await move_item(store, OWNER, 3, "drop table")
    with pytest.raises(CorrectionError, match="no editable column"):
        await edit_item(store, OWNER, 3, {"raw_message_id": "1"}, zone=ZONE)
    with pytest.raises(CorrectionError, match="not a time"):
        await edit_item(store, OWNER, 3, {"spent_at": "вчера"}, zone=ZONE)
    with pytest.raises(CorrectionError, match="cannot set"):
        await edit_item(store, OWNER, 3, {"currency": "rubles"}, zone=ZONE)
    with pytest.raises(NotFiled):
        await move_item(store, OWNER, 999, "notes")
    assert await store.routing_history(OWNER, 3) == before


async def test_a_task_is_ticked_off_and_stays_done_when_refiled(store: Store) -> None:
    await small_archive(store)
    (task,) = await all_records(store, "tasks")
    assert task["status"] == "open"
    assert await store.set_task_status(task["id"], "done")
    assert not await store.set_task_status(task["id"] + 100, "done")
    with pytest.raises(ValueError, match="status"):
        await store.set_task_status(task["id"], "maybe")
    await edit_item(store, OWNER, 2, {"title": "Купить молоко"}, zone=ZONE)
    (task,) = await all_records(store, "tasks")
    assert task["status"] == "done" and task["title"] == "Купить молоко"


async def test_the_page_moves_an_item_on_this_backend(store: Store, tmp_path: Path) -> None:
    """The web page over this store (SQLite and the real Postgres)."""
    await small_archive(store)
    async with serve(store, tmp_path) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        token = await logged_in(c, server)
        home = await c.get("/")
        assert 'data-key="100500:2"' in home.text and "Купить молоко" in home.text
        response = await c.post(
            f"/items/{OWNER}/2/move", data={"table": "notes", "csrf": token, "next": "/"}
        )
        assert response.status_code == 303
        item = await c.get(f"/items/{OWNER}/2")
        assert 'data-testid="current-table">Заметки<' in item.text
        tasks = await c.get("/tables/notes")
        assert "Купить молоко" in tasks.text
        found = await c.get("/search", params={"q": "молоком"})
        assert "<mark>молоко</mark>" in found.text
