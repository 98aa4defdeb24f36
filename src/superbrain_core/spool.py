"""A local durable spool for updates that could not reach storage.

When the database is down the bot must still acknowledge Telegram (or Telegram
retries, then gives up after a while) without losing the update. The spool is
an append-only JSON Lines file, fsynced on every append, so an acknowledged
update survives a crash of the process. :class:`DurableCapture` writes through
to storage when it can, to the spool when it cannot, and replays the spool in
order (deduplicated by ``update_id``) once storage answers again.

Order is kept: while the spool holds anything, new updates are appended behind
it rather than stored directly, so an edit is never stored before its original.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from superbrain_core import jsonutil
from superbrain_core.capture import Capturer
from superbrain_core.errors import StorageError, SuperbrainError
from superbrain_core.logs import get_logger
from superbrain_core.models import BotResponse, BotResponseIn, CaptureResult, NormalizedUpdate
from superbrain_core.telegram import normalize_update

log = get_logger(__name__)


class CaptureUnavailableError(SuperbrainError):
    """Neither storage nor the spool could take the update: it is *not* persisted.

    The caller must not acknowledge the update (a webhook answers 5xx, polling
    does not advance its offset) so that Telegram delivers it again.
    """


class Spool:
    """Append-only, fsynced JSON Lines file of raw updates awaiting storage."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _append_sync(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def append(self, entry: dict[str, Any]) -> None:
        """Durably append one entry; returns only after it is on disk."""
        await self.append_many([entry])

    async def append_many(self, entries: list[dict[str, Any]]) -> None:
        """Durably append entries in order, with one fsync."""
        data = b"".join((jsonutil.dumps(e) + "\n").encode("utf-8") for e in entries)
        await anyio.to_thread.run_sync(self._append_sync, data)

    def _read_sync(self) -> list[dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return []
        entries: list[dict[str, Any]] = []
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except ValueError:
                if number == len(lines):
                    # A torn last line: the process died mid-append, before the
                    # fsync returned, so that update was never acknowledged.
                    log.warning("spool_torn_tail_ignored", path=str(self.path))
                    continue
                raise StorageError(f"{self.path}:{number}: spool line is not JSON") from None
        return entries

    async def read(self) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self._read_sync)

    async def pending(self) -> bool:
        def check() -> bool:
            try:
                return self.path.stat().st_size > 0
            except (FileNotFoundError, NotADirectoryError):
                return False

        return await anyio.to_thread.run_sync(check)

    def _clear_sync(self) -> None:
        # Replace rather than truncate in place, so a crash leaves either the
        # old spool (replayed again; deduplicated) or an empty one.
        tmp = self.path.with_suffix(".empty")
        tmp.write_bytes(b"")
        os.replace(tmp, self.path)

    async def clear(self) -> None:
        await anyio.to_thread.run_sync(self._clear_sync)


@attrs.frozen
class CaptureReceipt:
    """Where an update went: stored (with the result) or spooled for later."""

    stored: bool
    result: CaptureResult | None = None


@attrs.define(eq=False)
class _Pending:
    """One record waiting for the next group commit."""

    work: NormalizedUpdate | BotResponseIn
    done: anyio.Event = attrs.field(factory=anyio.Event)
    result: CaptureResult | BotResponse | None = None
    error: BaseException | None = None

    def spool_entry(self) -> dict[str, Any]:
        """Its spool form, built only when spooled: ``{"update": …}`` or ``{"bot_response": …}``."""
        if isinstance(self.work, BotResponseIn):
            return {"bot_response": self.work.to_json()}
        return {"update": self.work.payload}


class DurableCapture:
    """Capture that never drops an update it acknowledged, nor a reply the bot sent.

    ``capture`` (and ``record_bot_response``) return once the record is in
    storage or in the spool, and raise :class:`CaptureUnavailableError` when it
    is in neither. Spool entries are ``{"update": payload}`` or
    ``{"bot_response": record}``, replayed in the order they were written.

    Records arriving together are written together (group commit): the first
    caller writes everything queued behind it in one transaction, so under load
    the cost of a commit and a thread hop is shared by many updates, while each
    caller still waits for its own record to be persisted.
    """

    def __init__(self, capturer: Capturer, spool: Spool | None, *, max_batch: int = 256) -> None:
        self.capturer = capturer
        self.spool = spool
        self.max_batch = max_batch
        self._lock = anyio.Lock()
        self._queue: list[_Pending] = []
        self._spool_has_entries: bool | None = None

    async def capture(self, payload: dict[str, Any]) -> CaptureReceipt:
        # Validate first: something that is not an update is refused before it
        # can reach the spool, where it would block every replay behind it.
        update = normalize_update(payload)
        result = await self._submit(_Pending(update))
        assert result is None or isinstance(result, CaptureResult)
        return CaptureReceipt(result is not None, result)

    async def record_bot_response(self, response: BotResponseIn) -> BotResponse | None:
        """Record what the bot sent; ``None`` when it went to the spool instead."""
        result = await self._submit(_Pending(response))
        assert result is None or isinstance(result, BotResponse)
        return result

    async def _submit(self, pending: _Pending) -> CaptureResult | BotResponse | None:
        self._queue.append(pending)
        if not self._lock.locked():
            async with self._lock:
                # Let callers that are already running (and requests already
                # received) join this batch: two turns of the event loop.
                await anyio.lowlevel.checkpoint()
                await anyio.lowlevel.checkpoint()
                while self._queue:
                    batch = self._queue[: self.max_batch]
                    del self._queue[: self.max_batch]
                    await self._commit(batch)
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result

    async def _commit(self, batch: list[_Pending]) -> None:
        """Write a batch in order: to storage in one unit, else all of it to the spool."""
        try:
            if self._spool_has_entries is None and self.spool is not None:
                self._spool_has_entries = await self.spool.pending()
            stored = False
            if not self._spool_has_entries:
                try:
                    results = await self.capturer.store.write_batch(
                        [p.work for p in batch], self.capturer.options
                    )
                except (StorageError, OSError) as exc:
                    log.warning("storage_unavailable_spooling", error=str(exc), records=len(batch))
                else:
                    for pending, result in zip(batch, results, strict=True):
                        pending.result = result
                    stored = True
            if not stored:
                await self._spool_entries(batch)
        except BaseException as exc:
            for pending in batch:
                pending.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for pending in batch:
                pending.done.set()

    async def _spool_entries(self, rest: list[_Pending]) -> None:
        if self.spool is None:
            raise CaptureUnavailableError("storage failed and no spool is configured")
        try:
            await self.spool.append_many([p.spool_entry() for p in rest])
        except OSError as exc:
            raise CaptureUnavailableError(
                f"storage failed and the spool is not writable: {exc.strerror or exc}"
            ) from exc
        self._spool_has_entries = True

    async def replay(self) -> int:
        """Store every spooled update in order, then empty the spool.

        Returns how many entries were replayed (0 when storage is still down or
        the spool is empty). Safe to repeat: capture is idempotent.
        """
        if self.spool is None:
            return 0
        async with self._lock:
            entries = await self.spool.read()
            if not entries:
                self._spool_has_entries = False
                return 0
            try:
                for entry in entries:
                    if "update" in entry:
                        await self.capturer.capture(entry["update"])
                    elif "bot_response" in entry:
                        record = BotResponseIn.from_json(entry["bot_response"])
                        await self.capturer.store.record_bot_response(record)
                    else:
                        raise StorageError(f"{self.spool.path}: unknown spool entry")
            except (StorageError, OSError) as exc:
                log.info("spool_replay_deferred", pending=len(entries), error=str(exc))
                return 0
            await self.spool.clear()
            self._spool_has_entries = False
            log.info("spool_replayed", updates=len(entries))
            return len(entries)

    async def replay_forever(self, interval: float = 5.0) -> None:
        """Background loop: retry the spool every ``interval`` seconds while it has entries."""
        while True:
            await anyio.sleep(interval)
            if self._spool_has_entries or self._spool_has_entries is None:
                await self.replay()
