"""The Supabase store: the Postgres schema and its SQL functions, reached over PostgREST.

A Supabase project exposes its Postgres through PostgREST (``/rest/v1``); this
class is the :class:`Store` on it, and composes the modules that do the work:
:mod:`.config` (URL and key), :mod:`.rest` (client, retries, paging),
:mod:`.writes`, :mod:`.claims` and :mod:`.reads`.

It calls the very SQL functions the Postgres store calls (``sql/0002``,
``sql/0003``) through ``rpc``, with the same jsonb arguments built by the same
code (:mod:`pgcodec`, :mod:`postgres_work`), so a capture or a placement means
exactly the same on both; reads are table selects. Only HTTPS and the service
key are needed, which is all a serverless or locked-down deploy may have. The
schema itself is applied with ``superbrain db migrate`` against the project's
Postgres DSN; opening refuses a project that is behind.

What PostgREST cannot do is run several calls in one transaction: each function
call is atomic on its own, so :meth:`write_batch` sends a whole mixed batch of
updates and bot responses as one call (``superbrain_write_batch``), one
transaction as on Postgres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from superbrain_core.errors import StorageError
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
from superbrain_core.search import SearchHit
from superbrain_core.storage.base import CaptureOptions, MessageFilter, Store, business_chat_key
from superbrain_core.storage.pgsql import migration_files as migrations
from superbrain_core.storage.run_lock import DEFAULT_RUN_LOCK_TTL, RunLock
from superbrain_core.storage.supabase import claims, reads, writes
from superbrain_core.storage.supabase.config import (
    KEY_VARIABLE,
    key_headers,
    rest_url,
    settings_from_env,
)
from superbrain_core.storage.supabase.outbox import OutboxMethods
from superbrain_core.storage.supabase.reads import STATS_TABLES
from superbrain_core.storage.supabase.rest import (
    DEFAULT_PAGE_SIZE,
    MISSING_TABLE,
    PostgrestError,
    RestClient,
)

# Re-exported: callers and tests have always found these here.
__all__ = [
    "DEFAULT_PAGE_SIZE",
    "KEY_VARIABLE",
    "SCHEMA_BEHIND",
    "STATS_TABLES",
    "PostgrestError",
    "SupabaseStore",
    "key_headers",
    "rest_url",
    "settings_from_env",
]

SCHEMA_BEHIND = (
    "database schema is behind: run superbrain db migrate against the Supabase Postgres DSN"
)


class SupabaseStore(OutboxMethods, Store):
    """:class:`Store` on a Supabase project migrated with ``superbrain db migrate``.

    ``url`` is the project URL and ``key`` its service key (either kind);
    ``key_variable`` names where the key came from, for messages. The timeouts
    bound one HTTP request (a stuck gateway must fail, and be retried, rather
    than hang the bot). ``max_attempts``, ``retry_delay`` and
    ``max_retry_delay`` shape the retries. ``page_size`` is the most rows asked
    for at once and must not exceed the project's Max Rows. ``concurrency``
    bounds the parallel counts of :meth:`stats`. ``transport`` replaces the
    HTTP transport (tests, proxies).
    """

    backend = "supabase"

    def __init__(
        self,
        url: str,
        key: str,
        *,
        key_variable: str = KEY_VARIABLE,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        retry_delay: float = 0.2,
        max_retry_delay: float = 5.0,
        page_size: int = DEFAULT_PAGE_SIZE,
        concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = rest_url(url)
        secret = key.strip()
        self._headers = key_headers(secret, key_variable)
        retry_delay = max(0.0, retry_delay)
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._rest = RestClient(
            base,
            secret,
            self._headers,
            key_variable=key_variable,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            max_attempts=max(1, max_attempts),
            retry_delay=retry_delay,
            max_retry_delay=max(retry_delay, max_retry_delay),
            page_size=page_size,
            concurrency=max(1, concurrency),
            transport=transport,
        )
        #: Where the store points, for messages and logs: the host, never the key.
        self.where = urlsplit(base).netloc

    @classmethod
    def from_env(cls, env: Mapping[str, str], **options: Any) -> SupabaseStore:
        """The store ``SUPERBRAIN_DB=supabase`` selects, from ``SUPABASE_*`` settings."""
        url, key, variable = settings_from_env(env)
        return cls(url, key, key_variable=variable, **options)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._rest.is_open:
            return
        self._rest.connect()
        try:
            await self._check_schema()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.close()
            raise

    async def _check_schema(self) -> None:
        """Refuse a project the bundled migrations have not (all) been applied to.

        ``schema_migrations`` is locked away from the API roles but readable with
        the service key; a project that never ran ``db migrate`` has no such table.
        """
        try:
            found = await self._rest.select("open", "schema_migrations", "name", key="name")
        except PostgrestError as exc:
            if exc.code not in MISSING_TABLE:
                raise
            found = []
        recorded = {str(r["name"]) for r in found}
        pending = [m.name for m in migrations.bundled_migrations() if m.name not in recorded]
        if pending:
            raise StorageError(f"{SCHEMA_BEHIND} ({self.where}; pending: {', '.join(pending)})")

    async def close(self) -> None:
        await self._rest.close()

    # -- capture (writes) --------------------------------------------------------------------

    async def capture_many(
        self, updates: Sequence[NormalizedUpdate], options: CaptureOptions | None = None
    ) -> list[CaptureResult]:
        return await writes.capture_many(self._rest, updates, options)

    async def record_bot_response(self, response: BotResponseIn) -> BotResponse:
        (recorded,) = await self.record_bot_responses([response])
        return recorded

    async def record_bot_responses(self, responses: Sequence[BotResponseIn]) -> list[BotResponse]:
        return await writes.record_bot_responses(self._rest, responses)

    async def write_batch(
        self,
        items: Sequence[NormalizedUpdate | BotResponseIn],
        options: CaptureOptions | None = None,
    ) -> list[CaptureResult | BotResponse]:
        return await writes.write_batch(self._rest, items, options)

    async def import_messages(
        self, messages: Sequence[ImportedMessage], options: CaptureOptions | None = None
    ) -> ImportResult:
        """The Postgres store's function (``sql/0006``), in calls of at most ``page_size``
        messages: each call is atomic on its own, and a request body stays small."""
        return await writes.import_messages(self._rest, messages, options)

    async def stored_message_keys(self, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        """``superbrain_stored_message_keys`` (``sql/0006``): one call per ``page_size``
        keys, where the base class would ask once per key."""
        return await writes.stored_message_keys(self._rest, keys)

    # -- reads -------------------------------------------------------------------------------

    async def get_update(self, update_id: int, *, bot_id: int = 0) -> RawUpdate | None:
        return await reads.get_update(self._rest, update_id, bot_id=bot_id)

    async def business_chat_id(self, business_connection_id: str, chat_id: int) -> int | None:
        found = await self._rest.select(
            "business_chat_id",
            "business_connections",
            "id",
            lambda q: q.eq("business_connection_id", business_connection_id),
            limit=1,
        )
        return business_chat_key(int(found[0]["id"]), chat_id) if found else None

    async def update_conflicts(
        self, *, after_id: int = 0, limit: int = 1000
    ) -> list[UpdateConflict]:
        return await reads.update_conflicts(self._rest, after_id=after_id, limit=limit)

    async def message_versions(self, chat_id: int, message_id: int) -> list[RawMessage]:
        return await reads.message_versions(self._rest, chat_id, message_id)

    async def get_chain(self, chain_id: str) -> MessageChain | None:
        return await reads.get_chain(self._rest, chain_id)

    async def chain_of(self, chat_id: int, message_id: int) -> MessageChain | None:
        chain_id = await reads.chain_id_of(self._rest, chat_id, message_id)
        return await self.get_chain(chain_id) if chain_id else None

    async def get_file(self, file_row_id: int) -> RawFile | None:
        return await reads.get_file(self._rest, file_row_id)

    async def files_of_message(self, chat_id: int, message_id: int) -> list[RawFile]:
        return await reads.files_of_message(self._rest, chat_id, message_id)

    async def list_files(
        self, *, status: FileStatus | None = None, limit: int = 1000, after_id: int = 0
    ) -> list[RawFile]:
        return await reads.list_files(self._rest, status=status, limit=limit, after_id=after_id)

    async def set_file_status(
        self,
        file_row_id: int,
        status: FileStatus,
        *,
        file_hash: str | None = None,
        file_path: str | None = None,
        reason: str | None = None,
    ) -> None:
        await writes.set_file_status(
            self._rest,
            file_row_id,
            status,
            file_hash=file_hash,
            file_path=file_path,
            reason=reason,
        )

    async def bot_responses(self, chat_id: int) -> list[BotResponse]:
        return await reads.bot_responses(self._rest, chat_id)

    async def stats(self) -> StoreStats:
        return await reads.stats(self._rest)

    async def ping(self) -> None:
        await reads.ping(self._rest)

    async def last_batch_run(self) -> BatchRun | None:
        return await reads.last_batch_run(self._rest)

    # -- the analyzer (sql/0003_analyzer.sql) ------------------------------------------------

    async def claim_work(
        self, worker: str, *, limit: int, lease_until: datetime, now: datetime
    ) -> list[WorkItem]:
        return await claims.claim_work(
            self._rest, worker, limit=limit, lease_until=lease_until, now=now
        )

    async def peek_work(
        self,
        *,
        after_id: int,
        limit: int,
        now: datetime,
        reclassify: tuple[str, str] | None = None,
    ) -> list[WorkItem]:
        return await claims.peek_work(
            self._rest, after_id=after_id, limit=limit, now=now, reclassify=reclassify
        )

    async def pending_work(self, *, now: datetime) -> int:
        return await claims.pending_work(self._rest, now=now)

    async def load_work_contexts(
        self, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], WorkContext]:
        return await claims.load_work_contexts(self._rest, keys)

    async def apply_placements(
        self, placements: Sequence[Placement], *, run_id: int | None
    ) -> list[PlacementResult]:
        return await claims.apply_placements(self._rest, placements, run_id=run_id)

    async def record_work_failures(self, failures: Sequence[WorkFailure]) -> None:
        await claims.record_work_failures(self._rest, failures)

    async def extend_claims(
        self, worker: str, *, lease_until: datetime, now: datetime | None = None
    ) -> int:
        return await claims.extend_claims(self._rest, worker, lease_until=lease_until, now=now)

    async def release_claims(self, worker: str) -> int:
        return await claims.release_claims(self._rest, worker)

    async def requeue_for_reclassify(self, classifier: str, version: str) -> int:
        return await claims.requeue_for_reclassify(self._rest, classifier, version)

    async def requeue_quarantined(self) -> int:
        return await claims.requeue_quarantined(self._rest)

    async def work_problems(self, *, limit: int = 100) -> list[WorkProblem]:
        return await claims.work_problems(self._rest, limit=limit)

    def run_lock(
        self, name: str, holder: str, *, ttl: float = DEFAULT_RUN_LOCK_TTL
    ) -> AbstractAsyncContextManager[RunLock]:
        """A lease row through rpc: no PostgREST session outlives a request."""
        return claims.run_lock(self._rest, name, holder, ttl=ttl)

    async def start_batch_run(self, classifier: str, version: str, worker: str) -> int:
        return await claims.start_batch_run(self._rest, classifier, version, worker)

    async def finish_batch_run(
        self, run_id: int, *, status: str, counts: JSONDict, digest: str
    ) -> None:
        await claims.finish_batch_run(
            self._rest, run_id, status=status, counts=counts, digest=digest
        )

    async def routing_history(self, chat_id: int, message_id: int) -> list[RoutingEntry]:
        return await reads.routing_history(self._rest, chat_id, message_id)

    async def set_task_status(self, record_id: int, status: str) -> bool:
        return await writes.set_task_status(self._rest, record_id, status)

    async def list_records(
        self, table: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[JSONDict]:
        return await reads.list_records(self._rest, table, after_id=after_id, limit=limit)

    # -- exploration ---------------------------------------------------------------------------

    async def list_messages(
        self, where: MessageFilter | None = None, *, after_id: int = 0, limit: int = 1000
    ) -> list[RawMessage]:
        return await reads.list_messages(self._rest, where, after_id=after_id, limit=limit)

    async def list_chains(
        self, *, chat_id: int | None = None, after: str | None = None, limit: int = 1000
    ) -> list[MessageChain]:
        return await reads.list_chains(self._rest, chat_id=chat_id, after=after, limit=limit)

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
        return await reads.list_routing(
            self._rest,
            since=since,
            until=until,
            run_id=run_id,
            chat_id=chat_id,
            after_id=after_id,
            limit=limit,
        )

    async def list_batch_runs(self, *, after_id: int = 0, limit: int = 1000) -> list[BatchRun]:
        return await reads.list_batch_runs(self._rest, after_id=after_id, limit=limit)

    async def search(
        self,
        query: str,
        *,
        limit: int = 50,
        chat_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        return await reads.search(
            self._rest, query, limit=limit, chat_id=chat_id, since=since, until=until
        )
