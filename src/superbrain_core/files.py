"""Content-addressed storage of file bytes.

Bytes are stored once per SHA-256, whatever number of messages carried them;
``raw_files`` rows point at the hash. Files are written to a temporary name and
renamed into place, so a crash never leaves a partial file under a real hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread
import attrs
import httpx

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


class SupabaseBucketFileStore:
    """A :class:`FileStore` in a Supabase Storage bucket (private; service key).

    Bytes are first streamed to a local temporary file while hashed, because the
    object's name *is* its hash and must be known before the upload starts; the
    upload then streams from that file. Uploading an object that already exists
    is treated as deduplication, not as an error.
    """

    def __init__(
        self,
        url: str,
        key: str,
        bucket: str,
        *,
        client: httpx.AsyncClient | None = None,
        tmp_dir: str | Path | None = None,
        timeout: float = 120.0,
    ) -> None:
        from superbrain_core.supabase_http import auth_headers

        self._base = f"{url.rstrip('/')}/storage/v1/object"
        self.bucket = bucket
        self._headers = auth_headers(key)
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._tmp = LocalFileStore(tmp_dir or tempfile.gettempdir())

    async def aclose(self) -> None:
        await self._client.aclose()

    def _object_url(self, rel: str, *, authenticated: bool = False) -> str:
        prefix = f"{self._base}/authenticated" if authenticated else self._base
        return f"{prefix}/{self.bucket}/{rel}"

    async def put(
        self, chunks: AsyncIterable[bytes], *, expected_size: int | None = None
    ) -> StoredBlob:
        tmp_dir = self._tmp.root / "upload"
        await anyio.Path(tmp_dir).mkdir(parents=True, exist_ok=True)
        local = LocalFileStore(tmp_dir / uuid.uuid4().hex)
        try:
            blob = await local.put(chunks, expected_size=expected_size)
            path = local.root / blob.path

            async def body() -> AsyncIterator[bytes]:
                async with await anyio.open_file(path, "rb") as f:
                    while chunk := await f.read(256 * 1024):
                        yield chunk

            response = await self._client.post(
                self._object_url(blob.path),
                content=body(),
                headers={
                    **self._headers,
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(blob.size),
                    "x-upsert": "false",
                },
            )
        finally:
            await anyio.to_thread.run_sync(shutil.rmtree, local.root, True)
        if response.status_code in (200, 201):
            return StoredBlob(blob.sha256, blob.size, blob.path, created=True)
        if response.status_code == 409 or "Duplicate" in response.text:
            return StoredBlob(blob.sha256, blob.size, blob.path, created=False)
        raise OSError(f"Supabase Storage upload failed: HTTP {response.status_code}")

    async def read(self, sha256: str) -> bytes:
        response = await self._client.get(
            self._object_url(blob_path(sha256), authenticated=True), headers=self._headers
        )
        if response.status_code != 200:
            raise OSError(f"Supabase Storage download failed: HTTP {response.status_code}")
        return response.content

    async def exists(self, sha256: str) -> bool:
        response = await self._client.head(
            self._object_url(blob_path(sha256), authenticated=True), headers=self._headers
        )
        if response.status_code == 200:
            return True
        if response.status_code in (400, 404):
            return False
        raise OSError(f"Supabase Storage lookup failed: HTTP {response.status_code}")


def file_store_from_env(
    files_dir: str | Path, tmp_dir: str | Path, env: Mapping[str, str] | None = None
) -> FileStore:
    """Where file bytes go outside the bot: the Storage bucket the bot uses when
    ``SUPERBRAIN_FILES_BUCKET`` is set (with ``SUPABASE_URL`` and the service key),
    else ``files_dir``. ``import-desktop`` and ``files retry`` call this, so an
    import puts media where the bot puts its downloads."""
    from superbrain_core.errors import ConfigError

    env = os.environ if env is None else env
    bucket = (env.get("SUPERBRAIN_FILES_BUCKET") or "").strip()
    if not bucket:
        return LocalFileStore(files_dir)
    url = env.get("SUPABASE_URL")
    key = env.get("SUPABASE_SERVICE_KEY") or env.get("SUPABASE_KEY")
    if not url:
        raise ConfigError("SUPERBRAIN_FILES_BUCKET needs SUPABASE_URL", variable="SUPABASE_URL")
    if not key:
        raise ConfigError(
            "SUPERBRAIN_FILES_BUCKET needs SUPABASE_SERVICE_KEY (or SUPABASE_KEY)",
            variable="SUPABASE_SERVICE_KEY",
        )
    return SupabaseBucketFileStore(url, key, bucket, tmp_dir=tmp_dir)


async def close_file_store(files: FileStore) -> None:
    """Close a FileStore that holds a client (the bucket's); a folder needs nothing."""
    aclose = getattr(files, "aclose", None)
    if aclose is not None:
        await aclose()
