"""The connection side of the Postgres store: the pool, the schema check, retries.

:class:`PostgresPool` is what :class:`~.store.PostgresStore` builds on, kept apart
so that the store module holds only what each :class:`Store` method does.

Errors are translated at this boundary: a dropped connection, a pool timeout, a
serialization failure or a deadlock is a :class:`TransientStorageError` and is
retried a bounded number of times first (every write is idempotent, so running
it again is safe); anything else is a :class:`StorageError`. The original
driver error is kept as ``__cause__``.

Opening never migrates a production database behind the operator's back: it
checks that every bundled migration is applied and refuses otherwise.
``PostgresStore(dsn, migrate=True)`` migrates first, for tests and development.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from superbrain_core.errors import PermanentStorageError, StorageError, TransientStorageError
from superbrain_core.logs import get_logger
from superbrain_core.storage.postgres import migrations
from superbrain_core.storage.postgres.connect import (
    connect_error,
    connection_kwargs,
    describe_dsn,
    transaction_pooler,
)
from superbrain_core.storage.postgres.connect import describe_error as _describe

T = TypeVar("T")
Connection = psycopg.AsyncConnection[TupleRow]

log = get_logger(__name__)


class PostgresPool:
    """A lazily opened psycopg pool on one DSN and the retrying :meth:`_call` on it."""

    def __init__(
        self,
        dsn: str,
        *,
        migrate: bool = False,
        min_connections: int = 1,
        max_connections: int = 4,
        connect_timeout: float = 10.0,
        statement_timeout: float = 60.0,
        max_attempts: int = 5,
        application_name: str = "superbrain",
    ) -> None:
        self._dsn = dsn.strip()
        self._kwargs = connection_kwargs(
            self._dsn, application_name=application_name, connect_timeout=connect_timeout
        )
        if transaction_pooler(self._dsn) is not None:
            # A transaction pooler may run the next statement on another server
            # connection, where a statement prepared on this one does not exist.
            self._kwargs["prepare_threshold"] = None
        self._migrate = migrate
        self._min = min_connections
        self._max = max(min_connections, max_connections)
        self._connect_timeout = connect_timeout
        self._statement_timeout_ms = round(statement_timeout * 1000)
        self._max_attempts = max(1, max_attempts)
        self._pool: AsyncConnectionPool[Connection] | None = None
        self.where = describe_dsn(self._dsn)

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        if self._migrate:
            await migrations.migrate(self._dsn)
        await self._check_schema()
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            kwargs={**self._kwargs, "autocommit": True},
            min_size=self._min,
            max_size=self._max,
            open=False,
            configure=self._configure,
            name="superbrain",
            # How long a call waits for a connection: the bot's webhook waits on
            # it before falling back to the spool, so it stays short.
            timeout=max(10.0, self._connect_timeout),
        )
        try:
            await pool.open(wait=True, timeout=self._connect_timeout)
        except BaseException as exc:
            # Also when cancelled: a pool left half-open keeps worker tasks alive
            # that the event loop then waits for forever.
            with anyio.CancelScope(shield=True):
                await pool.close()
            if isinstance(exc, PoolTimeout):
                raise TransientStorageError(
                    f"cannot open a connection pool to {self.where}"
                    f" within {self._connect_timeout:g} s"
                ) from exc
            raise
        self._pool = pool

    async def _check_schema(self) -> None:
        """Refuse a database the bundled migrations have not (all) been applied to.

        A direct connection rather than the pool: a refused connection then
        fails at once with the server's reason, not after a pool timeout.
        """
        try:
            conn = await psycopg.AsyncConnection.connect(**self._kwargs, autocommit=True)
        except psycopg.OperationalError as exc:
            raise connect_error(exc) from exc
        async with conn:
            try:
                recorded = await migrations.recorded_migrations(conn)
            except psycopg.Error as exc:
                raise StorageError(
                    f"reading schema_migrations at {self.where} failed: {_describe(exc)}"
                ) from exc
        pending = [m.name for m in migrations.bundled_migrations() if m.name not in recorded]
        if pending:
            raise StorageError(
                "database schema is behind: run `superbrain db migrate`"
                f" ({self.where}; pending: {', '.join(pending)})"
            )

    async def _configure(self, conn: Connection) -> None:
        # UTC so timestamps come back as datetime.UTC; a statement timeout so a
        # stuck query fails (and is retried) instead of hanging the bot.
        await conn.execute(
            "SELECT set_config('TimeZone', 'UTC', false),"
            " set_config('statement_timeout', %s, false)",
            (str(self._statement_timeout_ms),),
        )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            # Shielded: closing is what `async with` does on the way out of a
            # cancelled task, and an unfinished close leaks the pool's workers.
            with anyio.CancelScope(shield=True):
                await pool.close()

    # -- calls -----------------------------------------------------------------

    async def _call(self, what: str, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``work`` on a pooled connection; retry transient failures, translate errors."""
        pool = self._pool
        if pool is None:
            raise StorageError(
                "store is not open (use `async with store:` or `await store.open()`)"
            )
        attempt = 0
        while True:
            attempt += 1
            try:
                async with pool.connection() as conn:
                    return await work(conn)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                if isinstance(exc, PoolTimeout):
                    # No connection for the pool's whole wait, while it kept
                    # reconnecting: waiting again would only keep the caller (a
                    # webhook) from its spool that much longer.
                    raise TransientStorageError(
                        f"Postgres {what} failed: the database is unreachable ({_describe(exc)})"
                    ) from exc
                if attempt >= self._max_attempts:
                    raise TransientStorageError(
                        f"Postgres {what} failed after {attempt} attempts: {_describe(exc)}"
                    ) from exc
                # Exponential back-off with jitter, so writers that deadlocked
                # each other do not collide again in step.
                delay = min(2.0, 0.05 * 2 ** (attempt - 1)) * (0.5 + random.random())
                log.warning(
                    "postgres_retry",
                    operation=what,
                    attempt=attempt,
                    error=_describe(exc),
                    sqlstate=getattr(exc, "sqlstate", None),
                )
                await anyio.sleep(delay)
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                # SQLSTATE classes 22 and 23: this data, refused every time.
                raise PermanentStorageError(
                    f"Postgres {what} refused the data: {_describe(exc)}"
                ) from exc
            except psycopg.Error as exc:
                raise StorageError(f"Postgres {what} failed: {_describe(exc)}") from exc
