"""The embedded SQLite store: the default, so a fresh clone runs with no server.

One connection per store, used from a worker thread so the event loop never
waits for another process's lock or a long transaction; a single capture, a
fraction of a millisecond of work, runs on the loop's own thread when the
connection and the lock are free (see ``SqliteStore._run``). Every operation
runs as a single ``BEGIN IMMEDIATE``
transaction: SQLite then holds the write lock from the first read, so the
read-modify-write steps of capture (version numbering, chain appends) are atomic
against other tasks *and* other processes using the same file.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import TypeVar, cast

import anyio
import anyio.to_thread

from superbrain_core import jsonutil
from superbrain_core import search as search_text
from superbrain_core.errors import (
    ConfigError,
    PermanentStorageError,
    StorageError,
    TransientStorageError,
)
from superbrain_core.logs import get_logger
from superbrain_core.models import (
    BatchRun,
    BotResponse,
    BotResponseIn,
    CaptureResult,
    FileStatus,
    ImportedMessage,
    ImportResult,
    JSONDict,
    MessageChain,
    NormalizedUpdate,
    Placement,
    PlacementResult,
    RawFile,
    RawMessage,
    RawUpdate,
    RoutingEntry,
    StoreStats,
    UpdateConflict,
    WorkContext,
    WorkFailure,
    WorkItem,
    WorkProblem,
)
from superbrain_core.records import TABLES as ROUTING_TABLES
from superbrain_core.search import SearchHit
from superbrain_core.storage.base import (
    CaptureOptions,
    MessageFilter,
    Store,
    business_chat_key,
)
from superbrain_core.storage.run_lock import DEFAULT_RUN_LOCK_TTL, RunLock, file_lock
from superbrain_core.storage.sqlite import outbox, reads, work
from superbrain_core.storage.sqlite import search as sqlite_search
from superbrain_core.storage.sqlite.batch_capture import capture_batch
from superbrain_core.storage.sqlite.capture import capture_one, insert_bot_response
from superbrain_core.storage.sqlite.chains import chain_id_of_message
from superbrain_core.storage.sqlite.connection import (
    BUSY_TIMEOUT_MS,
    Checkpointer,
    connect,
    is_in_memory,
    sqlite_path_from_url,
)
from superbrain_core.storage.sqlite.outbox import OutboxMethods
from superbrain_core.storage.sqlite.rows import bot_response as _bot_response
from superbrain_core.storage.sqlite.rows import chain as _chain
from superbrain_core.storage.sqlite.rows import dt as _dt
from superbrain_core.storage.sqlite.rows import raw_file as _raw_file
from superbrain_core.storage.sqlite.rows import raw_message as _raw_message
from superbrain_core.storage.sqlite.rows import raw_update as _raw_update
from superbrain_core.storage.sqlite.rows import ts as _ts
from superbrain_core.storage.sqlite.rows import update_conflict as _update_conflict
from superbrain_core.storage.sqlite.rows import utcnow as _now

T = TypeVar("T")

#: Writes of at most this many items may run on the event loop's thread (see ``_run``).
SHORT_WRITE = 4
#: What :meth:`SqliteStore._transaction` returns when the write lock is taken.
_BUSY = object()

TABLES = (
    "raw_updates",
    "update_conflicts",
    "raw_messages",
    "raw_files",
    "bot_responses",
    "message_chains",
    *ROUTING_TABLES,
    "routing_log",
    "batch_runs",
)


class SqliteStore(OutboxMethods, Store):
    """:class:`Store` on a SQLite file (or ``:memory:``)."""

    backend = "sqlite"

    def __init__(
        self, path: str | Path, *, synchronous: str = "NORMAL", read_only: bool = False
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        #: The database file's absolute path, for messages (``:memory:`` as is).
        self.where = self.path if is_in_memory(self.path) else str(Path(self.path).resolve())
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigError(f"unknown SQLite synchronous mode {synchronous!r}")
        self._synchronous = synchronous.upper()
        self._conn: sqlite3.Connection | None = None
        # One connection, one thread at a time: SQLite connections are not
        # safe for concurrent use, and a single writer is SQLite's model anyway.
        self._limiter = anyio.CapacityLimiter(1)
        self._checkpointer: Checkpointer | None = None
        self._inline_writes = self._synchronous in {"OFF", "NORMAL"} and not read_only

    @classmethod
    def from_url(
        cls, url: str, *, default_synchronous: str = "NORMAL", read_only: bool = False
    ) -> SqliteStore:
        path = sqlite_path_from_url(url)
        query = url.split("?", 1)[1] if "?" in url else ""
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        synchronous = params.get("synchronous", default_synchronous)
        return cls(path, synchronous=synchronous, read_only=read_only)

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> None:
        if self._conn is not None:
            return
        await anyio.to_thread.run_sync(self._open_sync, limiter=self._limiter)

    def _open_sync(self) -> None:
        self._conn = connect(self.path, self._synchronous, read_only=self.read_only)
        if not is_in_memory(self.path) and not self.read_only:
            self._checkpointer = Checkpointer(self.path)
            self._checkpointer.start()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        checkpointer, self._checkpointer = self._checkpointer, None
        if conn is None:
            return

        def shut() -> None:
            if checkpointer is not None:
                checkpointer.stop()
                try:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.Error as exc:
                    # Another connection still reads; the WAL stays valid and
                    # the next opener checkpoints it. Nothing is lost.
                    get_logger(__name__).debug("sqlite_final_checkpoint_skipped", error=str(exc))
            conn.close()

        await anyio.to_thread.run_sync(shut, limiter=self._limiter)

    # -- plumbing --------------------------------------------------------------

    async def _run(
        self, fn: Callable[[sqlite3.Connection], T], *, write: bool, short: bool = False
    ) -> T:
        """Run ``fn`` in the store's thread, inside one transaction.

        ``short``: a write of a few rows (one live capture) runs right here on the
        event loop's thread when the connection is idle and no other process holds
        the write lock. Handing it to a worker thread and back costs more than the
        write itself (measured on a busy 2-core machine: the transaction takes
        0.07 ms at the median and 0.24 ms at p99, the round trip through the
        thread 0.2 ms at the median and 2-5 ms at p99, waiting for the scheduler
        to run the woken threads). It never waits here: a busy lock or connection
        sends it to the thread as before. Not with ``synchronous=FULL``/``EXTRA``,
        whose commits wait for the disk.
        """
        if self._conn is None:
            raise StorageError(
                "store is not open (use `async with store:` or `await store.open()`)"
            )
        conn = self._conn
        if short and write and self._inline_writes:
            try:
                self._limiter.acquire_nowait()
            except anyio.WouldBlock:
                pass
            else:
                try:
                    inline = self._transaction(conn, fn, write=True, wait=False)
                finally:
                    self._limiter.release()
                if inline is not _BUSY:
                    return cast(T, inline)
        return await anyio.to_thread.run_sync(
            lambda: cast(T, self._transaction(conn, fn, write=write, wait=True)),
            limiter=self._limiter,
        )

    def _transaction(
        self,
        conn: sqlite3.Connection,
        fn: Callable[[sqlite3.Connection], T],
        *,
        write: bool,
        wait: bool,
    ) -> T | object:
        """``fn`` in one transaction, SQLite errors mapped to ours. ``wait=False``: when
        another connection holds the write lock, :data:`_BUSY` at once instead of
        waiting up to the busy timeout."""
        try:
            if wait:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            else:
                conn.execute("PRAGMA busy_timeout=0")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        return _BUSY
                    raise
                finally:
                    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT: a connection left inside a
                # transaction would refuse every later BEGIN.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if write and self._checkpointer is not None:
                self._checkpointer.note_write()
            return result
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise TransientStorageError(f"SQLite busy: {exc}") from exc
            raise StorageError(f"SQLite error: {exc}") from exc
        except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
            raise PermanentStorageError(f"SQLite refused the data: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"SQLite error: {exc}") from exc

    # -- capture ---------------------------------------------------------------

    async def capture_many(
        self, updates: Sequence[NormalizedUpdate], options: CaptureOptions | None = None
    ) -> list[CaptureResult]:
        return cast(list[CaptureResult], await self.write_batch(updates, options))

    async def record_bot_response(self, response: BotResponseIn) -> BotResponse:
        (recorded,) = await self.record_bot_responses([response])
        return recorded

    async def record_bot_responses(self, responses: Sequence[BotResponseIn]) -> list[BotResponse]:
        return cast(list[BotResponse], await self.write_batch(responses))

    async def write_batch(
        self,
        items: Sequence[NormalizedUpdate | BotResponseIn],
        options: CaptureOptions | None = None,
    ) -> list[CaptureResult | BotResponse]:
        """Every write of this store goes through here: one transaction for all items."""
        if not items:
            return []
        opts = options or CaptureOptions()

        def write(conn: sqlite3.Connection) -> list[CaptureResult | BotResponse]:
            now = _ts(_now())
            captures = [item for item in items if isinstance(item, NormalizedUpdate)]
            if len(captures) == len(items):
                # Updates only (every capture and ingest): plainly new ones set-wise.
                return list(capture_batch(conn, captures, opts, now))
            return [
                insert_bot_response(conn, item)
                if isinstance(item, BotResponseIn)
                else capture_one(conn, item, opts, now)
                for item in items
            ]

        return await self._run(write, write=True, short=len(items) <= SHORT_WRITE)

    async def import_messages(
        self, messages: Sequence[ImportedMessage], options: CaptureOptions | None = None
    ) -> ImportResult:
        """One transaction per call; see :mod:`superbrain_core.storage.sqlite.importing`."""
        from superbrain_core.storage.sqlite import importing as sqlite_import

        if not messages:
            return ImportResult(())
        opts = options or CaptureOptions(source="desktop_export")
        ids = await self._run(
            lambda c: sqlite_import.import_batch(c, messages, opts, _ts(_now()) or ""),
            write=True,
        )
        return ImportResult(tuple(ids))

    async def stored_message_keys(self, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        from superbrain_core.storage.sqlite import importing as sqlite_import

        if not keys:
            return set()
        return await self._run(lambda c: sqlite_import.stored_keys(c, keys), write=False)

    # -- reads -----------------------------------------------------------------

    async def get_update(self, update_id: int, *, bot_id: int = 0) -> RawUpdate | None:
        def read(conn: sqlite3.Connection) -> RawUpdate | None:
            row = conn.execute(
                "SELECT * FROM raw_updates WHERE bot_id = ? AND update_id = ?",
                (bot_id, update_id),
            ).fetchone()
            return _raw_update(row) if row else None

        return await self._run(read, write=False)

    async def update_conflicts(
        self, *, after_id: int = 0, limit: int = 1000
    ) -> list[UpdateConflict]:
        def read(conn: sqlite3.Connection) -> list[UpdateConflict]:
            rows = conn.execute(
                "SELECT * FROM update_conflicts WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
            return [_update_conflict(r) for r in rows]

        return await self._run(read, write=False)

    async def business_chat_id(self, business_connection_id: str, chat_id: int) -> int | None:
        def read(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT id FROM business_connections WHERE business_connection_id = ?",
                (business_connection_id,),
            ).fetchone()
            return business_chat_key(int(row[0]), chat_id) if row is not None else None

        return await self._run(read, write=False)

    async def message_versions(self, chat_id: int, message_id: int) -> list[RawMessage]:
        def read(conn: sqlite3.Connection) -> list[RawMessage]:
            rows = conn.execute(
                "SELECT * FROM raw_messages WHERE chat_id = ? AND message_id = ? ORDER BY version",
                (chat_id, message_id),
            ).fetchall()
            return [_raw_message(r) for r in rows]

        return await self._run(read, write=False)

    async def get_chain(self, chain_id: str) -> MessageChain | None:
        def read(conn: sqlite3.Connection) -> MessageChain | None:
            row = conn.execute(
                "SELECT * FROM message_chains WHERE chain_id = ?", (chain_id,)
            ).fetchone()
            return _chain(row) if row else None

        return await self._run(read, write=False)

    async def chain_of(self, chat_id: int, message_id: int) -> MessageChain | None:
        def read(conn: sqlite3.Connection) -> MessageChain | None:
            chain_id = chain_id_of_message(conn, chat_id, message_id)
            if chain_id is None:
                return None
            row = conn.execute(
                "SELECT * FROM message_chains WHERE chain_id = ?", (chain_id,)
            ).fetchone()
            return _chain(row) if row else None

        return await self._run(read, write=False)

    async def get_file(self, file_row_id: int) -> RawFile | None:
        def read(conn: sqlite3.Connection) -> RawFile | None:
            row = conn.execute("SELECT * FROM raw_files WHERE id = ?", (file_row_id,)).fetchone()
            return _raw_file(row) if row else None

        return await self._run(read, write=False)

    async def files_of_message(self, chat_id: int, message_id: int) -> list[RawFile]:
        def read(conn: sqlite3.Connection) -> list[RawFile]:
            rows = conn.execute(
                "SELECT * FROM raw_files WHERE chat_id = ? AND message_id = ? ORDER BY id",
                (chat_id, message_id),
            ).fetchall()
            return [_raw_file(r) for r in rows]

        return await self._run(read, write=False)

    async def list_files(
        self, *, status: FileStatus | None = None, limit: int = 1000, after_id: int = 0
    ) -> list[RawFile]:
        def read(conn: sqlite3.Connection) -> list[RawFile]:
            if status is None:
                rows = conn.execute(
                    "SELECT * FROM raw_files WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM raw_files WHERE status = ? AND id > ? ORDER BY id LIMIT ?",
                    (status.value, after_id, limit),
                ).fetchall()
            return [_raw_file(r) for r in rows]

        return await self._run(read, write=False)

    async def set_file_status(
        self,
        file_row_id: int,
        status: FileStatus,
        *,
        file_hash: str | None = None,
        file_path: str | None = None,
        reason: str | None = None,
    ) -> None:
        def write(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE raw_files SET status = ?, file_hash = coalesce(?, file_hash),"
                " file_path = coalesce(?, file_path), download_reason = ? WHERE id = ?",
                (status.value, file_hash, file_path, reason, file_row_id),
            )
            if cur.rowcount != 1:
                raise StorageError(f"no raw_files row with id {file_row_id}")

        await self._run(write, write=True)

    async def bot_responses(self, chat_id: int) -> list[BotResponse]:
        def read(conn: sqlite3.Connection) -> list[BotResponse]:
            rows = conn.execute(
                "SELECT * FROM bot_responses WHERE chat_id = ? ORDER BY id", (chat_id,)
            ).fetchall()
            return [_bot_response(r) for r in rows]

        return await self._run(read, write=False)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone(), write=False)

    async def last_batch_run(self) -> BatchRun | None:
        def read(conn: sqlite3.Connection) -> BatchRun | None:
            row = conn.execute("SELECT * FROM batch_runs ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                return None
            return BatchRun(
                id=row["id"],
                started_at=_dt(row["started_at"]) or _now(),
                finished_at=_dt(row["finished_at"]),
                status=row["status"],
                classifier=row["classifier"],
                counts=jsonutil.loads(row["counts"]) or {},
                digest=row["digest"],
            )

        return await self._run(read, write=False)

    async def stats(self) -> StoreStats:
        def read(conn: sqlite3.Connection) -> StoreStats:
            tables = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            types = dict(
                conn.execute(
                    "SELECT message_type, count(*) FROM raw_messages"
                    " GROUP BY message_type ORDER BY count(*) DESC, message_type"
                ).fetchall()
            )
            statuses = dict(
                conn.execute(
                    "SELECT status, count(*) FROM raw_files GROUP BY status ORDER BY status"
                ).fetchall()
            )
            return StoreStats(tables=tables, message_types=types, file_statuses=statuses)

        return await self._run(read, write=False)

    # -- the analyzer ------------------------------------------------------------

    async def claim_work(
        self, worker: str, *, limit: int, lease_until: datetime, now: datetime
    ) -> list[WorkItem]:
        return await self._run(
            lambda c: work.claim(c, worker, limit, _ts(now) or "", _ts(lease_until) or ""),
            write=True,
        )

    async def peek_work(
        self,
        *,
        after_id: int,
        limit: int,
        now: datetime,
        reclassify: tuple[str, str] | None = None,
    ) -> list[WorkItem]:
        return await self._run(
            lambda c: work.peek(c, after_id, limit, _ts(now) or "", reclassify), write=False
        )

    async def pending_work(self, *, now: datetime) -> int:
        return await self._run(lambda c: work.pending_count(c, _ts(now) or ""), write=False)

    async def load_work_contexts(
        self, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], WorkContext]:
        return await self._run(lambda c: work.load_contexts(c, keys), write=False)

    async def apply_placements(
        self, placements: Sequence[Placement], *, run_id: int | None
    ) -> list[PlacementResult]:
        if not placements:
            return []
        return await self._run(
            lambda c: work.apply(c, placements, run_id, _ts(_now()) or ""), write=True
        )

    async def record_work_failures(self, failures: Sequence[WorkFailure]) -> None:
        if failures:
            await self._run(
                lambda c: work.record_failures(c, failures, _ts(_now()) or ""), write=True
            )

    async def extend_claims(
        self, worker: str, *, lease_until: datetime, now: datetime | None = None
    ) -> int:
        def beat(c: sqlite3.Connection) -> int:
            outbox.heartbeat(c, worker, _ts(now or _now()) or "")
            return work.extend_claims(c, worker, _ts(lease_until) or "")

        return await self._run(beat, write=True)

    async def release_claims(self, worker: str) -> int:
        return await self._run(lambda c: work.release_claims(c, worker), write=True)

    async def requeue_for_reclassify(self, classifier: str, version: str) -> int:
        return await self._run(
            lambda c: work.requeue_for_reclassify(c, classifier, version), write=True
        )

    async def requeue_quarantined(self) -> int:
        return await self._run(work.requeue_quarantined, write=True)

    async def work_problems(self, *, limit: int = 100) -> list[WorkProblem]:
        return await self._run(lambda c: work.work_problems(c, limit), write=False)

    def run_lock(
        self, name: str, holder: str, *, ttl: float = DEFAULT_RUN_LOCK_TTL
    ) -> AbstractAsyncContextManager[RunLock]:
        """A file lock beside the database: the OS frees it if the process dies.

        An in-memory database gets a lock file of its own in the temp directory,
        which still keeps two runs in one process apart.
        """
        private = self.path == ":memory:" or self.path.startswith("file::memory:")
        if private:
            base = Path(tempfile.gettempdir()) / f"superbrain-memory-{os.getpid()}-{id(self)}"
        else:
            base = Path(self.path)
        return file_lock(base.with_name(f"{base.name}.{name}.lock"), name, holder, private=private)

    async def start_batch_run(self, classifier: str, version: str, worker: str) -> int:
        return await self._run(
            lambda c: work.start_run(c, classifier, version, worker, _ts(_now()) or ""),
            write=True,
        )

    async def finish_batch_run(
        self, run_id: int, *, status: str, counts: JSONDict, digest: str
    ) -> None:
        await self._run(
            lambda c: work.finish_run(c, run_id, status, counts, digest, _ts(_now()) or ""),
            write=True,
        )

    async def routing_history(self, chat_id: int, message_id: int) -> list[RoutingEntry]:
        return await self._run(lambda c: work.routing_history(c, chat_id, message_id), write=False)

    async def list_records(
        self, table: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[JSONDict]:
        return await self._run(lambda c: work.list_records(c, table, after_id, limit), write=False)

    async def set_task_status(self, record_id: int, status: str) -> bool:
        return await self._run(
            lambda c: work.set_task_status(c, record_id, status, _ts(_now()) or ""), write=True
        )

    # -- exploration (sqlite_reads) -------------------------------------------

    async def list_messages(
        self, where: MessageFilter | None = None, *, after_id: int = 0, limit: int = 1000
    ) -> list[RawMessage]:
        wanted = where or MessageFilter()
        return await self._run(
            lambda c: reads.list_messages(c, wanted, after_id, limit), write=False
        )

    async def list_chains(
        self, *, chat_id: int | None = None, after: str | None = None, limit: int = 1000
    ) -> list[MessageChain]:
        return await self._run(lambda c: reads.list_chains(c, chat_id, after, limit), write=False)

    async def list_routing(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        run_id: int | None = None,
        chat_id: int | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[RoutingEntry]:
        return await self._run(
            lambda c: reads.list_routing(c, since, until, run_id, chat_id, after_id, limit),
            write=False,
        )

    async def list_batch_runs(self, *, after_id: int = 0, limit: int = 1000) -> list[BatchRun]:
        return await self._run(lambda c: reads.list_batch_runs(c, after_id, limit), write=False)

    async def refresh_search_index(self) -> int:
        """Index every message written since the last search; how many there were.

        :meth:`search` calls it first, so results are always current; calling it
        when the store is idle takes that work off the next search
        (import-desktop refreshes the index when it finishes). See
        :mod:`.sqlite_search` for why capture does not index.
        """
        done = 0
        while await self._run(sqlite_search.pending, write=False):
            done += await self._run(
                lambda c: sqlite_search.refresh(c, sqlite_search.PER_CATCH_UP), write=True
            )
        return done

    async def search(
        self,
        query: str,
        *,
        limit: int = 50,
        chat_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        wanted = search_text.prepare(query, limit, since, until)
        read_only = False
        try:
            await self.refresh_search_index()
        except StorageError as exc:
            if not sqlite_search.is_read_only(exc):
                raise
            # A read-only file (say a copy for a notebook): the
            # queue cannot be drained, so the search matches it in Python.
            read_only = True
        return await self._run(
            lambda c: sqlite_search.search(
                c,
                wanted,
                limit=limit,
                chat_id=chat_id,
                since=since,
                until=until,
                read_only=read_only,
            ),
            write=False,
        )
