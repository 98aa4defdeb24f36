"""A single capture on SQLite runs on the event loop's thread only when it cannot wait.

The short path (``SqliteStore._run(short=True)``) saves the round trip through
the worker thread; it must never make the loop wait for another process's write
lock: a busy lock sends the write to the worker thread, which waits there as
before while the loop keeps running.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import anyio
import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_update
from superbrain_core.models import CaptureOutcome
from superbrain_core.storage.sqlite.store import SqliteStore

pytestmark = pytest.mark.anyio


async def test_a_capture_while_another_process_writes_waits_off_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    async with SqliteStore(path) as store:
        capturer = Capturer(store)
        await capturer.capture(make_update(1, message_id=1, text="до"))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        released = threading.Event()

        def release_later() -> None:
            time.sleep(0.3)
            other.execute("COMMIT")
            released.set()

        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while not released.is_set():
                ticks += 1
                await anyio.sleep(0.01)

        threading.Thread(target=release_later).start()
        async with anyio.create_task_group() as tg:
            tg.start_soon(tick)
            result = await capturer.capture(make_update(2, message_id=2, text="после"))
        other.close()
        assert result.outcome is CaptureOutcome.NEW
        assert ticks >= 10, "the event loop was blocked while the lock was held"
        assert (await store.get_message(OWNER_ID, 2)) is not None


async def test_the_short_path_is_off_when_every_commit_waits_for_the_disk(tmp_path: Path) -> None:
    assert SqliteStore(tmp_path / "a.db")._inline_writes
    assert not SqliteStore(tmp_path / "b.db", synchronous="FULL")._inline_writes
