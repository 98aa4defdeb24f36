"""A poison entry never blocks the spool, on every backend, and /readyz tells a stuck spool.

The poison is a real refusal by the real database: a trigger that refuses one
update's row every time (as Postgres refuses a value it cannot hold), with the
SQLSTATE class of a data error, so the store sees exactly what it would see
from such a value. The rest of the spool, queued behind it, must still replay.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest

from superbrain_core.bot.spool import DurableCapture, Spool
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_update
from superbrain_core.errors import PermanentStorageError, TransientStorageError
from superbrain_core.models import BotResponseIn, NormalizedUpdate
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.telegram import normalize_update
from tests.bot.conftest import BotHarness, webhook_server

pytestmark = pytest.mark.anyio
POISON = 666

_PG_TRIGGER = f"""
CREATE OR REPLACE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.update_id = {POISON} THEN
        RAISE EXCEPTION 'value out of range for this column' USING ERRCODE = '22003';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_refuse_poison BEFORE INSERT ON raw_updates
    FOR EACH ROW EXECUTE FUNCTION test_refuse_poison();
"""
_PG_DROP = (
    "DROP TRIGGER IF EXISTS test_refuse_poison ON raw_updates;"
    " DROP FUNCTION IF EXISTS test_refuse_poison();"
)


@contextmanager
def refusing_one_update(store: Store, request: pytest.FixtureRequest) -> Iterator[None]:
    """Make the real database refuse the row of update ``POISON``, every time."""
    if store.backend == "sqlite":
        path = store.where
        with sqlite3.connect(path) as conn:
            conn.execute(
                "CREATE TRIGGER test_refuse_poison BEFORE INSERT ON raw_updates"
                f" WHEN NEW.update_id = {POISON}"
                " BEGIN SELECT RAISE(ABORT, 'value out of range for this column'); END"
            )
        try:
            yield
        finally:
            with sqlite3.connect(path) as conn:
                conn.execute("DROP TRIGGER IF EXISTS test_refuse_poison")
        return
    dsn = (
        request.getfixturevalue("supabase_dsn") if store.backend == "supabase" else store._dsn  # type: ignore[attr-defined]
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_PG_DROP)
        conn.execute(_PG_TRIGGER)
    try:
        yield
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(_PG_DROP)


async def test_a_poison_update_is_set_aside_and_the_rest_replays(
    store: Store, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool" / "updates.jsonl")
    reply = BotResponseIn(chat_id=OWNER_ID, message_id=900, response_text="✓ Сохранил")
    await spool.append_many(
        [
            {"update": make_update(1, message_id=1, text="до")},
            {"update": make_update(POISON, message_id=2, text="яд")},
            {"bot_response": reply.to_json()},
            {"update": make_update(3, message_id=3, text="после")},
        ]
    )
    durable = DurableCapture(Capturer(store, CaptureOptions()), spool)
    with refusing_one_update(store, request):
        replayed = await durable.replay()
    print(f"poison on {store.backend}: replayed {replayed} entries, rejected 1")
    assert replayed == 4 and not await spool.pending()
    assert await store.get_update(1) is not None and await store.get_update(3) is not None
    assert await store.get_update(POISON) is None
    assert [r.message_id for r in await store.bot_responses(OWNER_ID)] == [900]
    (line,) = spool.rejected_path.read_text(encoding="utf-8").splitlines()
    rejected = json.loads(line)
    assert rejected["entry"]["update"]["update_id"] == POISON
    assert "refused" in rejected["reason"] and "out of range" in rejected["reason"]
    # Nothing is left to block capture: the next update goes straight to storage.
    receipt = await durable.capture(make_update(4, message_id=4, text="дальше"))
    assert receipt.stored


async def test_a_live_batch_with_a_poison_update_loses_none_of_the_others(
    store: Store, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Group commit writes a batch in one unit: the poison fails the unit, the
    batch goes to the spool, and replay stores all but the poison."""
    spool = Spool(tmp_path / "spool" / "updates.jsonl")
    durable = DurableCapture(Capturer(store, CaptureOptions()), spool)
    with refusing_one_update(store, request):
        async with anyio.create_task_group() as tg:
            for n in (10, POISON, 11):
                tg.start_soon(durable.capture, make_update(n, message_id=n, text=f"m{n}"))
        await durable.replay()
    for n in (10, 11):
        assert await store.get_update(n) is not None, n
    assert not await spool.pending()
    assert len(spool.rejected_path.read_text(encoding="utf-8").splitlines()) == 1


class RefusesWrites:
    """A store that answers pings but fails every write as if it were an outage."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.refusing = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def capture_many(
        self, updates: list[NormalizedUpdate], options: CaptureOptions | None = None
    ) -> Any:
        if self.refusing:
            raise TransientStorageError("writes time out")
        return await self.inner.capture_many(updates, options)

    async def write_batch(self, items: Any, options: CaptureOptions | None = None) -> Any:
        if self.refusing:
            raise TransientStorageError("writes time out")
        return await self.inner.write_batch(items, options)

    async def capture(self, update: NormalizedUpdate, options: CaptureOptions | None = None) -> Any:
        if self.refusing:
            raise TransientStorageError("writes time out")
        return await self.inner.capture(update, options)

    async def record_bot_response(self, response: BotResponseIn) -> Any:
        if self.refusing:
            raise TransientStorageError("writes time out")
        return await self.inner.record_bot_response(response)


async def test_readyz_reports_a_spool_that_is_not_draining(harness: BotHarness) -> None:
    stuck = RefusesWrites(harness.store)
    harness.capture.durable.capturer = Capturer(stuck, CaptureOptions())  # type: ignore[arg-type]
    async with webhook_server(harness, "s3cret") as (bot_server, client):
        bot_server.spool_stall_after = 0.0
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        update = make_update(1, message_id=1, text="x")
        assert (await client.post("/hook", json=update, headers=headers)).status_code == 200
        await harness.capture.durable.replay()
        stalled: httpx.Response = await client.get("/readyz")
        body = stalled.json()
        assert stalled.status_code == 503 and body["storage"] == "ok"
        assert body["spool_pending"] and not body["spool_draining"]
        assert "writes time out" in body["spool_last_error"]
        stuck.refusing = False
        assert await harness.capture.durable.replay() >= 1
        healthy = await client.get("/readyz")
        assert healthy.status_code == 200 and healthy.json()["spool_pending"] is False


async def test_a_mixed_batch_is_stored_whole_or_not_at_all(
    store: Store, request: pytest.FixtureRequest
) -> None:
    """Group commit's batch (updates and the bot's replies interleaved) is one unit on
    every backend: on Supabase one rpc, where several calls would each commit."""
    batch: list[NormalizedUpdate | BotResponseIn] = [
        normalize_update(make_update(21, message_id=21, text="первое")),
        BotResponseIn(chat_id=OWNER_ID, message_id=921, response_text="✓ Сохранил"),
        normalize_update(make_update(POISON, message_id=22, text="яд")),
    ]
    with refusing_one_update(store, request), pytest.raises(PermanentStorageError):
        await store.write_batch(batch)
    assert await store.get_update(21) is None
    assert await store.bot_responses(OWNER_ID) == []
    results = await store.write_batch(batch[:2])
    assert len(results) == 2 and await store.get_update(21) is not None
