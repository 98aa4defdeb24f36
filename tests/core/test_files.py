"""The content-addressed FileStore on its own."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from superbrain_core.errors import FileSizeMismatchError
from superbrain_core.files import LocalFileStore, blob_path, iter_chunks

pytestmark = pytest.mark.anyio


async def test_put_hashes_streams_and_deduplicates(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path)
    data = bytes(range(256)) * 1000
    first = await files.put(iter_chunks(data, 1000), expected_size=len(data))
    second = await files.put_bytes(data)
    assert first.sha256 == hashlib.sha256(data).hexdigest() == second.sha256
    assert (first.created, second.created, first.size) == (True, False, len(data))
    assert (tmp_path / blob_path(first.sha256)).read_bytes() == data
    assert first.path == f"{first.sha256[:2]}/{first.sha256[2:4]}/{first.sha256}"
    assert await files.exists(first.sha256)
    assert not list((tmp_path / "tmp").iterdir()), "temporary files are cleaned up"


async def test_size_mismatch_stores_nothing(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path)
    with pytest.raises(FileSizeMismatchError) as info:
        await files.put(iter_chunks(b"12345"), expected_size=6)
    assert (info.value.expected, info.value.actual) == (6, 5)
    assert not await files.exists(hashlib.sha256(b"12345").hexdigest())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_concurrent_puts_of_the_same_bytes_leave_one_blob(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path)
    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(files.put_bytes, b"same bytes")
    blobs = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(blobs) == 1 and blobs[0].read_bytes() == b"same bytes"
