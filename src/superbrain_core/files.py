"""Content-addressed storage of file bytes.

Bytes are stored once per SHA-256, whatever number of messages carried them;
``raw_files`` rows point at the hash. Files are written to a temporary name and
renamed into place, so a crash never leaves a partial file under a real hash.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio
import attrs

from superbrain_core.errors import FileSizeMismatchError
from superbrain_core.models import FileStatus, RawFile
from superbrain_core.storage.base import Store


@attrs.frozen
class StoredBlob:
    sha256: str
    size: int
    path: str
    """Where the store keeps it, relative to the store's root (``ab/cd/abcd…``)."""
    created: bool
    """False when identical bytes were already stored (deduplicated)."""


class FileStore(Protocol):
    """Somewhere to keep file bytes by hash: a local directory, a Storage bucket."""

    async def put(
        self, chunks: AsyncIterable[bytes], *, expected_size: int | None = None
    ) -> StoredBlob: ...

    async def read(self, sha256: str) -> bytes: ...

    async def exists(self, sha256: str) -> bool: ...


def blob_path(sha256: str) -> str:
    """Fan out by the first bytes of the hash so no directory grows huge."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class LocalFileStore:
    """A :class:`FileStore` in a local directory (the default: ``<data-dir>/files``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    async def put(
        self, chunks: AsyncIterable[bytes], *, expected_size: int | None = None
    ) -> StoredBlob:
        tmp_dir = self.root / "tmp"
        await anyio.Path(tmp_dir).mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            async with await anyio.open_file(tmp, "wb") as out:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await out.write(chunk)
                await out.flush()
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
            if expected_size is not None and size != expected_size:
                raise FileSizeMismatchError(expected_size, size)
            sha = digest.hexdigest()
            rel = blob_path(sha)
            final = self.root / rel
            if await anyio.Path(final).exists():
                return StoredBlob(sha, size, rel, created=False)
            await anyio.Path(final.parent).mkdir(parents=True, exist_ok=True)
            await anyio.to_thread.run_sync(os.replace, tmp, final)
            return StoredBlob(sha, size, rel, created=True)
        finally:
            await anyio.Path(tmp).unlink(missing_ok=True)

    async def put_bytes(self, data: bytes) -> StoredBlob:
        return await self.put(iter_chunks(data), expected_size=len(data))

    async def read(self, sha256: str) -> bytes:
        return await anyio.Path(self.root / blob_path(sha256)).read_bytes()

    async def exists(self, sha256: str) -> bool:
        return await anyio.Path(self.root / blob_path(sha256)).exists()


async def iter_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``data`` as an async stream of chunks, for :meth:`FileStore.put`."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def attach_bytes(
    store: Store,
    files: FileStore,
    raw_file: RawFile,
    chunks: AsyncIterable[bytes],
) -> StoredBlob:
    """Store a file's bytes and link its ``raw_files`` row to them.

    The declared ``file_size`` is checked; on a mismatch the row is marked
    ``failed`` with the reason and the error re-raised, so a retry can follow.
    """
    try:
        blob = await files.put(chunks, expected_size=raw_file.file_size)
    except FileSizeMismatchError as exc:
        await store.set_file_status(raw_file.id, FileStatus.FAILED, reason=str(exc))
        raise
    await store.set_file_status(
        raw_file.id, FileStatus.STORED, file_hash=blob.sha256, file_path=blob.path
    )
    return blob
