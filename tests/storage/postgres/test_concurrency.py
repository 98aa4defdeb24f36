"""Several writers at once, each with its own pool (several bot replicas, an import
beside the bot). SQLite serializes writers; Postgres does not, so the SQL
functions must: no reply lost from a chain, no row stored twice."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import psycopg
import pytest

from superbrain_core.demo.samples import OWNER_ID, make_message
from superbrain_core.models import CaptureOutcome, CaptureResult
from superbrain_core.storage.postgres.store import PostgresStore
from superbrain_core.telegram import normalize_update

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WRITERS = 4
REPLIES = 60


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}".encode()).fetchone()[0]  # type: ignore[index]
            for t in ("raw_updates", "raw_messages", "message_chains", "raw_files")
        }


@pytest.mark.parametrize("root_stored_first", [True, False], ids=["root-stored", "root-unseen"])
async def test_four_writers_on_one_chain_lose_nothing_and_store_nothing_twice(
    migrated_dsn: str, root_stored_first: bool
) -> None:
    root = make_message(1, text="Список покупок", date=T0)
    replies: list[dict[str, Any]] = []
    for n in range(REPLIES):
        replies.append(
            {
                "update_id": 100 + n,
                "message": make_message(
                    100 + n, text=f"пункт {n}", date=T0 + timedelta(seconds=n), reply_to=root
                ),
            }
        )
    # The same messages again under other update ids (the same reply seen by a
    # second bot route, an import of a chat the bot also captured).
    rerouted = [{"update_id": 10_000 + n, "message": r["message"]} for n, r in enumerate(replies)]
    everything = replies + rerouted
    if root_stored_first:
        async with PostgresStore(migrated_dsn) as setup:
            await setup.capture(normalize_update({"update_id": 1, "message": root}))

    results: list[CaptureResult] = []

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        mine = everything[:]  # every writer writes every update: maximal overlap
        rng.shuffle(mine)
        async with PostgresStore(migrated_dsn, max_connections=2, max_attempts=10) as store:
            position = 0
            while position < len(mine):
                size = rng.choice([1, 1, 2, 5])
                batch = [normalize_update(u) for u in mine[position : position + size]]
                results.extend(await store.capture_many(batch))
                position += size

    async with anyio.create_task_group() as tg:
        for seed in range(WRITERS):
            tg.start_soon(writer, seed)

    # Each update was stored by exactly one writer (the others saw a duplicate
    # update, without a message row): as a new message, or, for the second route
    # of a message already held, as a duplicate version pointing at that row.
    stored = Counter(
        r.update_id
        for r in results
        if r.outcome is CaptureOutcome.NEW or r.raw_message_id is not None
    )
    assert set(stored) == {u["update_id"] for u in everything}
    assert set(stored.values()) == {1}
    # ...and each message was new exactly once.
    new_rows = [r.raw_message_id for r in results if r.outcome is CaptureOutcome.NEW]
    assert len(new_rows) == len(set(new_rows)) == REPLIES

    table_counts = counts(migrated_dsn)
    assert table_counts["raw_updates"] == len(everything) + int(root_stored_first)
    assert table_counts["raw_messages"] == REPLIES + int(root_stored_first)
    assert table_counts["message_chains"] == 1

    async with PostgresStore(migrated_dsn) as store:
        chain = await store.chain_of(OWNER_ID, 1)
        assert chain is not None
        ids = [r.message_id for r in chain.replies]
        assert sorted(ids) == [100 + n for n in range(REPLIES)], "no reply lost, none twice"
        for n in range(REPLIES):
            (version,) = await store.message_versions(OWNER_ID, 100 + n)
            assert version.chain_id == chain.chain_id and version.version == 1
        if root_stored_first:
            stored_root = await store.get_message(OWNER_ID, 1)
            assert stored_root is not None and stored_root.chain_id == chain.chain_id


async def test_concurrent_edits_of_one_message_get_distinct_versions(migrated_dsn: str) -> None:
    """Edits racing for the next version number: each stored once, numbered 1..n."""
    base = make_message(5, text="v0", date=T0)
    edits = [
        {
            "update_id": 500 + n,
            "edited_message": dict(base, text=f"v{n}", edit_date=int(T0.timestamp()) + n),
        }
        for n in range(1, 21)
    ]

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        mine = [{"update_id": 499, "message": base}, *edits]
        rng.shuffle(mine)
        async with PostgresStore(migrated_dsn, max_attempts=10) as store:
            for update in mine:
                await store.capture(normalize_update(update))

    async with anyio.create_task_group() as tg:
        for seed in range(WRITERS):
            tg.start_soon(writer, seed)
    async with PostgresStore(migrated_dsn) as store:
        versions = await store.message_versions(OWNER_ID, 5)
    assert [v.version for v in versions] == list(range(1, 22))
    assert sorted(v.message_text or "" for v in versions) == sorted(f"v{n}" for n in range(21))
