"""A local durable spool for updates that could not reach storage.

When the database is down the bot must still acknowledge Telegram (or Telegram
retries, then gives up after a while) without losing the update. The spool is
an append-only JSON Lines file, fsynced on every append, so an acknowledged
update survives a crash of the process. :class:`DurableCapture` writes through
to storage when it can, to the spool when it cannot, and replays the spool in
order (deduplicated by ``update_id``) once storage answers again.

Order is kept: while the spool holds anything, new updates are appended behind
it rather than stored directly, so an edit is never stored before its original.

The same file is the bot's write-ahead log under load: while storage is busy,
records are acknowledged once a group-committed append is fsynced, and a
background mover stores them in large batches (see :class:`DurableCapture`).
Profiled on bench/webhook.py (4,000 updates at concurrency 64), the
acknowledgement had waited for a storage transaction plus the worker-thread
hop and event-loop turns around it, 50-100 ms under load; a spool append costs
one ``write`` and one ``fsync`` per batch on a dedicated thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
        await self.append_lines([(jsonutil.dumps(e) + "\n").encode("utf-8") for e in entries])

    async def append_lines(self, lines: list[bytes]) -> None:
        """Durably append encoded entries (each ending in a newline), with one fsync."""
        await anyio.to_thread.run_sync(self._append_to, self.path, b"".join(lines))

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

    def rewrite_sync(self, lines: list[bytes]) -> None:
        """Replace the spool with ``lines`` (durably; empty: cleared), as one step.

        The new content is written and fsynced beside the spool before it
        replaces it, so a crash leaves the old spool or the new one, never less.
        """
        if not lines:
            self._clear_sync()
            return
        tmp = self.path.with_suffix(".rewrite")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE_FILE)
        try:
            os.fchmod(fd, _PRIVATE_FILE)
            view = memoryview(b"".join(lines))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@attrs.frozen
class CaptureReceipt:
    """Where an update went: stored (with the result), or spooled.

    ``later`` is set when the update was acknowledged from the spool while
    storage was busy: it resolves to the storage result once the background
    mover has stored it (``None`` if it stays in the spool for a replay).
    """

    stored: bool
    result: CaptureResult | None = None
    later: asyncio.Future[CaptureResult | BotResponse | None] | None = None

    @property
    def duplicate(self) -> bool:
        """Storage already had this update: it was delivered (and handled) before."""
        return self.result is not None and self.result.outcome is CaptureOutcome.DUPLICATE


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@attrs.define(eq=False)
class _Pending:
    """One record on its way to storage: through a group commit, or through the spool."""

    work: NormalizedUpdate | BotResponseIn
    #: Its spool line when the caller has it already (the webhook's request body).
    line: bytes | None = None
    #: Set once the record is persisted (stored, or fsynced in the spool).
    done: asyncio.Future[None] = attrs.field(factory=lambda: _loop().create_future())
    #: Write-ahead records only: the storage result once moved (``None``: left spooled).
    stored: asyncio.Future[CaptureResult | BotResponse | None] | None = None
    result: CaptureResult | BotResponse | None = None
    error: BaseException | None = None

    def spool_entry(self) -> dict[str, Any]:
        """Its spool form, built only when spooled: ``{"update": …}`` or ``{"bot_response": …}``."""
        if isinstance(self.work, BotResponseIn):
            return {"bot_response": self.work.to_json()}
        return {"update": self.work.payload}

    def spool_line(self) -> bytes:
        if self.line is None:
            self.line = (jsonutil.dumps(self.spool_entry()) + "\n").encode("utf-8")
        return self.line

    def finish(self, error: BaseException | None = None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.error = error
            self.done.set_exception(error)
            # A caller that was cancelled meanwhile never retrieves it: no warning.
            self.done.exception()

    def settle(self, result: CaptureResult | BotResponse | None) -> None:
        if self.stored is not None and not self.stored.done():
            self.stored.set_result(result)


def spool_line_for_body(body: bytes) -> bytes | None:
    """The spool line of an update from its request body verbatim, when that is safe.

    Saves encoding the parsed update again: the body is wrapped as
    ``{"update": <body>}``. Only for a UTF-8 body (no byte-order mark) on one
    line; anything else is encoded from the parsed value when it is spooled.
    """
    # UTF-8 JSON has no NUL byte (a NUL in text is escaped); UTF-16 and UTF-32 do.
    if body[:1] != b"{" or b"\n" in body or b"\r" in body or b"\x00" in body:
        return None
    return b'{"update":' + body + b"}\n"


class DurableCapture:
    """Capture that never drops an update it acknowledged, nor a reply the bot sent.

    ``capture`` (and ``record_bot_response``) return once the record is in
    storage or in the spool, and raise :class:`CaptureUnavailableError` when it
    is in neither. Spool entries are ``{"update": payload}`` or
    ``{"bot_response": record}``, replayed in the order they were written.

    Two paths, one order:

    * **Group commit** (storage idle): the first caller writes everything
      queued behind it in one storage transaction, and each caller waits for
      its own record to be stored. This is what a quiet bot and every
      sequential caller sees: acknowledged means stored.
    * **Write-ahead** (storage busy: a commit, a move or a spool write is in
      flight): records are appended to the spool in one fsynced write per
      batch (a dedicated thread, no event-loop round trip to start it), which
      is what :meth:`accept` and :meth:`record_bot_response` wait for; a
      background mover then stores them in large batches, in order, and
      empties the spool once it has caught up. :meth:`capture` still waits for
      the storage result. Under load this takes the storage transaction, with
      its thread hops and the event-loop turns around them, off the
      acknowledgement: the webhook answers after a sequential append and an
      fsync (bench/webhook.py: docs/performance.md).

    Once a record takes the write-ahead path, every later one does too until
    the mover has caught up, so an edit is never stored before its original.
    A record the spool cannot take (disk full, unwritable folder) waits for
    the mover's storage result instead, and fails when storage fails too.
    """

    def __init__(
        self,
        capturer: Capturer,
        spool: Spool | None,
        *,
        max_batch: int = 256,
        move_batch: int = 2048,
        compact_after: int = 8 * 1024 * 1024,
        on_stored: Callable[[Sequence[CaptureResult | BotResponse]], None] | None = None,
    ) -> None:
        self.capturer = capturer
        self.spool = spool
        self.max_batch = max_batch
        #: Most records the mover stores in one transaction.
        self.move_batch = move_batch
        #: Spool bytes after which the mover rewrites the spool with only what it
        #: has not stored yet (a spool that never empties under steady load).
        self.compact_after = compact_after
        #: Called with what reached storage (directly or on replay), e.g. to queue files.
        self.on_stored = on_stored
        self._lock = anyio.Lock()
        self._queue: list[_Pending] = []
        self._spool_has_entries: bool | None = None
        #: When the spool last went from empty to holding entries (monotonic), and
        #: why its last replay stopped: what ``/readyz`` reports as a stuck spool.
        self._spooled_at: float | None = None
        self.last_replay_error: str | None = None
        # -- write-ahead state
        self._to_spool: list[_Pending] = []
        self._spool_writing = False
        #: Spool maintenance (clearing, compacting, replaying) in progress: no appends.
        self._spool_holds = 0
        self._writer_idle: list[asyncio.Future[None]] = []
        self._backlog: list[_Pending] = []
        self._mover: asyncio.Task[None] | None = None
        self._spool_bytes = 0
        self._executor: ThreadPoolExecutor | None = None

    def spool_backlog_age(self) -> float | None:
        """Seconds the spool has held entries without draining; ``None`` when empty."""
        if not self._spool_has_entries or self._spooled_at is None:
            return None
        return time.monotonic() - self._spooled_at

    async def capture(self, payload: dict[str, Any]) -> CaptureReceipt:
        """Persist one update and return where it went (stored: with the result)."""
        # Validate first: something that is not an update is refused before it
        # can reach the spool, where it would block every replay behind it.
        update = normalize_update(payload)
        pending = _Pending(update)
        await self._submit(pending)
        if pending.stored is not None:
            result = await asyncio.shield(pending.stored)
        else:
            result = pending.result
        assert result is None or isinstance(result, CaptureResult)
        return CaptureReceipt(result is not None, result)

    async def accept(self, payload: dict[str, Any], line: bytes | None = None) -> CaptureReceipt:
        """Persist one update and return as soon as it is durable (what a webhook answers on).

        ``line``: its spool line, when the caller can give it without encoding
        (:func:`spool_line_for_body`). When the update went through the spool,
        ``later`` resolves to its storage result.
        """
        update = normalize_update(payload)
        pending = _Pending(update, line)
        await self._submit(pending, start_write_ahead=True)
        if pending.stored is not None:
            return CaptureReceipt(False, None, pending.stored)
        result = pending.result
        assert result is None or isinstance(result, CaptureResult)
        return CaptureReceipt(result is not None, result)

    async def record_bot_response(self, response: BotResponseIn) -> BotResponse | None:
        """Record what the bot sent; ``None`` when it went to the spool instead."""
        pending = _Pending(response)
        await self._submit(pending)
        result = pending.result
        assert result is None or isinstance(result, BotResponse)
        return result

    def _write_ahead(self, start: bool) -> bool:
        """Whether a new record goes through the spool: storage is busy and the
        caller answers on durability (``start``: :meth:`accept`), or records already
        on that path are not stored yet (they must stay ahead of it).

        Only :meth:`accept` opens the path: a bot that captures one update at a
        time (polling, embedding code) keeps the group commit's behaviour exactly,
        replies included."""
        if self.spool is None or self._spool_has_entries is None:
            # Whether the spool holds entries from before (a restart) is not known
            # yet: the group commit finds out first.
            return False
        if self._spool_holds and not self._backlog_pending():
            return False  # a replay: wait for it, then take the group commit
        return (
            (start and self._lock.locked())
            or self._backlog_pending()
            or bool(self._spool_has_entries and self._spooled_at is not None)
        )

    def _backlog_pending(self) -> bool:
        return bool(
            self._to_spool or self._spool_writing or self._backlog or self._mover is not None
        )

    async def _submit(self, pending: _Pending, *, start_write_ahead: bool = False) -> None:
        if self._write_ahead(start_write_ahead):
            pending.stored = asyncio.get_running_loop().create_future()
            self._to_spool.append(pending)
            self._kick_writer()
        else:
            self._queue.append(pending)
            if not self._lock.locked():
                async with self._lock:
                    # Shielded: cancelling the caller that happens to lead must not
                    # abandon the records of other callers batched with its own.
                    with anyio.CancelScope(shield=True):
                        await self._drain()
        await asyncio.shield(pending.done)

    # -- write-ahead: spool writer ------------------------------------------------

    def _kick_writer(self) -> None:
        """Start the next spool write if one is due and none is running."""
        if self._spool_writing or self._spool_holds or not self._to_spool:
            if not self._spool_writing:
                self._wake_writer_idle()
            return
        spool = self.spool
        batch, self._to_spool = self._to_spool, []
        if spool is None:  # the spool was taken away meanwhile: storage decides
            self._queue_for_mover(batch, spooled=False)
            return
        data = b"".join(p.spool_line() for p in batch)
        self._spool_writing = True
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="superbrain-spool")
        loop = asyncio.get_running_loop()
        written = loop.run_in_executor(self._executor, Spool._append_to, spool.path, data)
        written.add_done_callback(lambda f: self._written(batch, len(data), f))

    def _written(self, batch: list[_Pending], size: int, written: asyncio.Future[None]) -> None:
        self._spool_writing = False
        error = written.exception()
        if error is not None:
            log.warning("spool_append_failed", error=str(error), records=len(batch))
            # Not durable: these wait for storage (the mover) instead.
            self._queue_for_mover(batch, spooled=False)
        else:
            self._spool_bytes += size
            if self._spool_has_entries and self._spooled_at is not None:
                # Storage is out: the spool keeps them until a replay stores them.
                for pending in batch:
                    pending.finish()
                    pending.settle(None)
            else:
                self._queue_for_mover(batch, spooled=True)
        self._kick_writer()

    def _wake_writer_idle(self) -> None:
        waiters, self._writer_idle = self._writer_idle, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _until_writer_idle(self) -> None:
        while self._spool_writing or (self._to_spool and not self._spool_holds):
            waiter = asyncio.get_running_loop().create_future()
            self._writer_idle.append(waiter)
            await waiter

    # -- write-ahead: mover -----------------------------------------------------------

    def _queue_for_mover(self, batch: list[_Pending], *, spooled: bool) -> None:
        for pending in batch:
            if spooled:
                pending.finish()
        self._backlog.extend(batch)
        if self._mover is None:
            self._mover = asyncio.get_running_loop().create_task(self._move())

    async def _move(self) -> None:
        """Store the backlog in order, in large batches; empty the spool once caught up."""
        try:
            async with self._lock:
                with anyio.CancelScope(shield=True):
                    while self._backlog:
                        if self._spool_has_entries:
                            # Storage went out before these could be moved: they
                            # stay behind the spooled records, for the replay.
                            self._moving_failed(self._backlog, StorageError("storage is out"))
                            self._backlog.clear()
                            break
                        batch = self._backlog[: self.move_batch]
                        del self._backlog[: self.move_batch]
                        await self._move_batch(batch)
                        if self._backlog and self._spool_bytes > self.compact_after:
                            await self._rewrite_spool()
                        if not self._backlog:
                            await self._until_writer_idle()
                    if self._spool_bytes and not (
                        self._spool_has_entries and self._spooled_at is not None
                    ):
                        await self._rewrite_spool()
        finally:
            self._mover = None
            if self._backlog:  # queued while the mover was finishing
                self._mover = asyncio.get_running_loop().create_task(self._move())
            # Records held back while the mover ran take the group commit now.
            elif self._queue and not self._lock.locked():
                await self._lead_queue()

    async def _lead_queue(self) -> None:
        async with self._lock:
            with anyio.CancelScope(shield=True):
                await self._drain()

    async def _move_batch(self, batch: list[_Pending]) -> None:
        try:
            results = await self.capturer.store.write_batch(
                [p.work for p in batch], self.capturer.options
            )
        except BaseException as exc:
            if not isinstance(exc, Exception):  # interrupted: the spool keeps them
                self._moving_failed(batch + self._backlog, exc)
                self._backlog.clear()
                raise
            if isinstance(exc, StorageError | OSError):
                log.warning("storage_unavailable_spooling", error=str(exc), records=len(batch))
            else:
                log.exception("storage_write_failed_spooling", records=len(batch))
            self._moving_failed(batch + self._backlog, exc)
            self._backlog.clear()
            return
        for pending, result in zip(batch, results, strict=True):
            pending.result = result
            pending.finish()
            pending.settle(result)
        if self.on_stored is not None:
            self.on_stored(results)

    def _moving_failed(self, records: list[_Pending], exc: BaseException) -> None:
        """Storage refused the move: what is in the spool stays there for a replay."""
        unpersisted = [p for p in records if not p.done.done()]
        for pending in records:
            pending.settle(None)
        if unpersisted:
            error = CaptureUnavailableError(f"storage failed and the spool is not writable: {exc}")
            for pending in unpersisted:
                pending.finish(error)
        if len(unpersisted) < len(records):
            if not self._spool_has_entries or self._spooled_at is None:
                self._spooled_at = time.monotonic()
            self._spool_has_entries = True

    async def _rewrite_spool(self) -> None:
        """Leave in the spool only what is not stored yet (nothing once caught up)."""
        spool = self.spool
        self._spool_holds += 1
        try:
            await self._until_writer_idle()
            if spool is None:
                return
            keep = [p.spool_line() for p in self._backlog if p.done.done() and p.error is None]
            await anyio.to_thread.run_sync(spool.rewrite_sync, keep)
            self._spool_bytes = sum(len(line) for line in keep)
        except OSError as exc:
            # Harmless: the stored entries stay in the spool and a replay finds
            # them stored already. Tried again after the next batch.
            log.warning("spool_rewrite_failed", error=str(exc))
        finally:
            self._spool_holds -= 1
            self._kick_writer()

    async def flush(self) -> None:
        """Wait until every record accepted so far is in storage (or left spooled)."""
        while self._backlog_pending():
            await self._until_writer_idle()
            mover = self._mover
            if mover is not None:
                await asyncio.shield(mover)
            await anyio.lowlevel.checkpoint()

    # -- group commit ----------------------------------------------------------------

    async def _drain(self) -> None:
        """Commit everything queued. Call with the lock held; returns with an empty queue."""
        while self._queue:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        """Write a batch in order: to storage in one unit, else all of it to the spool."""
        error: BaseException | None = None
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
            error = exc
        except BaseException:
            # Interrupted (the process is going down): whatever happened to the
            # batch, its callers must not take it as persisted.
            error = CaptureUnavailableError("interrupted before it was persisted")
            raise
        finally:
            for pending in batch:
                pending.finish(error)

    async def _spool_entries(self, rest: list[_Pending]) -> None:
        if self.spool is None:
            raise CaptureUnavailableError("storage failed and no spool is configured")
        try:
            await self.spool.append_lines([p.spool_line() for p in rest])
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
        # No append may land between the replay's read and its clear; records
        # already accepted through the spool are stored (or left spooled) first.
        self._spool_holds += 1
        try:
            with anyio.CancelScope(shield=True):
                await self._until_writer_idle()
                while self._mover is not None:
                    await asyncio.shield(self._mover)
            async with self._lock:
                with anyio.CancelScope(shield=True):
                    try:
                        replayed = await self._replay_locked(self.spool)
                    finally:
                        # Records that arrived during the replay have no leader: commit them.
                        await self._drain()
        finally:
            self._spool_holds -= 1
            self._kick_writer()
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
        self._spool_bytes = 0
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
