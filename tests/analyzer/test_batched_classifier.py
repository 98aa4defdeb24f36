"""A classifier that answers batches (BatchClassifier): the pipeline hands it whole
batches, and a run files exactly what the same classifier files one message at a time."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from superbrain_core.analyzer.batch import BatchOptions, batch_size_of, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.analyzer.classify.schema import (
    BatchClassifier,
    Classification,
    ClassifierError,
    ClassifierInput,
)
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_message, make_update
from superbrain_core.storage.base import Store
from tests.analyzer.test_batch_backends import KEYWORDS, T0, TABLES, Clock, capture_texts

pytestmark = pytest.mark.anyio


class OneAtATime:
    """The keyword classifier without ``classify_many``: the per-message path."""

    def __init__(self) -> None:
        self.inner = KeywordClassifier(KEYWORDS)
        self.name, self.version = self.inner.name, self.inner.version

    async def classify(self, item: ClassifierInput) -> Classification:
        return await self.inner.classify(item)

    async def aclose(self) -> None:
        return None


class Recording(KeywordClassifier):
    """Answers batches and remembers their sizes; some messages fail on their own."""

    batch_size = 4

    def __init__(self) -> None:
        super().__init__(KEYWORDS)
        self.calls: list[int] = []

    async def classify_many(
        self, items: Sequence[ClassifierInput]
    ) -> list[Classification | ClassifierError]:
        self.calls.append(len(items))
        return [
            ClassifierError("no", retryable=False) if item.text == "плохо" else self.verdict(item)
            for item in items
        ]


async def _filing(store: Store, chat_id: int) -> list[tuple[object, ...]]:
    rows = []
    for table in TABLES:
        for r in await store.list_records(table, limit=100_000):
            if r["chat_id"] == chat_id:
                rows.append((table, r["message_id"], r.get("title") or r.get("text")))
    return sorted(rows, key=repr)


async def _capture_chat(store: Store, chat_id: int, texts: list[str], first: int) -> None:
    capturer = Capturer(store)
    chat = {"id": chat_id, "type": "private", "first_name": "Owner"}
    for n, text in enumerate(texts, start=1):
        await capturer.capture(make_update(first + n, message_id=n, text=text, date=T0, chat=chat))
    # A reply, so one target carries a chain.
    root = make_message(5, text=texts[4], date=T0, chat=chat)
    await capturer.capture(
        make_update(
            first + 100, message_id=100, text="это встреча", date=T0, chat=chat, reply_to=root
        )
    )


def test_the_batch_size_follows_the_class_that_answers() -> None:
    assert isinstance(KeywordClassifier(KEYWORDS), BatchClassifier)
    assert batch_size_of(KeywordClassifier(KEYWORDS)) == KeywordClassifier.batch_size
    assert batch_size_of(OneAtATime()) == 1  # type: ignore[arg-type]
    assert batch_size_of(Recording()) == 4

    class Overrides(KeywordClassifier):
        async def classify(self, item: ClassifierInput) -> Classification:
            return await super().classify(item)

    # Its classify() says what a message gets; the inherited batch answer would not.
    assert batch_size_of(Overrides(KEYWORDS)) == 1


async def test_batches_file_what_one_message_at_a_time_files(store: Store) -> None:
    texts = ["Купить хлеб", "встреча в 10", "http://x.org", "500 ₽ кофе", "просто мысль"] * 9
    runs = []
    for chat_id, classifier in [
        (8001, KeywordClassifier(KEYWORDS)),
        (8002, OneAtATime()),
    ]:
        await _capture_chat(store, chat_id, texts, first=chat_id * 1000)
        report = await run_batch(
            store,
            classifier,  # type: ignore[arg-type]
            BatchOptions(page_size=7),
            clock=Clock(),
        )
        runs.append((report.counts(), await _filing(store, chat_id)))
    assert runs[0] == runs[1]
    counts, filing = runs[0]
    # 45 targets; the reply's row may be claimed before its root's filing settles
    # it, and is then classified again with its chain (an unchanged filing).
    assert counts["classified"] in (45, 46) and counts["failed"] == 0
    assert len(filing) == 45 and len({row[1] for row in filing}) == 45, filing


async def test_an_item_fails_alone_and_batches_are_at_most_batch_size(store: Store) -> None:
    await capture_texts(store, ["Купить хлеб", "плохо", "встреча", "a", "b", "c", "d", "e", "f"])
    classifier = Recording()
    report = await run_batch(store, classifier, BatchOptions(page_size=9), clock=Clock())
    assert classifier.calls and max(classifier.calls) <= 4 and sum(classifier.calls) == 9
    assert (report.classified, report.quarantined, report.failed) == (8, 1, 0)
    (note,) = report.failures
    assert note.message_id == 2 and note.error == "no"
    bad = await store.get_message(OWNER_ID, 2)
    assert bad is not None and not bad.is_processed


async def test_a_call_that_fails_or_times_out_fails_each_of_its_messages(store: Store) -> None:
    await capture_texts(store, ["a", "b", "c"])

    class Broken(Recording):
        async def classify_many(
            self, items: Sequence[ClassifierInput]
        ) -> list[Classification | ClassifierError]:
            if any(i.text == "a" for i in items):
                await anyio.sleep(5)
            raise RuntimeError("boom")

    report = await run_batch(store, Broken(), BatchOptions(classify_timeout=0.2), clock=Clock())
    assert report.classified == 0 and report.failed == 3
    assert {f.error for f in report.failures} <= {
        "classifier took longer than 0.2s",
        "RuntimeError: boom",
    }
    for n in (1, 2, 3):
        msg = await store.get_message(OWNER_ID, n)
        assert msg is not None and not msg.is_processed


async def test_a_short_answer_fails_the_whole_call(store: Store) -> None:
    await capture_texts(store, ["a", "b"])

    class Short(Recording):
        async def classify_many(
            self, items: Sequence[ClassifierInput]
        ) -> list[Classification | ClassifierError]:
            return [self.verdict(items[0])]

    report = await run_batch(store, Short(), clock=Clock())
    assert report.classified == 0 and report.failed == 2
    assert {f.error for f in report.failures} == {"classifier answered 1 of 2 messages"}
