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

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from superbrain_core import jsonutil
from superbrain_core.capture import Capturer
from superbrain_core.errors import PermanentStorageError, StorageError, SuperbrainError
from superbrain_core.logs import get_logger
from superbrain_core.models import (
    BotResponse,
    BotResponseIn,
    CaptureOutcome,
    CaptureResult,
    NormalizedUpdate,
)
from superbrain_core.telegram import normalize_update

log = get_logger(__name__)

#: The spool and its rejected file hold private messages: owner read/write only.
_PRIVATE_FILE = 0o600


class CaptureUnavailableError(SuperbrainError):
    """Neither storage nor the spool could take the update: it is *not* persisted.

    The caller must not acknowledge the update (a webhook answers 5xx, polling
    does not advance its offset) so that Telegram delivers it again.
    """


class Spool:
    """Append-only, fsynced JSON Lines file of raw updates awaiting storage.

    Lines that cannot be replayed (not JSON, or refused by storage for a reason
    other than an outage) are moved to ``<spool>.rejected`` with the reason,
    so that one bad line never blocks everything queued behind it.

    Both files are 0600 through creation, replay and clearing, and a folder the
    spool creates is 0700: they hold private messages.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def rejected_path(self) -> Path:
        return self.path.with_name(self.path.name + ".rejected")

    @staticmethod
    def _private_folder(folder: Path) -> None:
        """Create ``folder`` (and missing parents) readable by this user only.

        A folder that already exists keeps its mode: it may be shared (``/tmp``)
        when ``SUPERBRAIN_SPOOL`` points there; the files in it are 0600 anyway.
        """
        missing: list[Path] = []
        while not folder.exists():
            missing.append(folder)
            if folder.parent == folder:
                break
            folder = folder.parent
        for created in reversed(missing):
            with contextlib.suppress(FileExistsError):
                created.mkdir(mode=0o700)
                # mkdir's mode is filtered by the umask; set it exactly.
                os.chmod(created, 0o700)

    @classmethod
    def _append_to(cls, path: Path, data: bytes) -> None:
        cls._private_folder(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, _PRIVATE_FILE)
        try:
            # The spool holds private messages: keep it 0600 even if it was
            # created by an older version, or copied in, with a wider mode.
            if os.fstat(fd).st_mode & 0o777 != _PRIVATE_FILE:
                os.fchmod(fd, _PRIVATE_FILE)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # The process died mid-append before: end that torn line so it
                # stays on its own (it is rejected on replay, never acknowledged).
                data = b"\n" + data
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)

    async def append(self, entry: dict[str, Any]) -> None:
        """Durably append one entry; returns only after it is on disk."""
        await self.append_many([entry])

    async def append_many(self, entries: list[dict[str, Any]]) -> None:
        """Durably append entries in order, with one fsync."""
        data = b"".join((jsonutil.dumps(e) + "\n").encode("utf-8") for e in entries)
        await anyio.to_thread.run_sync(self._append_to, self.path, data)

    async def reject(self, entry: Any, reason: str) -> None:
        """Set an entry aside, with why, in the rejected file (kept for a human)."""
        record = {"reason": reason, "entry": entry}
        data = (jsonutil.dumps(record) + "\n").encode("utf-8")
        await anyio.to_thread.run_sync(self._append_to, self.rejected_path, data)

    def _read_sync(self) -> list[Any]:
        """Entries in order; a line that is not JSON comes back as ``bytes``."""
        try:
            raw = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return []
        entries: list[Any] = []
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
                entries.append(bytes(line))
        return entries

    async def read(self) -> list[Any]:
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
        # old spool (replayed again; deduplicated) or an empty one; then sync
        # the directory so the replacement itself is durable.
        tmp = self.path.with_suffix(".empty")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE_FILE)
        try:
            os.fchmod(fd, _PRIVATE_FILE)  # an old leftover may have another mode
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def clear(self) -> None:
        await anyio.to_thread.run_sync(self._clear_sync)


@attrs.frozen
class CaptureReceipt:
    """Where an update went: stored (with the result) or spooled for later."""

    stored: bool
    result: CaptureResult | None = None

    @property
    def duplicate(self) -> bool:
        """Storage already had this update: it was delivered (and handled) before."""
        return self.result is not None and self.result.outcome is CaptureOutcome.DUPLICATE


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

    def __init__(
        self,
        capturer: Capturer,
        spool: Spool | None,
        *,
        max_batch: int = 256,
        on_stored: Callable[[Sequence[CaptureResult | BotResponse]], None] | None = None,
    ) -> None:
        self.capturer = capturer
        self.spool = spool
        self.max_batch = max_batch
        #: Called with what reached storage (directly or on replay), e.g. to queue files.
        self.on_stored = on_stored
        self._lock = anyio.Lock()
        self._queue: list[_Pending] = []
        self._spool_has_entries: bool | None = None
        #: When the spool last went from empty to holding entries (monotonic), and
        #: why its last replay stopped: what ``/readyz`` reports as a stuck spool.
        self._spooled_at: float | None = None
        self.last_replay_error: str | None = None

    def spool_backlog_age(self) -> float | None:
        """Seconds the spool has held entries without draining; ``None`` when empty."""
        if not self._spool_has_entries or self._spooled_at is None:
            return None
        return time.monotonic() - self._spooled_at

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
                # Shielded: cancelling the caller that happens to lead must not
                # abandon the records of other callers batched with its own.
                with anyio.CancelScope(shield=True):
                    # Let callers that are already running (and requests already
                    # received) join this batch: two turns of the event loop.
                    await anyio.lowlevel.checkpoint()
                    await anyio.lowlevel.checkpoint()
                    await self._drain()
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result

    async def _drain(self) -> None:
        """Commit everything queued. Call with the lock held; returns with an empty queue."""
        while self._queue:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        """Write a batch in order: to storage in one unit, else all of it to the spool."""
        try:
            if self._spool_has_entries is None and self.spool is not None:
                self._spool_has_entries = await self.spool.pending()
                if self._spool_has_entries:
                    self._spooled_at = time.monotonic()
            stored = False
            if not self._spool_has_entries:
                try:
                    results = await self.capturer.store.write_batch(
                        [p.work for p in batch], self.capturer.options
                    )
                except (StorageError, OSError) as exc:
                    log.warning("storage_unavailable_spooling", error=str(exc), records=len(batch))
                except Exception:
                    # Not an outage but a fault: keep the records (the spool
                    # sets aside what storage keeps refusing) rather than drop them.
                    log.exception("storage_write_failed_spooling", records=len(batch))
                else:
                    for pending, result in zip(batch, results, strict=True):
                        pending.result = result
                    stored = True
                    if self.on_stored is not None:
                        self.on_stored(results)
            if not stored:
                await self._spool_entries(batch)
        except Exception as exc:
            for pending in batch:
                pending.error = exc
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
        if not self._spool_has_entries or self._spooled_at is None:
            self._spooled_at = time.monotonic()
        self._spool_has_entries = True

    async def replay(self) -> int:
        """Store every spooled entry in order, then empty the spool.

        Returns how many entries were replayed (0 when storage is still down or
        the spool is empty). Safe to repeat: capture is idempotent. Entries that
        storage refuses for a reason other than an outage, and lines that are
        not JSON, are moved to the rejected file instead of blocking the rest.
        """
        if self.spool is None:
            return 0
        replayed = 0
        async with self._lock:
            with anyio.CancelScope(shield=True):
                try:
                    replayed = await self._replay_locked(self.spool)
                finally:
                    # Records that arrived during the replay have no leader: commit them.
                    await self._drain()
        return replayed

    async def _replay_locked(self, spool: Spool) -> int:
        entries = await spool.read()
        if not entries:
            self._spool_has_entries = False
            self._spooled_at = None
            return 0
        if self._spooled_at is None:
            self._spooled_at = time.monotonic()
            self._spool_has_entries = True
        store = self.capturer.store
        for entry in entries:
            try:
                if isinstance(entry, dict) and "update" in entry:
                    results: list[Any] = [await self.capturer.capture(entry["update"])]
                elif isinstance(entry, dict) and "bot_response" in entry:
                    record = BotResponseIn.from_json(entry["bot_response"])
                    results = [await store.record_bot_response(record)]
                else:
                    raise ValueError("not a spool entry")
            except PermanentStorageError as exc:
                # Refused for what it holds, on any backend: it would block the
                # spool forever, so it is set aside like any other poison entry.
                await self._set_aside(spool, entry, f"refused by storage: {exc}")
                continue
            except (StorageError, OSError) as exc:
                self.last_replay_error = str(exc)
                log.info("spool_replay_deferred", pending=len(entries), error=str(exc))
                return 0
            except Exception as exc:  # a poison entry: set it aside, keep going
                await self._set_aside(spool, entry, f"{type(exc).__name__}: {exc}")
                continue
            if self.on_stored is not None:
                self.on_stored(results)
        await spool.clear()
        self._spool_has_entries = False
        self._spooled_at = None
        self.last_replay_error = None
        log.info("spool_replayed", entries=len(entries))
        return len(entries)

    async def _set_aside(self, spool: Spool, entry: Any, reason: str) -> None:
        raw = entry.decode("utf-8", "replace") if isinstance(entry, bytes) else entry
        await spool.reject(raw, reason)
        log.error("spool_entry_rejected", reason=reason, rejected=str(spool.rejected_path))

    async def replay_forever(self, interval: float = 5.0) -> None:
        """Background loop: retry the spool every ``interval`` seconds while it has entries."""
        while True:
            await anyio.sleep(interval)
            if self._spool_has_entries or self._spool_has_entries is None:
                try:
                    await self.replay()
                except Exception:
                    log.exception("spool_replay_failed")
