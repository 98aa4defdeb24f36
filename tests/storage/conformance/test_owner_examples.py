"""``Store.owner_examples``: the filings the owner settled, read alike on every backend.

An example is a message whose current placement the owner made by hand
(classifier ``owner``) or that a clarification moved; a message moved only by
a newer classifier version, or never moved, is not one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.analyzer.classify.schema import Classification, ItemType
from superbrain_core.analyzer.routing import placement_for
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_message, make_update
from superbrain_core.models import OWNER_CLASSIFIER
from superbrain_core.storage.base import Store

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def keywords(version: str = "1", **extra: ItemType) -> KeywordClassifier:
    return KeywordClassifier({"задача": ItemType.TASK, **extra}, version=version)


async def test_clarified_moves_and_hand_corrections_are_examples(store: Store) -> None:
    capturer = Capturer(store)
    texts = ["разобрать балкон на даче", "купить хлеб", "статья про сон", "мысль про отпуск"]
    for n, text in enumerate(texts, start=1):
        await capturer.capture(make_update(n, message_id=n, text=text, date=T0))
    assert await store.owner_examples() == []
    # Night 1: everything is a note (no keyword).
    await run_batch(store, keywords(), BatchOptions(concurrency=1))
    assert await store.owner_examples() == []
    # The owner answers under message 1: "это задача"; night 2 moves it to tasks.
    root = make_message(1, text=texts[0], date=T0)
    reply = make_message(10, text="это задача", date=T0 + timedelta(days=1), reply_to=root)
    await capturer.capture({"update_id": 10, "message": reply})
    await run_batch(store, keywords(), BatchOptions(concurrency=1))
    # A newer classifier version moves message 2 with no word from the owner: not an example.
    v2 = keywords("2", хлеб=ItemType.TASK)
    await run_batch(store, v2, BatchOptions(concurrency=1, reclassify=True))
    assert [h.destination for h in await store.routing_history(OWNER_ID, 2)] == ["notes", "tasks"]
    # The owner moves message 3 to links by hand (as the web page records it).
    (ctx,) = (await store.load_work_contexts([(OWNER_ID, 3)])).values()
    by_hand = Classification(
        ItemType.LINK, 1.0, OWNER_CLASSIFIER, "web", title="статья про сон", url="https://x.org"
    )
    await store.apply_placements([placement_for(by_hand, ctx, ())], run_id=None)

    examples = await store.owner_examples()
    assert [(e.message_id, e.destination, e.classifier) for e in examples] == [
        (3, "links", OWNER_CLASSIFIER),
        (1, "tasks", "keywords"),
    ]
    hand, clarified = examples
    assert (hand.chat_id, hand.text, hand.classification["url"]) == (
        OWNER_ID,
        "статья про сон",
        "https://x.org",
    )
    assert clarified.text == "разобрать балкон на даче"  # the root's text, not the reply's
    assert clarified.classification["type"] == "task"
    assert clarified.created_at.tzinfo is not None
    assert hand.routing_id > clarified.routing_id
    assert [e.message_id for e in await store.owner_examples(limit=1)] == [3]
    assert await store.owner_examples(limit=0) == []
