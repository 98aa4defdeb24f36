"""The analyzer's run lock on every backend: one holder at a time, freed on exit and
on death, and a refusal that names who holds it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from superbrain_core.errors import RunLockHeld, StorageError
from superbrain_core.storage.base import Store
from tests.storage.backends import StoreFactory

pytestmark = pytest.mark.anyio


async def test_a_second_holder_is_refused_and_told_who_holds_it(
    store: Store, store_factory: StoreFactory
) -> None:
    async with store_factory() as other:
        async with store.run_lock("batch", "host-a:1:first") as held:
            assert held.holder == "host-a:1:first"
            with pytest.raises(RunLockHeld) as refused:
                async with other.run_lock("batch", "host-b:2:second"):
                    pytest.fail("the body must not run while another run holds the lock")
            assert refused.value.holder == "host-a:1:first"
            assert "host-a:1:first" in str(refused.value) and "did nothing" in str(refused.value)
            # Another name is another lock.
            async with other.run_lock("import", "host-b:2:second"):
                pass
        # Released on exit: the other run may go now.
        async with other.run_lock("batch", "host-b:2:second") as second:
            assert second.holder == "host-b:2:second"


async def test_the_lock_is_released_when_the_body_raises(
    store: Store, store_factory: StoreFactory
) -> None:
    with pytest.raises(StorageError, match="boom"):
        async with store.run_lock("batch", "first"):
            raise StorageError("boom")
    async with store_factory() as other, other.run_lock("batch", "second"):
        pass


async def test_two_runs_racing_for_the_lock_let_exactly_one_in(
    store_factory: StoreFactory,
) -> None:
    entered: list[str] = []
    refused: list[str] = []

    async def contender(name: str) -> None:
        async with store_factory() as s:
            try:
                async with s.run_lock("batch", name):
                    entered.append(name)
                    await anyio.sleep(0.3)
            except RunLockHeld:
                refused.append(name)

    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(contender, f"run-{n}")
    assert len(entered) == 1 and len(refused) == 3


_HOLD_SQLITE = textwrap.dedent(
    """
    import sys, anyio
    from superbrain_core.storage.sqlite.store import SqliteStore

    async def main() -> None:
        async with SqliteStore(sys.argv[1]) as store, store.run_lock("batch", "doomed"):
            print("held", flush=True)
            await anyio.sleep(60)

    anyio.run(main)
    """
)


async def test_sqlite_lock_dies_with_its_process(tmp_path: Path) -> None:
    """kill -9 cannot release anything, so the OS must: the next night is not blocked."""
    from superbrain_core.storage.sqlite.store import SqliteStore

    db = tmp_path / "killed.db"
    async with SqliteStore(db):
        pass
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_SQLITE, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        async with SqliteStore(db) as store:
            with pytest.raises(RunLockHeld, match="doomed"):
                async with store.run_lock("batch", "next"):
                    pass
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            async with store.run_lock("batch", "next") as held:
                assert held.mechanism == "file"
    finally:
        proc.kill()
        proc.wait(timeout=10)


async def test_an_in_memory_store_locks_too_and_leaves_no_file_behind(tmp_path: Path) -> None:
    import tempfile

    from superbrain_core.storage.sqlite.store import SqliteStore

    before = set(Path(tempfile.gettempdir()).glob("superbrain-memory-*"))
    async with SqliteStore(":memory:") as store:
        async with store.run_lock("batch", "first"):
            with pytest.raises(RunLockHeld):
                async with store.run_lock("batch", "second"):
                    pass
    assert set(Path(tempfile.gettempdir()).glob("superbrain-memory-*")) == before
