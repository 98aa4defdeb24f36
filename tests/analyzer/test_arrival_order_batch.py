"""Issue 15 points 1 and 2 through the analyzer: whatever the arrival order, the
nightly run files the current content of the whole conversation, and what a late
arrival changed is analyzed again."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from superbrain_core.analyzer.batch import run_batch
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_message
from superbrain_core.storage.base import Store
from tests.analyzer.test_batch_backends import (
    T0,
    Clock,
    classifier,
    current_destination,
    placements,
)

pytestmark = pytest.mark.anyio


def _unix(seconds: int) -> int:
    return int((T0 + timedelta(seconds=seconds)).timestamp())


async def test_a_late_older_edit_leaves_the_newest_text_filed(store: Store) -> None:
    original = make_message(1, text="купить хлеб", date=T0)
    newest = dict(original, text="встреча в пятницу", edit_date=_unix(120))
    older = dict(original, text="ссылка http://example.org", edit_date=_unix(60))
    capturer = Capturer(store)
    await capturer.capture({"update_id": 1, "message": original})
    await capturer.capture({"update_id": 2, "edited_message": newest})
    assert (await run_batch(store, classifier(), clock=Clock())).ok
    assert await current_destination(store, 1) == "events"
    await capturer.capture({"update_id": 3, "edited_message": older})
    report = await run_batch(store, classifier(), clock=Clock())
    assert report.ok and report.claimed == 1
    assert await current_destination(store, 1) == "events", "the newest edit stays filed"
    assert await store.pending_work(now=Clock()()) == 0


async def test_a_late_parent_folds_the_half_conversation_into_the_whole(store: Store) -> None:
    root = make_message(10, text="Купить подарок", date=T0)
    middle = make_message(11, text="маме", date=T0 + timedelta(minutes=1), reply_to=root)
    leaf = make_message(
        12, text="и встреча в субботу", date=T0 + timedelta(minutes=2), reply_to=middle
    )
    capturer = Capturer(store)
    await capturer.capture({"update_id": 10, "message": root})
    await capturer.capture({"update_id": 12, "message": leaf})
    assert (await run_batch(store, classifier(), clock=Clock())).ok
    assert await placements(store) == Counter({(OWNER_ID, 10): 1, (OWNER_ID, 12): 1})
    await capturer.capture({"update_id": 11, "message": middle})
    assert (await run_batch(store, classifier(), clock=Clock())).ok
    assert await placements(store) == Counter({(OWNER_ID, 10): 1}), "one conversation, one place"
    assert await current_destination(store, 12) is None
    assert await store.pending_work(now=Clock()()) == 0
