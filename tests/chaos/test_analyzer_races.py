"""Two analyzer runs at once, each with a classifier that fails, stalls and crashes.

No run lock here (as if two hosts ran ``run_batch`` directly): the per-message
leases alone must keep every message filed exactly once; a failed
classification never marks a message processed, and the runs that follow file
what failed. On SQLite and on Postgres (the storage conformance backends).
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.analyzer.classify.schema import (
    Classification,
    ClassifierError,
    ClassifierInput,
)
from superbrain_core.storage.base import Store
from tests.analyzer.test_batch_backends import KEYWORDS, capture_texts, placements
from tests.chaos.conftest import figures, scale
from tests.storage.backends import StoreFactory

pytestmark = pytest.mark.anyio


class Faulty(KeywordClassifier):
    """Fails (retryably) a fifth of its first attempts, crashes on some, stalls on others."""

    def __init__(self) -> None:
        super().__init__(KEYWORDS, version="1")
        self.calls: Counter[int] = Counter()
        self.faults = 0

    async def classify(self, item: ClassifierInput) -> Classification:
        self.calls[item.message_id] += 1
        roll = zlib.crc32(f"{item.message_id}:{self.calls[item.message_id]}".encode()) % 20
        if roll < 3:
            self.faults += 1
            raise ClassifierError("502 Bad Gateway")
        if roll == 3:
            self.faults += 1
            raise RuntimeError("the classifier has a bug")
        if roll == 4:
            await anyio.sleep(0.01)
        return await super().classify(item)


async def test_two_runs_at_once_with_classifier_faults_file_everything_once(
    store_factory: StoreFactory,
) -> None:
    count = scale(200, 2000)
    async with store_factory() as setup:
        await capture_texts(setup, [f"Купить вещь {n}" for n in range(count)])
    options = BatchOptions(
        page_size=16,
        concurrency=4,
        flush_size=8,
        retry_base=timedelta(0),
        max_attempts=50,
        lease=timedelta(seconds=30),
    )
    classifier = Faulty()
    started = time.monotonic()
    rounds = 0
    async with store_factory() as one, store_factory() as two:
        while rounds < 20:
            rounds += 1

            async def run(store: Store) -> None:
                await run_batch(store, classifier, options)

            async with anyio.create_task_group() as tg:
                tg.start_soon(run, one)
                tg.start_soon(run, two)
            if await one.pending_work(now=datetime.now(UTC)) == 0:
                break
        seen = await placements(one)
        problems = await one.work_problems()
    lost = count - len(seen)
    duplicated = sum(1 for n in seen.values() if n > 1)
    figures(
        f"two analyzer runs with classifier faults ({one.backend})",
        messages=count,
        faults_injected=classifier.faults,
        rounds=rounds,
        lost=lost,
        duplicated=duplicated,
        seconds=time.monotonic() - started,
    )
    assert classifier.faults > 0
    assert lost == 0 and duplicated == 0
    assert all(p.quarantined_at is None for p in problems)
