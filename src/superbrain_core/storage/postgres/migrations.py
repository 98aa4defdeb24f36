"""Apply the ordered Postgres migrations in ``sql/`` and report where a database stands.

The files themselves are read by :mod:`superbrain_core.storage.pgsql.migration_files`
(re-exported here).

Each pending file runs in its own transaction together with the row recording
it in ``schema_migrations`` (name, checksum, applied_at): a file is applied
completely or not at all. The whole run holds a session advisory lock, so two
migrators started at once (two replicas booting, an operator and a CI job)
apply each file once: the second waits, then finds nothing to do.

Files are additive and never edited once applied. A file whose checksum differs
from the one recorded is reported as ``changed`` and stops ``migrate`` before it
applies anything: the database may not be what the files describe, and the fix
is a new file, not an edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from superbrain_core.errors import StorageError, TransientStorageError
from superbrain_core.storage.pgsql.migration_files import (
    Migration,
    MigrationError,
    MigrationReport,
    MigrationState,
    MigrationStatus,
    bundled_migrations,
    checksum,
    compare,
    migrations_from,
)
from superbrain_core.storage.postgres.connect import connect_error, connection_kwargs

#: ``pg_advisory_lock`` key held while migrating ("sbmigrat" in ASCII).
MIGRATION_LOCK_KEY = 0x73626D6967726174

# Created before the first file runs, so it is recorded like everything else.
# Locked down at once: on Supabase, default privileges would otherwise hand a
# new table in public to the API roles.
_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    name        text        PRIMARY KEY,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.schema_migrations ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.schema_migrations FROM PUBLIC;
DO $$
DECLARE
    api_role text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role) THEN
            EXECUTE format('REVOKE ALL ON TABLE public.schema_migrations FROM %I', api_role);
        END IF;
    END LOOP;
END
$$;
"""


async def _connect(dsn: str) -> psycopg.AsyncConnection[TupleRow]:
    try:
        return await psycopg.AsyncConnection.connect(
            **connection_kwargs(dsn, application_name="superbrain-migrate"), autocommit=True
        )
    except psycopg.OperationalError as exc:
        raise connect_error(exc) from exc


async def recorded_migrations(
    conn: psycopg.AsyncConnection[TupleRow],
) -> dict[str, tuple[str, datetime]]:
    """``schema_migrations`` as name → (checksum, applied_at); empty when it does not exist."""
    cur = await conn.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if row is None or not row[0]:
        return {}
    cur = await conn.execute("SELECT name, checksum, applied_at FROM public.schema_migrations")
    return {str(name): (str(digest), applied) for name, digest, applied in await cur.fetchall()}


async def migration_status(
    dsn: str, migrations: Sequence[Migration] | None = None
) -> MigrationReport:
    """Where the database at ``dsn`` stands; reads only."""
    files = list(bundled_migrations() if migrations is None else migrations)
    conn = await _connect(dsn)
    async with conn:
        try:
            return MigrationReport(compare(files, await recorded_migrations(conn)))
        except psycopg.Error as exc:
            raise StorageError(f"reading schema_migrations failed: {exc}") from exc


async def migrate(dsn: str, migrations: Sequence[Migration] | None = None) -> MigrationReport:
    """Apply every pending migration in order; safe to run concurrently and repeatedly.

    Raises :class:`MigrationError` (applying nothing) when an applied file has
    changed, and :class:`StorageError` naming the file when one fails (that
    file is rolled back; the ones before it stay applied).
    """
    files = list(bundled_migrations() if migrations is None else migrations)
    notices: list[str] = []

    def keep_ours(diag: psycopg.errors.Diagnostic) -> None:
        # The files RAISE NOTICE 'superbrain: …' for what an operator must know
        # (a dropped policy); the server's own "already exists, skipping" is noise.
        message = diag.message_primary or ""
        if message.startswith("superbrain:"):
            notices.append(message)

    conn = await _connect(dsn)
    conn.add_notice_handler(keep_ours)
    applied_now: list[str] = []
    async with conn:
        try:
            await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
            async with conn.transaction():
                await conn.execute(_BOOTSTRAP.encode("utf-8"))
            statuses = compare(files, await recorded_migrations(conn))
            changed = [s.name for s in statuses if s.state is MigrationState.CHANGED]
            if changed:
                raise MigrationError(
                    f"applied migration(s) changed since they were applied: {', '.join(changed)}."
                    " Migrations are additive: restore the file and put the change in a new one."
                )
            pending = {s.name for s in statuses if s.state is MigrationState.PENDING}
            for m in files:
                if m.name not in pending:
                    continue
                try:
                    async with conn.transaction():
                        await conn.execute(m.sql.encode("utf-8"))
                        await conn.execute(
                            "INSERT INTO public.schema_migrations (name, checksum) VALUES (%s, %s)",
                            (m.name, m.checksum),
                        )
                except psycopg.OperationalError:
                    raise  # the connection failed, not the file: worth retrying
                except psycopg.Error as exc:
                    raise MigrationError(f"migration {m.name} failed: {exc}") from exc
                applied_now.append(m.name)
            final = compare(files, await recorded_migrations(conn))
        except psycopg.OperationalError as exc:
            raise TransientStorageError(f"migrating failed: {exc}") from exc
        except psycopg.Error as exc:
            raise StorageError(f"migrating failed: {exc}") from exc
    # Closing the connection released the advisory lock.
    return MigrationReport(final, tuple(applied_now), tuple(notices))


__all__ = [
    "MIGRATION_LOCK_KEY",
    "Migration",
    "MigrationError",
    "MigrationReport",
    "MigrationState",
    "MigrationStatus",
    "bundled_migrations",
    "checksum",
    "compare",
    "migrate",
    "migration_status",
    "migrations_from",
    "recorded_migrations",
]
