"""The embedded SQLite store: the default, so a fresh clone runs with no server.

One connection per store, used from a worker thread so the event loop never
blocks on disk. Every operation runs as a single ``BEGIN IMMEDIATE``
transaction: SQLite then holds the write lock from the first read, so the
read-modify-write steps of capture (version numbering, chain appends) are atomic
against other tasks *and* other processes using the same file.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio
import anyio.to_thread

from superbrain_core import jsonutil
from superbrain_core import search as search_text
from superbrain_core.errors import ConfigError, StorageError, TransientStorageError
from superbrain_core.logs import get_logger
from superbrain_core.models import (
    BatchRun,
    BotResponse,
    BotResponseIn,
    CaptureOutcome,
    CaptureResult,
    ChainReply,
    FileDescriptor,
    FileStatus,
    ImportedMessage,
    ImportResult,
    JSONDict,
    MessageChain,
    NormalizedMessage,
    NormalizedUpdate,
    Placement,
    PlacementResult,
    RawFile,
    RawMessage,
    RawUpdate,
    RoutingEntry,
    StoreStats,
    WorkContext,
    WorkFailure,
    WorkItem,
    WorkProblem,
)
from superbrain_core.routing import TABLES as ROUTING_TABLES
from superbrain_core.search import SearchHit
from superbrain_core.storage import sqlite_reads as reads
from superbrain_core.storage import sqlite_search
from superbrain_core.storage import sqlite_work as work
from superbrain_core.storage.base import (
    CaptureOptions,
    MessageFilter,
    Store,
    initial_file_status,
    version_hash,
)
from superbrain_core.storage.run_lock import DEFAULT_RUN_LOCK_TTL, RunLock, file_lock
from superbrain_core.storage.sqlite_rows import (
    FILE_INSERT_COLUMNS,
    MESSAGE_INSERT_COLUMNS,
    file_values,
    message_values,
)
from superbrain_core.storage.sqlite_rows import bot_response as _bot_response
from superbrain_core.storage.sqlite_rows import chain as _chain
from superbrain_core.storage.sqlite_rows import dt as _dt
from superbrain_core.storage.sqlite_rows import raw_file as _raw_file
from superbrain_core.storage.sqlite_rows import raw_message as _raw_message
from superbrain_core.storage.sqlite_rows import raw_update as _raw_update
from superbrain_core.storage.sqlite_rows import ts as _ts
from superbrain_core.storage.sqlite_rows import utcnow as _now
from superbrain_core.telegram import EDIT_UPDATE_TYPES

SCHEMA_VERSION = 3
#: Script that brings the schema from version N-1 to N, applied in order.
_SCHEMA_SCRIPTS = {1: "sqlite_schema.sql", 2: "sqlite_schema_2.sql", 3: "sqlite_schema_3.sql"}
T = TypeVar("T")

TABLES = (
    "raw_updates",
    "raw_messages",
    "raw_files",
    "bot_responses",
    "message_chains",
    *ROUTING_TABLES,
    "routing_log",
    "batch_runs",
)


def sqlite_path_from_url(url: str) -> str:
    """The file path in a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(
            f"not a SQLite URL: expected sqlite:///PATH, got {url.split(':', 1)[0]}:…",
            variable="SUPERBRAIN_DB",
        )
    path = url[len("sqlite:///") :].split("?", 1)[0]
    if not path:
        raise ConfigError("SQLite URL has no path (sqlite:///PATH)", variable="SUPERBRAIN_DB")
    return path


class _Checkpointer:
    """Copies the write-ahead log back into the database file, off the capture path.

    SQLite's automatic checkpoint runs inside whichever commit crosses the
    threshold and fsyncs the database there: one capture in a few hundred then
    takes 10-30 ms instead of half a millisecond. Capture connections turn the
    automatic checkpoint off and this thread, on its own connection, runs
    ``PASSIVE`` checkpoints (which never block writers) after enough writes or
    after a quiet second. A failed checkpoint loses nothing: the WAL keeps the
    data and the next checkpoint tries again.
    """

    def __init__(self, path: str, *, every_writes: int = 100, interval: float = 1.0) -> None:
        self._path = path
        self._every = every_writes
        self._interval = interval
        self._writes = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._loop, name="superbrain-sqlite-checkpoint", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def note_write(self) -> None:
        self._writes += 1
        if self._writes >= self._every:
            self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
        try:
            while not self._stopping:
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._writes and not self._stopping:
                    self._writes = 0
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    except sqlite3.Error as exc:
                        get_logger(__name__).warning("sqlite_checkpoint_failed", error=str(exc))
        finally:
            conn.close()


class SqliteStore(Store):
    """:class:`Store` on a SQLite file (or ``:memory:``)."""

    backend = "sqlite"

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        self.path = str(path)
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigError(f"unknown SQLite synchronous mode {synchronous!r}")
        self._synchronous = synchronous.upper()
        self._conn: sqlite3.Connection | None = None
        # One connection, one thread at a time: SQLite connections are not
        # safe for concurrent use, and a single writer is SQLite's model anyway.
        self._limiter = anyio.CapacityLimiter(1)
        self._checkpointer: _Checkpointer | None = None

    @classmethod
    def from_url(cls, url: str, *, default_synchronous: str = "NORMAL") -> SqliteStore:
        path = sqlite_path_from_url(url)
        query = url.split("?", 1)[1] if "?" in url else ""
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        return cls(path, synchronous=params.get("synchronous", default_synchronous))

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> None:
        if self._conn is not None:
            return
        await anyio.to_thread.run_sync(self._open_sync, limiter=self._limiter)

    def _open_sync(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        conn.row_factory = sqlite3.Row
        in_memory = self.path == ":memory:" or self.path.startswith("file::memory:")
        conn.execute("PRAGMA journal_mode=WAL")
        if not in_memory:
            conn.execute("PRAGMA wal_autocheckpoint=0")  # see _Checkpointer
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-32000")  # 32 MB of page cache
        conn.execute("PRAGMA temp_store=MEMORY")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StorageError(
                f"{self.path} has schema version {version}; this superbrain_core "
                f"knows up to {SCHEMA_VERSION}. Upgrade the library."
            )
        if version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have upgraded.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    package = resources.files("superbrain_core.storage")
                    script = package.joinpath(_SCHEMA_SCRIPTS[step]).read_text(encoding="utf-8")
                    for statement in script.split(";\n"):
                        if statement.strip():
                            conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                conn.close()
                raise
        self._conn = conn
        if not in_memory:
            self._checkpointer = _Checkpointer(self.path)
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

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``fn`` in the store's thread, inside one transaction."""
        if self._conn is None:
            raise StorageError(
                "store is not open (use `async with store:` or `await store.open()`)"
            )
        conn = self._conn

        def call() -> T:
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
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
            except sqlite3.DatabaseError as exc:
                raise StorageError(f"SQLite error: {exc}") from exc

        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

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
            return [
                _record_bot_response(conn, item)
                if isinstance(item, BotResponseIn)
                else _capture_one(conn, item, opts, now)
                for item in items
            ]

        return await self._run(write, write=True)

    async def import_messages(
        self, messages: Sequence[ImportedMessage], options: CaptureOptions | None = None
    ) -> ImportResult:
        """One transaction per call; see :mod:`superbrain_core.storage.sqlite_import`."""
        from superbrain_core.storage import sqlite_import

        if not messages:
            return ImportResult(())
        opts = options or CaptureOptions(source="desktop_export")
        ids = await self._run(
            lambda c: sqlite_import.import_batch(c, messages, opts, _ts(_now()) or ""),
            write=True,
        )
        return ImportResult(tuple(ids))

    async def stored_message_keys(self, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        from superbrain_core.storage import sqlite_import

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
            chain_id = _chain_id_of_message(conn, chat_id, message_id)
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

    async def extend_claims(self, worker: str, *, lease_until: datetime) -> int:
        return await self._run(
            lambda c: work.extend_claims(c, worker, _ts(lease_until) or ""), write=True
        )

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


# -- capture, inside one transaction --------------------------------------------


def _capture_one(
    conn: sqlite3.Connection, update: NormalizedUpdate, opts: CaptureOptions, now: str | None
) -> CaptureResult:
    msg = update.message
    message_json = jsonutil.dumps(msg.raw) if msg is not None else None
    cur = conn.execute(
        "INSERT INTO raw_updates (bot_id, update_id, update_type, payload, received_at, source)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bot_id, update_id) DO NOTHING",
        (
            opts.bot_id,
            update.update_id,
            update.update_type,
            jsonutil.dumps_update(update.payload, update.update_type, message_json),
            now,
            opts.source,
        ),
    )
    if cur.rowcount == 0:
        return CaptureResult(update.update_id, update.update_type, CaptureOutcome.DUPLICATE)
    if msg is None or message_json is None:
        return CaptureResult(update.update_id, update.update_type, CaptureOutcome.NEW)
    is_edit = update.update_type in EDIT_UPDATE_TYPES
    edit_key = _ts(msg.edit_date)
    content = version_hash(msg)
    version = 1
    chain_id: str | None = None
    root_chain: str | None = None
    # The message's stored versions and, in the same round trip, a chain it is
    # already the root of (a reply to it arrived first: a replay, an import).
    for row in conn.execute(
        "SELECT id, version, chain_id,"
        " coalesce(edit_date, '') = coalesce(?3, '') AND content_hash = ?4 AS same"
        " FROM raw_messages WHERE chat_id = ?1 AND message_id = ?2"
        " UNION ALL SELECT NULL, 0, chain_id, 0 FROM message_chains"
        " WHERE chat_id = ?1 AND original_message_id = ?2",
        (msg.chat_id, msg.message_id, edit_key, content),
    ):
        if row[0] is None:
            root_chain = row[2]
            continue
        if row[3]:
            # A new update carrying a version we already hold (for example the
            # same edit captured by two routes): the raw update is kept, nothing else.
            return CaptureResult(
                update.update_id,
                update.update_type,
                CaptureOutcome.DUPLICATE,
                raw_message_id=row[0],
                version=row[1],
                chain_id=row[2],
            )
        version = max(version, row[1] + 1)
        chain_id = chain_id or row[2]
    if chain_id is None and msg.is_clarification and msg.reply_to_message_id is not None:
        chain_id = _resolve_chain(conn, msg, now)
    if chain_id is None:
        chain_id = root_chain
    cur = conn.execute(
        f"INSERT INTO raw_messages ({MESSAGE_INSERT_COLUMNS})"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        message_values(
            msg,
            raw_json=message_json,
            now=now,
            version=version,
            chain_id=chain_id,
            update_id=update.update_id,
            update_type=update.update_type,
            bot_id=opts.bot_id,
            source=opts.source,
            content=content,
        ),
    )
    raw_message_id = int(cur.lastrowid or 0)
    if chain_id is not None:
        _update_chain_member(conn, chain_id, msg, now)
    file_ids = tuple(_insert_file(conn, msg, f, opts, now) for f in msg.files)
    outcome = CaptureOutcome.EDIT if is_edit or version > 1 else CaptureOutcome.NEW
    return CaptureResult(
        update.update_id,
        update.update_type,
        outcome,
        raw_message_id=raw_message_id,
        version=version,
        chain_id=chain_id,
        file_row_ids=tuple(i for i in file_ids if i is not None),
    )


def _chain_id_of_message(conn: sqlite3.Connection, chat_id: int, message_id: int) -> str | None:
    """The chain a message is in: as a stored member, as a root, or as a bot message."""
    row = conn.execute(
        "SELECT chain_id FROM raw_messages WHERE chat_id = ?1 AND message_id = ?2"
        " AND chain_id IS NOT NULL"
        " UNION ALL SELECT chain_id FROM message_chains"
        " WHERE chat_id = ?1 AND original_message_id = ?2"
        " UNION ALL SELECT chain_id FROM bot_responses WHERE chat_id = ?1 AND message_id = ?2"
        " AND chain_id IS NOT NULL LIMIT 1",
        (chat_id, message_id),
    ).fetchone()
    return str(row[0]) if row else None


def _resolve_chain(conn: sqlite3.Connection, msg: NormalizedMessage, now: str | None) -> str:
    """The chain a reply joins, creating it when the replied-to message starts one.

    Resolution order: the replied message's own chain (reply to a reply); a bot
    message resolves through ``bot_responses`` to the user message the bot was
    answering; otherwise the replied message becomes the root.
    """
    assert msg.reply_to_message_id is not None
    target = msg.reply_to_message_id
    existing = _chain_id_of_message(conn, msg.chat_id, target)
    if existing:
        return existing
    bot = conn.execute(
        "SELECT id, related_user_message_id, response_text FROM bot_responses"
        " WHERE chat_id = ? AND message_id = ?"
        " ORDER BY related_user_message_id IS NULL, id LIMIT 1",
        (msg.chat_id, target),
    ).fetchone()
    root_id, root_text = target, msg.reply_to_text
    if bot is not None and bot["related_user_message_id"] is not None:
        root_id = int(bot["related_user_message_id"])
        existing = _chain_id_of_message(conn, msg.chat_id, root_id)
        if existing:
            conn.execute(
                "UPDATE bot_responses SET chain_id = ? WHERE id = ?", (existing, bot["id"])
            )
            return existing
        root_text = None
    elif bot is not None:
        root_text = bot["response_text"]
    root_row = conn.execute(
        "SELECT user_id, message_text FROM raw_messages WHERE chat_id = ? AND message_id = ?"
        " ORDER BY version DESC LIMIT 1",
        (msg.chat_id, root_id),
    ).fetchone()
    root_user = root_row["user_id"] if root_row else None
    if root_row is not None:
        root_text = root_row["message_text"]
    chain_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO message_chains (chain_id, user_id, original_message_id, original_text,"
        " replies, created_at, updated_at, chat_id) VALUES (?, ?, ?, ?, '[]', ?, ?, ?)",
        (chain_id, root_user, root_id, root_text, now, now, msg.chat_id),
    )
    conn.execute(
        "UPDATE raw_messages SET chain_id = ? WHERE chat_id = ? AND message_id = ?",
        (chain_id, msg.chat_id, root_id),
    )
    # Two statements rather than one with OR, so that each uses its index.
    conn.execute(
        "UPDATE bot_responses SET chain_id = ? WHERE chat_id = ? AND message_id = ?",
        (chain_id, msg.chat_id, target),
    )
    conn.execute(
        "UPDATE bot_responses SET chain_id = ? WHERE chat_id = ? AND related_user_message_id = ?",
        (chain_id, msg.chat_id, root_id),
    )
    return chain_id


def _update_chain_member(
    conn: sqlite3.Connection, chain_id: str, msg: NormalizedMessage, now: str | None
) -> None:
    """Bring the chain up to date with a new message version: root text or a reply entry."""
    row = conn.execute(
        "SELECT original_message_id, replies FROM message_chains WHERE chain_id = ?", (chain_id,)
    ).fetchone()
    if row is None:
        return
    if row["original_message_id"] == msg.message_id:
        conn.execute(
            "UPDATE message_chains SET original_text = ?, user_id = coalesce(user_id, ?),"
            " updated_at = ? WHERE chain_id = ?",
            (jsonutil.clean_text(msg.text), msg.user_id, now, chain_id),
        )
        return
    entry = ChainReply(
        message_id=msg.message_id,
        text=jsonutil.clean_text(msg.text),
        date=msg.date,
        user_id=msg.user_id,
        reply_to_message_id=msg.reply_to_message_id,
        reply_to_text=jsonutil.clean_text(msg.reply_to_text),
    ).to_json()
    replies: list[dict[str, Any]] = jsonutil.loads(row["replies"])
    for i, existing in enumerate(replies):
        if existing.get("message_id") == msg.message_id:
            replies[i] = entry  # an edited reply: keep its place, show its newest text
            break
    else:
        replies.append(entry)
    conn.execute(
        "UPDATE message_chains SET replies = ?, updated_at = ? WHERE chain_id = ?",
        (jsonutil.dumps(replies), now, chain_id),
    )


def _insert_file(
    conn: sqlite3.Connection,
    msg: NormalizedMessage,
    desc: FileDescriptor,
    opts: CaptureOptions,
    now: str | None,
) -> int | None:
    status, reason = initial_file_status(desc, opts)
    cur = conn.execute(
        f"INSERT INTO raw_files ({FILE_INSERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (chat_id, message_id, file_key) DO NOTHING",
        file_values(msg, desc, status, reason, now),
    )
    return int(cur.lastrowid) if cur.rowcount and cur.lastrowid else None


def _record_bot_response(conn: sqlite3.Connection, r: BotResponseIn) -> BotResponse:
    chain_id = None
    if r.related_user_message_id is not None:
        chain_id = _chain_id_of_message(conn, r.chat_id, r.related_user_message_id)
    if chain_id is None and r.message_id is not None and r.is_edit:
        chain_id = _chain_id_of_message(conn, r.chat_id, r.message_id)
    created_at = r.created_at or _now()
    # The unique indexes (idempotency key; one original send per message) make
    # a repeated record a no-op; the existing row is then returned.
    cur = conn.execute(
        "INSERT INTO bot_responses (user_id, message_id, response_text, response_type,"
        " related_user_message_id, ai_analysis, chain_id, created_at, chat_id, method,"
        " request, result, error, is_edit, idempotency_key)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        (
            r.user_id,
            r.message_id,
            jsonutil.clean_text(r.response_text),
            r.response_type,
            r.related_user_message_id,
            jsonutil.dumps(r.ai_analysis) if r.ai_analysis is not None else None,
            chain_id,
            _ts(created_at),
            r.chat_id,
            r.method,
            jsonutil.dumps(r.request) if r.request is not None else None,
            jsonutil.dumps(r.result) if r.result is not None else None,
            jsonutil.clean_text(r.error),
            int(r.is_edit),
            r.idempotency_key,
        ),
    )
    if cur.rowcount == 1:
        return BotResponse(
            id=int(cur.lastrowid or 0),
            chat_id=r.chat_id,
            message_id=r.message_id,
            user_id=r.user_id,
            response_text=jsonutil.clean_text(r.response_text),
            response_type=r.response_type,
            related_user_message_id=r.related_user_message_id,
            chain_id=chain_id,
            ai_analysis=r.ai_analysis,
            method=r.method,
            request=r.request,
            result=r.result,
            error=jsonutil.clean_text(r.error),
            created_at=datetime.fromisoformat(_ts(created_at) or ""),
            is_edit=r.is_edit,
        )
    existing = conn.execute(
        "SELECT * FROM bot_responses WHERE idempotency_key = ?"
        " UNION ALL SELECT * FROM bot_responses"
        " WHERE chat_id = ? AND message_id = ? AND is_edit = 0 LIMIT 1",
        (r.idempotency_key, r.chat_id, r.message_id),
    ).fetchone()
    if existing is None:  # pragma: no cover - a conflict implies a row
        raise StorageError("bot response conflicted with a row that is not there")
    return _bot_response(existing)


# -- row conversion ---------------------------------------------------------------
