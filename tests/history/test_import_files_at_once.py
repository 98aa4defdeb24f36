"""Files of one batch are copied several at a time, and the report and rows are still
those of copying them one after the other: the first copy of some bytes is
stored, every later one deduplicated, each row pointing at its own content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from superbrain_core.files import LocalFileStore, StoredBlob, blob_path, iter_chunks
from superbrain_core.history.desktop import import_chat_id
from superbrain_core.history.importer import import_desktop_export
from superbrain_core.models import FileStatus
from superbrain_core.storage.sqlite.store import SqliteStore

pytestmark = pytest.mark.anyio


def _export(folder: Path) -> dict[int, bytes]:
    """40 messages with files: 12 distinct contents (some of one size, some sharing their
    first 64 KiB), one path outside the folder, one missing; the bytes per message."""
    contents = [f"same size {k:02d}\n".encode() for k in range(6)]
    contents += [b"x" * 70_000 + bytes([k]) for k in range(4)]  # same first 64 KiB
    contents += [b"short", b"a much longer attachment" * 100]
    messages: list[dict[str, Any]] = []
    expected: dict[int, bytes] = {}
    for n in range(1, 41):
        name = f"files/f{n}.bin"
        data = contents[(n // 3) % len(contents)]  # neighbours share bytes
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        messages.append(
            {
                "id": n,
                "type": "message",
                "date_unixtime": str(1_700_000_000 + n),
                "date": "2023-11-14T22:13:20",
                "from_id": "user5",
                "text": "",
                "file": name,
            }
        )
        expected[n] = data
    messages.append(
        {
            "id": 41,
            "type": "message",
            "date_unixtime": "1700000041",
            "text": "",
            "date": "2023-11-14T22:13:20",
            "file": "../outside.bin",
        }
    )
    messages.append(
        {
            "id": 42,
            "type": "message",
            "date_unixtime": "1700000042",
            "text": "",
            "date": "2023-11-14T22:13:20",
            "file": "files/gone.bin",
        }
    )
    (folder.parent / "outside.bin").write_bytes(b"secret")
    doc = {"name": "Файлы", "type": "personal_chat", "id": 5, "messages": messages}
    (folder / "result.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return expected


class SlowFileStore(LocalFileStore):
    """A FileStore that takes its time between looking for the bytes and writing them,
    as a remote one does: two copies of the same bytes at once would both count as new."""

    async def put(
        self, chunks: AsyncIterable[bytes], *, expected_size: int | None = None
    ) -> StoredBlob:
        data = b"".join([chunk async for chunk in chunks])
        existed = await self.exists(hashlib.sha256(data).hexdigest())
        await anyio.sleep(0.01)
        blob = await super().put(iter_chunks(data), expected_size=expected_size)
        return attrs.evolve(blob, created=not existed)


@pytest.mark.parametrize("batch_size", [1, 7, 5000])
async def test_files_copied_at_once_count_and_point_as_one_after_the_other(
    tmp_path: Path, batch_size: int
) -> None:
    folder = tmp_path / "export"
    expected = _export(folder)
    async with SqliteStore(str(tmp_path / "db.sqlite")) as store:
        files = SlowFileStore(tmp_path / "files")
        report = await import_desktop_export(store, files, folder, batch_size=batch_size)
        distinct = len(set(expected.values()))
        assert (report.files_stored, report.files_deduplicated) == (distinct, 40 - distinct)
        assert (report.files_refused, report.files_missing) == (1, 1)
        chat = import_chat_id(5, "personal_chat")
        for n, data in expected.items():
            (row,) = await store.files_of_message(chat, n)
            digest = hashlib.sha256(data).hexdigest()
            assert (row.status, row.file_hash, row.file_path) == (
                FileStatus.STORED,
                digest,
                blob_path(digest),
            )
            assert await files.read(digest) == data
        (refused,) = await store.files_of_message(chat, 41)
        assert refused.status is FileStatus.MISSING and "refused" in (refused.download_reason or "")
