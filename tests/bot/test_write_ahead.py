"""The write-ahead path: acknowledged from the fsynced spool while storage is busy.

Storage is made busy on purpose (its first write waits on a gate), so that the
records behind it take the spool. Checked: the same rows as the group commit
(order, edits, replies to the bot), nothing acknowledged that is not durable,
nothing lost by a crash between the spool and the store, the spool emptied and
compacted, and handlers that still wait for storage's verdict on redeliveries.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from superbrain_core.bot.server import SECRET_HEADER, decode_body
from superbrain_core.bot.spool import (
    CaptureUnavailableError,
    DurableCapture,
    Spool,
    spool_line_for_body,
)
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_update
from superbrain_core.errors import TransientStorageError
from superbrain_core.models import BotResponseIn, CaptureOutcome, CaptureResult
from superbrain_core.storage.base import CaptureOptions
from superbrain_core.storage.sqlite.store import SqliteStore
from tests.bot.conftest import BotHarness, webhook_server

pytestmark = pytest.mark.anyio


class GatedStore:
    """A store whose writes wait on a gate (storage busy), or fail (storage out)."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.gate: anyio.Event | None = None
        self.entered = anyio.Event()
        self.failing = False
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write_batch(self, items: Any, options: CaptureOptions | None = None) -> Any:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise TransientStorageError("writes time out")
        self.batches.append(len(items))
        return await self.inner.write_batch(items, options)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "wa.db") as opened:
        yield opened


def durable_over(
    store: SqliteStore, tmp_path: Path, **kwargs: Any
) -> tuple[GatedStore, DurableCapture]:
    gated = GatedStore(store)
    spool = Spool(tmp_path / "spool" / "updates.jsonl")
    capturer = Capturer(gated, CaptureOptions())  # type: ignore[arg-type]
    return gated, DurableCapture(capturer, spool, **kwargs)


async def busy(gated: GatedStore, durable: DurableCapture, tg: Any) -> None:
    """Start a group commit that holds storage until ``gated.gate`` is set."""
    gated.gate = anyio.Event()
    gated.entered = anyio.Event()

    async def first() -> None:
        # Tests that make storage and the spool fail fail this one too.
        with contextlib.suppress(CaptureUnavailableError):
            await durable.capture(make_update(1, message_id=1, text="первое"))

    tg.start_soon(first)
    await gated.entered.wait()


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def test_busy_storage_acknowledges_from_the_spool_and_stores_in_order(
    store: SqliteStore, tmp_path: Path
) -> None:
    gated, durable = durable_over(store, tmp_path)
    updates = [
        make_update(2, message_id=2, text="второе"),
        make_update(3, "edited_message", message_id=1, text="правка", edit_date=1_800_000_000),
        make_update(4, message_id=4, text="ответ", reply_to_message_id=2),
        make_update(2, message_id=2, text="второе"),  # a redelivery inside the burst
    ]
    async with anyio.create_task_group() as tg:
        await busy(gated, durable, tg)
        receipts = []
        for update in updates:
            body = body_of(update)
            with anyio.fail_after(5):  # acknowledged while storage is still held
                receipts.append(await durable.accept(decode_body(body), spool_line_for_body(body)))
        assert all(r.later is not None and not r.stored for r in receipts)
        assert await store.get_update(2) is None, "storage is still busy"
        spooled = await durable.spool.read()  # type: ignore[union-attr]
        assert [e["update"] for e in spooled] == updates, "durable, verbatim, in order"
        gated.gate.set()  # type: ignore[union-attr]
        results = [await r.later for r in receipts]  # type: ignore[misc]
    assert [r.outcome for r in results if isinstance(r, CaptureResult)] == [
        CaptureOutcome.NEW,
        CaptureOutcome.EDIT,
        CaptureOutcome.NEW,
        CaptureOutcome.DUPLICATE,
    ]
    versions = await store.message_versions(OWNER_ID, 1)
    assert [v.message_text for v in versions] == ["первое", "правка"]
    assert (await store.stats()).tables["raw_updates"] == 4
    await durable.flush()
    assert not await durable.spool.pending(), "caught up: the spool is emptied"  # type: ignore[union-attr]


async def test_write_ahead_gives_the_rows_of_the_group_commit(
    store: SqliteStore, tmp_path: Path
) -> None:
    """The same updates and replies, once through the spool and once stored directly."""
    records: list[dict[str, Any] | BotResponseIn] = [
        make_update(10, message_id=10, text="исходное"),
        BotResponseIn(
            chat_id=OWNER_ID, message_id=910, response_text="✓", related_user_message_id=10
        ),
        make_update(11, message_id=11, text="уточнение", reply_to_message_id=910),
        make_update(12, "edited_message", message_id=10, text="v2", edit_date=1_800_000_000),
        make_update(10, message_id=10, text="исходное"),
    ]

    async def run(durable: DurableCapture) -> None:
        for record in records:
            if isinstance(record, BotResponseIn):
                await durable.record_bot_response(record)
            else:
                await durable.accept(record)

    gated, durable = durable_over(store, tmp_path / "a")
    async with anyio.create_task_group() as tg:
        await busy(gated, durable, tg)
        await run(durable)
        gated.gate.set()  # type: ignore[union-attr]
    await durable.flush()
    assert len(gated.batches) >= 2 and gated.batches[-1] == len(records), "one move"

    async with SqliteStore(tmp_path / "direct.db") as direct_store:
        direct = DurableCapture(Capturer(direct_store, CaptureOptions()), None)
        await direct.capture(make_update(1, message_id=1, text="первое"))
        await run(direct)
        for chat_message in [(OWNER_ID, 10), (OWNER_ID, 11)]:
            ours = [
                (v.version, v.message_text, v.chain_id is not None)
                for v in await store.message_versions(*chat_message)
            ]
            theirs = [
                (v.version, v.message_text, v.chain_id is not None)
                for v in await direct_store.message_versions(*chat_message)
            ]
            assert ours == theirs
        assert (await store.stats()).tables == (await direct_store.stats()).tables
        reply = await store.message_versions(OWNER_ID, 11)
        original = await store.message_versions(OWNER_ID, 10)
        assert reply[0].chain_id == original[0].chain_id, "the reply via the bot joins the chain"


async def test_a_crash_between_the_spool_and_the_store_loses_nothing(
    store: SqliteStore, tmp_path: Path
) -> None:
    _, durable = durable_over(store, tmp_path)

    def died_before_storing(batch: list[Any], *, spooled: bool) -> None:
        # The process dies right after the fsync: acknowledged, never moved.
        assert spooled
        for pending in batch:
            pending.finish()

    durable._spool_has_entries = False
    durable._write_ahead = lambda start: True  # type: ignore[method-assign]
    durable._queue_for_mover = died_before_storing  # type: ignore[assignment]
    acknowledged = list(range(2, 30))
    for i in acknowledged:
        receipt = await durable.accept(make_update(i, message_id=i, text=f"м{i}"))
        assert receipt.later is not None
    assert await store.get_update(2) is None
    # Restart: a new capture over the same spool file and database.
    restarted = DurableCapture(Capturer(store, CaptureOptions()), Spool(durable.spool.path))  # type: ignore[union-attr]
    receipt = await restarted.accept(make_update(100, message_id=100, text="после"))
    assert not receipt.stored, "queued behind the spool from before the crash"
    assert await restarted.replay() == len(acknowledged) + 1
    for i in [*acknowledged, 100]:
        assert await store.get_update(i) is not None, i


async def test_nothing_is_acknowledged_that_is_not_durable(
    store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated, durable = durable_over(store, tmp_path)

    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Spool, "_append_to", staticmethod(disk_full))
    async with anyio.create_task_group() as tg:
        await busy(gated, durable, tg)
        gated.failing = True  # and storage fails once it answers
        outcome: dict[str, Any] = {}

        async def accept() -> None:
            try:
                outcome["receipt"] = await durable.accept(make_update(5, message_id=5, text="x"))
            except CaptureUnavailableError as exc:
                outcome["error"] = exc

        tg.start_soon(accept)
        await anyio.sleep(0.1)
        assert not outcome, "not acknowledged while it is in neither place"
        gated.gate.set()  # type: ignore[union-attr]
    assert "error" in outcome and "receipt" not in outcome


async def test_a_failed_spool_append_waits_for_storage_instead(
    store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated, durable = durable_over(store, tmp_path)

    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Spool, "_append_to", staticmethod(disk_full))
    async with anyio.create_task_group() as tg:
        await busy(gated, durable, tg)
        done = anyio.Event()

        async def accept() -> None:
            await durable.accept(make_update(6, message_id=6, text="y"))
            done.set()

        tg.start_soon(accept)
        await anyio.sleep(0.1)
        assert not done.is_set(), "the spool failed: the answer waits for storage"
        gated.gate.set()  # type: ignore[union-attr]
        with anyio.fail_after(5):
            await done.wait()
    assert await store.get_update(6) is not None


async def test_storage_failing_mid_burst_leaves_the_rest_spooled_for_the_replay(
    store: SqliteStore, tmp_path: Path
) -> None:
    gated, durable = durable_over(store, tmp_path)
    async with anyio.create_task_group() as tg:
        await busy(gated, durable, tg)
        receipts = [
            await durable.accept(make_update(i, message_id=i, text=f"м{i}")) for i in range(2, 8)
        ]
        gated.failing = True
        gated.gate.set()  # type: ignore[union-attr]
    assert [await r.later for r in receipts] == [None] * 6, "left in the spool"  # type: ignore[misc]
    assert durable.spool_backlog_age() is not None
    # Later records queue behind them, still acknowledged from the spool.
    late = await durable.accept(make_update(8, message_id=8, text="позже"))
    assert not late.stored and await store.get_update(8) is None
    gated.failing = False
    gated.gate = None
    assert await durable.replay() >= 8
    for i in range(1, 9):
        assert await store.get_update(i) is not None, i
    assert not await durable.spool.pending()  # type: ignore[union-attr]


async def test_a_spool_that_never_empties_is_compacted(store: SqliteStore, tmp_path: Path) -> None:
    gated, durable = durable_over(store, tmp_path, move_batch=4, compact_after=1)
    rewrites: list[int] = []
    original = Spool.rewrite_sync

    def counting(self: Spool, lines: list[bytes]) -> None:
        rewrites.append(len(lines))
        original(self, lines)

    Spool.rewrite_sync = counting  # type: ignore[method-assign]
    try:
        async with anyio.create_task_group() as tg:
            await busy(gated, durable, tg)
            for i in range(2, 20):
                await durable.accept(make_update(i, message_id=i, text=f"м{i}"))
            gated.gate.set()  # type: ignore[union-attr]
        await durable.flush()
    finally:
        Spool.rewrite_sync = original  # type: ignore[method-assign]
    assert rewrites and rewrites[0] > 0, "rewritten with what was not stored yet"
    assert rewrites[-1] == 0 and not await durable.spool.pending()  # type: ignore[union-attr]
    assert (await store.stats()).tables["raw_updates"] == 19


def test_spool_lines_from_request_bodies_replay_to_the_same_update() -> None:
    update = make_update(7, message_id=7, text="строка 🙂 с \\n и \ud83d без пары")
    for body in (json.dumps(update).encode(), body_of({**update, "message": {"text": "ё"}})):
        line = spool_line_for_body(body)
        assert line is not None and line.endswith(b"\n")
        assert json.loads(line) == {"update": decode_body(body)}
        assert decode_body(body) == json.loads(body)
    pretty = json.dumps(update, indent=2).encode()
    assert spool_line_for_body(pretty) is None, "a body on several lines is re-encoded"
    assert spool_line_for_body(b"\xef\xbb\xbf" + body) is None, "a byte-order mark"
    assert spool_line_for_body(json.dumps(update).encode("utf-16-le")) is None


async def test_webhook_under_load_handles_each_update_once(harness: BotHarness) -> None:
    """Concurrent posts while storage is busy: every update stored, answered once,
    and a redelivery inside the burst is not handled again."""
    gated = GatedStore(harness.store)
    harness.capture.durable.capturer = Capturer(gated, CaptureOptions(bot_id=harness.bot.id))  # type: ignore[arg-type]
    async with webhook_server(harness, "s3cret") as (_, client):
        headers = {SECRET_HEADER: "s3cret"}
        async with anyio.create_task_group() as tg:
            await busy(gated, harness.capture.durable, tg)

            async def post(i: int) -> None:
                update = make_update(i, message_id=i, text=f"заметка {i}")
                response = await client.post("/hook", json=update, headers=headers)
                assert response.status_code == 200

            for i in [*range(2, 12), 5]:
                tg.start_soon(post, i)
            await anyio.sleep(0.2)
            gated.gate.set()  # type: ignore[union-attr]
        await harness.capture.drain()
    assert (await harness.store.stats()).tables["raw_updates"] == 11
    assert harness.sent().count("✓ Сохранил") == 10, "one acknowledgement per new update"
    assert (await harness.store.stats()).tables["bot_responses"] == 10


async def test_webhook_answers_503_when_neither_spool_nor_storage_takes_it(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated = GatedStore(harness.store)
    harness.capture.durable.capturer = Capturer(gated, CaptureOptions(bot_id=harness.bot.id))  # type: ignore[arg-type]

    def fsync_fails(path: Path, data: bytes) -> None:
        raise OSError(5, "Input/output error")

    async with webhook_server(harness, "s3cret") as (_, client):
        async with anyio.create_task_group() as tg:
            await busy(gated, harness.capture.durable, tg)
            monkeypatch.setattr(Spool, "_append_to", staticmethod(fsync_fails))
            gated.failing = True
            statuses: list[int] = []

            async def post() -> None:
                update = make_update(50, message_id=50, text="x")
                response = await client.post(
                    "/hook", json=update, headers={SECRET_HEADER: "s3cret"}
                )
                statuses.append(response.status_code)

            tg.start_soon(post)
            await anyio.sleep(0.2)
            assert statuses == [], "no answer while it is in neither place"
            gated.gate.set()  # type: ignore[union-attr]
    assert statuses == [503]
    assert await harness.store.get_update(50, bot_id=harness.bot.id) is None
