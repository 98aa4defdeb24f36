"""The file pipeline: fetch every downloadable file in the background, store it once.

Capture records each file's descriptor immediately and hands its row id here.
Workers download the bytes (streamed through SHA-256 into the FileStore, checked
against the declared size), with exponential backoff between attempts; a file
that still fails keeps its descriptor, status ``failed`` and the last reason.
Nothing here runs on the capture path: a slow download never delays an update.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from superbrain_core.botapi import BotApiClient, BotApiError
from superbrain_core.errors import StorageError
from superbrain_core.files import FileStore, attach_bytes
from superbrain_core.logs import get_logger, redact_text
from superbrain_core.models import FileStatus, RawFile
from superbrain_core.storage.base import Store

log = get_logger(__name__)


class FileTooLargeError(Exception):
    """The source refuses to hand out the file because of its size."""


class FileFetcher(Protocol):
    """Where file bytes come from (the Bot API, an export folder...)."""

    def fetch(self, raw_file: RawFile) -> AsyncIterator[bytes]: ...


class BotApiFetcher:
    """Fetches through ``getFile`` and the Bot API's file endpoint."""

    def __init__(self, api: BotApiClient) -> None:
        self.api = api

    async def fetch(self, raw_file: RawFile) -> AsyncIterator[bytes]:
        if raw_file.file_id is None:
            raise BotApiError("descriptor has no file_id")
        try:
            path, _size = await self.api.get_file_path(raw_file.file_id)
        except BotApiError as exc:
            if "too big" in str(exc).lower():
                raise FileTooLargeError(str(exc)) from exc
            raise
        async for chunk in self.api.stream_file(path):
            yield chunk


class FilePipeline:
    """Background downloads with retries. Run :meth:`run` in a task group, feed :meth:`submit`."""

    def __init__(
        self,
        store: Store,
        files: FileStore,
        fetcher: FileFetcher,
        *,
        concurrency: int = 4,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
    ) -> None:
        self.store = store
        self.files = files
        self.fetcher = fetcher
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._send: MemoryObjectSendStream[tuple[int, int]]
        self._receive: MemoryObjectReceiveStream[tuple[int, int]]
        self._send, self._receive = anyio.create_memory_object_stream[tuple[int, int]](math.inf)
        self._in_flight = 0
        self._idle = anyio.Event()
        self._idle.set()
        self._tg: TaskGroup | None = None

    def submit(self, file_row_ids: Iterable[int]) -> None:
        """Queue files for download (never blocks)."""
        for file_id in file_row_ids:
            self._enqueue(file_id, 1)

    def _enqueue(self, file_id: int, attempt: int) -> None:
        if self._in_flight == 0:
            self._idle = anyio.Event()
        self._in_flight += 1
        self._send.send_nowait((file_id, attempt))

    def _done(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until every queued file is stored, failed for good, or refused."""
        await self._idle.wait()

    async def resume_pending(self) -> int:
        """Queue every file still ``pending`` or ``failed`` (after a restart). Returns how many.

        Failed files get a fresh round of attempts on every start: a download
        that failed for a day (an outage) can still succeed.
        """
        count = 0
        for status in (FileStatus.PENDING, FileStatus.FAILED):
            after = 0
            while True:
                page = await self.store.list_files(status=status, after_id=after, limit=500)
                if not page:
                    break
                self.submit(f.id for f in page)
                count += len(page)
                after = page[-1].id
        return count

    async def run(self) -> None:
        """Work the queue until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for _ in range(self.concurrency):
                tg.start_soon(self._worker)

    async def _worker(self) -> None:
        async for file_id, attempt in self._receive:
            try:
                await self._attempt(file_id, attempt)
            except Exception:
                # A worker never dies: the file stays pending/failed and is
                # picked up again on the next start.
                log.exception("file_download_crashed", file_row_id=file_id)
            finally:
                self._done()

    async def _attempt(self, file_id: int, attempt: int) -> None:
        outcome = await self._try_once(file_id, attempt)
        if outcome is None and self._tg is not None:
            self._in_flight += 1  # the retry is still work to wait for
            self._tg.start_soon(self._retry_later, file_id, attempt + 1, self._delay(attempt))

    async def _retry_later(self, file_id: int, attempt: int, delay: float) -> None:
        await anyio.sleep(delay)
        self._send.send_nowait((file_id, attempt))

    def _delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    async def _try_once(self, file_id: int, attempt: int) -> FileStatus | None:
        """One attempt; returns the final status, or ``None`` when a retry should follow."""
        try:
            raw_file = await self.store.get_file(file_id)
        except StorageError as exc:
            log.info("file_download_deferred", file_row_id=file_id, error=str(exc))
            return None if attempt < self.max_attempts else FileStatus.PENDING
        if raw_file is None or raw_file.status not in (FileStatus.PENDING, FileStatus.FAILED):
            return raw_file.status if raw_file else FileStatus.MISSING
        try:
            blob = await attach_bytes(
                self.store, self.files, raw_file, self.fetcher.fetch(raw_file)
            )
        except FileTooLargeError as exc:
            await self.store.set_file_status(file_id, FileStatus.TOO_LARGE, reason=str(exc))
            return FileStatus.TOO_LARGE
        except Exception as exc:  # the API, the network, the size check, the FileStore...
            detail = redact_text(str(exc)) or type(exc).__name__
            reason = f"attempt {attempt}/{self.max_attempts}: {detail}"
            try:
                await self.store.set_file_status(file_id, FileStatus.FAILED, reason=reason)
            except StorageError as store_exc:
                log.info("file_status_not_saved", file_row_id=file_id, error=str(store_exc))
            permanent = isinstance(exc, BotApiError) and not exc.transient
            if permanent or attempt >= self.max_attempts:
                log.warning("file_download_failed", file_row_id=file_id, reason=reason)
                return FileStatus.FAILED
            log.info("file_download_retry", file_row_id=file_id, reason=reason)
            return None
        log.debug("file_stored", file_row_id=file_id, sha256=blob.sha256, new_blob=blob.created)
        return FileStatus.STORED
