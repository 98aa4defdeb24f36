"""The Postgres store: psycopg 3 (async) over a connection pool, writes in SQL functions.

Every multi-row write is one call of a SQL function from ``sql/`` (one
statement, so one transaction, one round trip), which keeps capture atomic
against other writers without the single-writer lock SQLite relies on. Python
still owns the semantics it shares with the SQLite store: normalization, the
content hash, the initial file status, and the NUL-safe JSON form
(:mod:`superbrain_core.storage.pgsql.codec`). Reads are plain SELECTs.

Opening, the schema check, retries and error translation are the pool's
(:mod:`.pool`); every call here goes through its ``_call``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, cast

from psycopg.rows import DictRow, dict_row

from superbrain_core import search as search_text
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
from superbrain_core.records import check_task_status
from superbrain_core.search import SearchHit
from superbrain_core.storage.base import (
    CaptureOptions,
    MessageFilter,
    Store,
    business_chat_key,
    runs_of_one_kind,
)
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.pgsql import search as postgres_search
from superbrain_core.storage.pgsql.rows import BOT_COLUMNS as _BOT_COLUMNS
from superbrain_core.storage.pgsql.rows import CHAIN_COLUMNS as _CHAIN_COLUMNS
from superbrain_core.storage.pgsql.rows import FILE_COLUMNS as _FILE_COLUMNS
from superbrain_core.storage.pgsql.rows import MESSAGE_COLUMNS as _MESSAGE_COLUMNS
from superbrain_core.storage.pgsql.rows import bot_response as _bot_response
from superbrain_core.storage.pgsql.rows import chain as _chain
from superbrain_core.storage.pgsql.rows import raw_file as _raw_file
from superbrain_core.storage.pgsql.rows import raw_message as _raw_message
from superbrain_core.storage.pgsql.rows import utc as _utc
from superbrain_core.storage.postgres import reads, work
from superbrain_core.storage.postgres.connect import transaction_pooler
from superbrain_core.storage.postgres.outbox import OutboxMethods
from superbrain_core.storage.postgres.pool import Connection, PostgresPool
from superbrain_core.storage.run_lock import DEFAULT_RUN_LOCK_TTL, RunLock

#: The tables :meth:`PostgresStore.stats` counts.
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


class PostgresStore(PostgresPool, OutboxMethods, Store):
    """:class:`Store` on a Postgres database migrated with ``superbrain db migrate``."""

    backend = "postgres"

    # -- plumbing --------------------------------------------------------------

    async def _rows(self, what: str, query: str, params: Sequence[Any] = ()) -> list[DictRow]:
        async def read(conn: Connection) -> list[DictRow]:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query.encode("utf-8"), params)
            return await cur.fetchall()

        return await self._call(what, read)

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

    async def import_messages(
        self, messages: Sequence[ImportedMessage], options: CaptureOptions | None = None
    ) -> ImportResult:
        """One ``superbrain_import_messages`` call (``sql/0006``); see :mod:`.importing`."""
        from superbrain_core.storage.pgsql.importing import import_items
        from superbrain_core.storage.postgres import importing as imports

        if not messages:
            return ImportResult(())
        opts = options or CaptureOptions(source="desktop_export")
        payload = import_items(messages)  # encoded before a connection is taken
        ids = await self._call(
            "import_messages", lambda conn: imports.call(conn, messages, payload, opts)
        )
        return ImportResult(ids)

    async def stored_message_keys(self, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        from superbrain_core.storage.postgres import importing as imports

        if not keys:
            return set()
        return await self._call("stored_message_keys", lambda c: imports.stored_keys(c, keys))

    async def write_batch(
        self,
        items: Sequence[NormalizedUpdate | BotResponseIn],
        options: CaptureOptions | None = None,
    ) -> list[CaptureResult | BotResponse]:
        """Every write of this store: consecutive items of one kind go to one function
        call; several calls share one transaction."""
        if not items:
            return []
        opts = options or CaptureOptions()
        runs: list[list[Any]] = list(runs_of_one_kind(items))
        # Encoded before a connection is taken: the pool is not held for Python work.
        prepared = [
            (run, pgcodec.bot_response_items(run), False)
            if isinstance(run[0], BotResponseIn)
            else (run, pgcodec.capture_items(run, opts), True)
            for run in runs
        ]

        async def one(conn: Connection, run: list[Any], payload: str, is_update: bool) -> list[Any]:
            if is_update:
                cur = await conn.execute("SELECT superbrain_capture_many(%s::jsonb)", (payload,))
                row = await cur.fetchone()
                return pgcodec.capture_results(run, row[0] if row else [])
            cur = await conn.execute(
                "SELECT superbrain_record_bot_responses(%s::jsonb)", (payload,)
            )
            row = await cur.fetchone()
            return [pgcodec.bot_response_from_row(r) for r in (row[0] if row else [])]

        async def write(conn: Connection) -> list[CaptureResult | BotResponse]:
            if len(prepared) == 1:  # one statement: its own transaction, one round trip
                return await one(conn, *prepared[0])
            results: list[CaptureResult | BotResponse] = []
            async with conn.transaction():
                for call in prepared:
                    results.extend(await one(conn, *call))
            return results

        return await self._call("write", write)

    # -- reads -----------------------------------------------------------------

    async def get_update(self, update_id: int, *, bot_id: int = 0) -> RawUpdate | None:
        rows = await self._rows(
            "get_update",
            "SELECT id, bot_id, update_id, update_type, payload::text AS payload, received_at,"
            " source FROM raw_updates WHERE bot_id = %s AND update_id = %s",
            (bot_id, update_id),
        )
        if not rows:
            return None
        row = rows[0]
        return RawUpdate(
            id=row["id"],
            bot_id=row["bot_id"],
            update_id=row["update_id"],
            update_type=row["update_type"],
            payload=pgcodec.loads_raw(row["payload"]),
            received_at=_utc(row["received_at"]),
            source=row["source"],
        )

    async def business_chat_id(self, business_connection_id: str, chat_id: int) -> int | None:
        rows = await self._rows(
            "business_chat_id",
            "SELECT id FROM business_connections WHERE business_connection_id = %s",
            (business_connection_id,),
        )
        return business_chat_key(int(rows[0]["id"]), chat_id) if rows else None

    async def update_conflicts(
        self, *, after_id: int = 0, limit: int = 1000
    ) -> list[UpdateConflict]:
        rows = await self._rows(
            "update_conflicts",
            "SELECT id, bot_id, update_id, update_type, stored_payload::text AS stored_payload,"
            " payload::text AS payload, received_at, source FROM update_conflicts"
            " WHERE id > %s ORDER BY id LIMIT %s",
            (after_id, limit),
        )
        return [
            UpdateConflict(
                id=row["id"],
                bot_id=row["bot_id"],
                update_id=row["update_id"],
                update_type=row["update_type"],
                stored_payload=pgcodec.loads_raw(row["stored_payload"]),
                payload=pgcodec.loads_raw(row["payload"]),
                received_at=_utc(row["received_at"]),
                source=row["source"],
            )
            for row in rows
        ]

    async def message_versions(self, chat_id: int, message_id: int) -> list[RawMessage]:
        rows = await self._rows(
            "message_versions",
            f"SELECT {_MESSAGE_COLUMNS} FROM raw_messages"
            " WHERE chat_id = %s AND message_id = %s ORDER BY version",
            (chat_id, message_id),
        )
        return [_raw_message(r) for r in rows]

    async def get_chain(self, chain_id: str) -> MessageChain | None:
        try:
            key = uuid.UUID(str(chain_id))
        except ValueError:
            return None  # not a chain id this store could have issued
        rows = await self._rows(
            "get_chain",
            f"SELECT {_CHAIN_COLUMNS} FROM message_chains WHERE chain_id = %s",
            (key,),
        )
        return _chain(rows[0]) if rows else None

    async def chain_of(self, chat_id: int, message_id: int) -> MessageChain | None:
        rows = await self._rows(
            "chain_of",
            f"SELECT {_CHAIN_COLUMNS} FROM message_chains"
            " WHERE chain_id = superbrain_chain_id_of(%s, %s)",
            (chat_id, message_id),
        )
        return _chain(rows[0]) if rows else None

    async def get_file(self, file_row_id: int) -> RawFile | None:
        rows = await self._rows(
            "get_file", f"SELECT {_FILE_COLUMNS} FROM raw_files WHERE id = %s", (file_row_id,)
        )
        return _raw_file(rows[0]) if rows else None

    async def files_of_message(self, chat_id: int, message_id: int) -> list[RawFile]:
        rows = await self._rows(
            "files_of_message",
            f"SELECT {_FILE_COLUMNS} FROM raw_files"
            " WHERE chat_id = %s AND message_id = %s ORDER BY id",
            (chat_id, message_id),
        )
        return [_raw_file(r) for r in rows]

    async def list_files(
        self, *, status: FileStatus | None = None, limit: int = 1000, after_id: int = 0
    ) -> list[RawFile]:
        if status is None:
            rows = await self._rows(
                "list_files",
                f"SELECT {_FILE_COLUMNS} FROM raw_files WHERE id > %s ORDER BY id LIMIT %s",
                (after_id, limit),
            )
        else:
            rows = await self._rows(
                "list_files",
                f"SELECT {_FILE_COLUMNS} FROM raw_files"
                " WHERE status = %s AND id > %s ORDER BY id LIMIT %s",
                (status.value, after_id, limit),
            )
        return [_raw_file(r) for r in rows]

    async def set_file_status(
        self,
        file_row_id: int,
        status: FileStatus,
        *,
        file_hash: str | None = None,
        file_path: str | None = None,
        reason: str | None = None,
    ) -> None:
        async def write(conn: Connection) -> None:
            await conn.execute(
                "SELECT superbrain_set_file_status(%s, %s, %s, %s, %s)",
                (
                    file_row_id,
                    status.value,
                    pgcodec.clean(file_hash),
                    pgcodec.clean(file_path),
                    pgcodec.clean(reason),
                ),
            )

        await self._call("set_file_status", write)

    async def bot_responses(self, chat_id: int) -> list[BotResponse]:
        rows = await self._rows(
            "bot_responses",
            f"SELECT {_BOT_COLUMNS} FROM bot_responses WHERE chat_id = %s ORDER BY id",
            (chat_id,),
        )
        return [_bot_response(r) for r in rows]

    async def stats(self) -> StoreStats:
        async def read(conn: Connection) -> StoreStats:
            counts = ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES)
            cur = await conn.execute(f"SELECT {counts}".encode())
            row = await cur.fetchone()
            tables = dict(zip(TABLES, row or (), strict=True))
            cur = await conn.execute(
                "SELECT coalesce(message_type, 'unknown'), count(*) FROM raw_messages"
                " GROUP BY 1 ORDER BY count(*) DESC, 1"
            )
            types = {str(k): int(v) for k, v in await cur.fetchall()}
            cur = await conn.execute(
                "SELECT status, count(*) FROM raw_files GROUP BY status ORDER BY status"
            )
            statuses = {str(k): int(v) for k, v in await cur.fetchall()}
            return StoreStats(tables=tables, message_types=types, file_statuses=statuses)

        return await self._call("stats", read)

    async def ping(self) -> None:
        async def probe(conn: Connection) -> None:
            await conn.execute("SELECT 1")

        await self._call("ping", probe)

    async def last_batch_run(self) -> BatchRun | None:
        rows = await self._rows(
            "last_batch_run",
            "SELECT id, started_at, finished_at, status, classifier, counts::text AS counts,"
            " digest FROM batch_runs ORDER BY id DESC LIMIT 1",
        )
        if not rows:
            return None
        row = rows[0]
        return BatchRun(
            id=row["id"],
            started_at=_utc(row["started_at"]),
            finished_at=_utc(row["finished_at"]) if row["finished_at"] else None,
            status=row["status"],
            classifier=row["classifier"],
            counts=pgcodec.loads_raw(row["counts"]) or {},
            digest=row["digest"],
        )

    # -- the analyzer (sql/0003_analyzer.sql; see postgres_work) ----------------

    async def claim_work(
        self, worker: str, *, limit: int, lease_until: datetime, now: datetime
    ) -> list[WorkItem]:
        return await self._call(
            "claim_work", lambda c: work.claim(c, worker, limit, now, lease_until)
        )

    async def peek_work(
        self,
        *,
        after_id: int,
        limit: int,
        now: datetime,
        reclassify: tuple[str, str] | None = None,
    ) -> list[WorkItem]:
        return await self._call(
            "peek_work", lambda c: work.peek(c, after_id, limit, now, reclassify)
        )

    async def pending_work(self, *, now: datetime) -> int:
        return await self._call("pending_work", lambda c: work.pending(c, now))

    async def load_work_contexts(
        self, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], WorkContext]:
        # One statement, so one snapshot for the whole page.
        return await self._call("load_work_contexts", lambda c: work.load_contexts(c, keys))

    async def apply_placements(
        self, placements: Sequence[Placement], *, run_id: int | None
    ) -> list[PlacementResult]:
        if not placements:
            return []
        return await self._call(
            "apply_placements",
            lambda c: work.apply(c, placements, run_id, datetime.now(UTC)),
        )

    async def record_work_failures(self, failures: Sequence[WorkFailure]) -> None:
        if failures:
            await self._call(
                "record_work_failures",
                lambda c: work.record_failures(c, failures, datetime.now(UTC)),
            )

    async def extend_claims(
        self, worker: str, *, lease_until: datetime, now: datetime | None = None
    ) -> int:
        # Only the lease's length crosses over: the server's clock places it.
        seconds = (lease_until - (now or datetime.now(UTC))).total_seconds()
        return await self._call(
            "extend_claims",
            lambda c: work.count_of(c, "superbrain_renew_claims", worker, seconds),
        )

    async def release_claims(self, worker: str) -> int:
        return await self._call(
            "release_claims", lambda c: work.count_of(c, "superbrain_release_claims", worker)
        )

    async def requeue_for_reclassify(self, classifier: str, version: str) -> int:
        return await self._call(
            "requeue_for_reclassify",
            lambda c: work.count_of(c, "superbrain_requeue_for_reclassify", classifier, version),
        )

    async def requeue_quarantined(self) -> int:
        return await self._call(
            "requeue_quarantined", lambda c: work.count_of(c, "superbrain_requeue_quarantined")
        )

    async def work_problems(self, *, limit: int = 100) -> list[WorkProblem]:
        return await self._call("work_problems", lambda c: work.work_problems(c, limit))

    def run_lock(
        self, name: str, holder: str, *, ttl: float = DEFAULT_RUN_LOCK_TTL
    ) -> AbstractAsyncContextManager[RunLock]:
        from superbrain_core.storage.postgres.lock import advisory_run_lock, pooled_run_lock

        pooler = transaction_pooler(self._dsn)
        if pooler is not None:
            # A session advisory lock means nothing through a transaction pooler:
            # the lease row, taken and renewed one transaction at a time, does.
            return pooled_run_lock(self._call, pooler, name, holder, ttl)
        return advisory_run_lock(self._kwargs, self.where, name, holder, ttl)

    async def start_batch_run(self, classifier: str, version: str, worker: str) -> int:
        return await self._call(
            "start_batch_run",
            lambda c: work.count_of(
                c, "superbrain_start_batch_run", classifier, version, worker, datetime.now(UTC)
            ),
        )

    async def finish_batch_run(
        self, run_id: int, *, status: str, counts: JSONDict, digest: str
    ) -> None:
        async def write(conn: Connection) -> None:
            await conn.execute(
                "SELECT superbrain_finish_batch_run(%s, %s, %s::jsonb, %s, %s)",
                (run_id, status, json.dumps(counts), pgcodec.clean(digest), datetime.now(UTC)),
            )

        await self._call("finish_batch_run", write)

    async def routing_history(self, chat_id: int, message_id: int) -> list[RoutingEntry]:
        return await self._call(
            "routing_history", lambda c: work.routing_history(c, chat_id, message_id)
        )

    async def list_records(
        self, table: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[JSONDict]:
        return await self._call(
            "list_records", lambda c: work.list_records(c, table, after_id, limit)
        )

    async def set_task_status(self, record_id: int, status: str) -> bool:
        check_task_status(status)

        async def write(conn: Connection) -> bool:
            cur = await conn.execute(
                "UPDATE tasks SET status = %s, updated_at = %s WHERE id = %s",
                (status, datetime.now(UTC), record_id),
            )
            return cur.rowcount > 0

        return await self._call("set_task_status", write)

    # -- exploration (postgres_reads) -----------------------------------------

    async def list_messages(
        self, where: MessageFilter | None = None, *, after_id: int = 0, limit: int = 1000
    ) -> list[RawMessage]:
        wanted = where or MessageFilter()
        return await self._call(
            "list_messages", lambda c: reads.list_messages(c, wanted, after_id, limit)
        )

    async def list_chains(
        self, *, chat_id: int | None = None, after: str | None = None, limit: int = 1000
    ) -> list[MessageChain]:
        return await self._call(
            "list_chains", lambda c: reads.list_chains(c, chat_id, after, limit)
        )

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
        return await self._call(
            "list_routing",
            lambda c: reads.list_routing(c, since, until, run_id, chat_id, after_id, limit),
        )

    async def list_batch_runs(self, *, after_id: int = 0, limit: int = 1000) -> list[BatchRun]:
        return await self._call(
            "list_batch_runs", lambda c: reads.list_batch_runs(c, after_id, limit)
        )

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
        found = await self._rows(
            "search",
            postgres_search.SEARCH_SQL,
            (pgcodec.clean(query), limit, chat_id, since, until),
        )
        return postgres_search.hits(found, wanted, _utc)
