"""An ingest collects garbage less often while it runs and puts the process's setting back."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import anyio
import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import make_update
from superbrain_core.errors import InputError
from superbrain_core.history.ingest import INGEST_GC_THRESHOLD, ingest_text
from superbrain_core.storage.sqlite.store import SqliteStore

pytestmark = pytest.mark.anyio


async def test_the_threshold_is_raised_during_ingest_and_restored_after(tmp_path: Path) -> None:
    before = gc.get_threshold()
    seen: list[int] = []
    text = "\n".join(json.dumps(make_update(i, message_id=i, text="x")) for i in range(1, 6))
    async with SqliteStore(tmp_path / "gc.db") as store:

        def progress(_: int) -> None:
            seen.append(gc.get_threshold()[0])

        async with anyio.create_task_group() as tg:  # two at once: restored when both end
            for source in ("a", "b"):
                tg.start_soon(
                    lambda s=source: ingest_text(Capturer(store), text, s, on_progress=progress)
                )
        assert seen and all(t >= INGEST_GC_THRESHOLD for t in seen)
        assert gc.get_threshold() == before
        with pytest.raises(InputError):
            await ingest_text(Capturer(store), text + "\n{broken", "c")
        assert gc.get_threshold() == before
