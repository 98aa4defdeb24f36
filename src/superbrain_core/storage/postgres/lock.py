"""The run lock on Postgres: a session advisory lock plus a lease row beside it.

The advisory lock lives on a connection of its own, outside the pool, for the
whole run: the server frees it the moment the process or its connection dies,
so a killed run never blocks the next night. The lease row (taken through the
same ``superbrain_try_run_lock`` the Supabase backend calls) is what a run
through PostgREST sees, since it cannot see a session lock between requests
except through that function's own check.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
import psycopg

from superbrain_core.errors import RunLockHeld, StorageError
from superbrain_core.logs import get_logger, redact_text
from superbrain_core.storage.run_lock import (
    RunLock,
    heartbeat,
    lease_answer,
    lease_run_lock,
    parse_time,
)

log = get_logger(__name__)


@contextlib.asynccontextmanager
async def advisory_run_lock(
    connect_kwargs: dict[str, Any], where: str, name: str, holder: str, ttl: float
) -> AsyncIterator[RunLock]:
    """Hold the named lock on a dedicated connection for the body's lifetime."""
    ttl_s = max(1, round(ttl))
    try:
        conn = await psycopg.AsyncConnection.connect(**connect_kwargs, autocommit=True)
    except psycopg.OperationalError as exc:
        raise StorageError(f"run lock: cannot connect to {where}: {redact_text(str(exc))}") from exc

    async def one(query: str, *params: Any) -> Any:
        try:
            cur = await conn.execute(query, params)
            row = await cur.fetchone()
        except psycopg.Error as exc:
            raise StorageError(f"run lock {name!r} at {where}: {redact_text(str(exc))}") from exc
        return row[0] if row else None

    async def renew() -> bool:
        return bool(await one("SELECT superbrain_renew_run_lock(%s, %s, %s)", name, holder, ttl_s))

    locked = False
    try:
        locked = bool(await one("SELECT pg_try_advisory_lock(superbrain_run_lock_key(%s))", name))
        if not locked:
            known = await one(
                "SELECT jsonb_build_object('holder', holder, 'acquired_at', acquired_at)"
                " FROM run_locks WHERE name = %s",
                name,
            )
            raise RunLockHeld(
                name,
                known.get("holder") if known else None,
                parse_time(known.get("acquired_at")) if known else None,
            )
        # Refused only by a lease that a run through PostgREST holds and renews.
        answer = await one("SELECT superbrain_try_run_lock(%s, %s, %s, true)", name, holder, ttl_s)
        _, since = lease_answer(name, answer)
        try:
            async with heartbeat(name, renew, every=ttl_s / 3):
                yield RunLock(
                    name=name,
                    holder=holder,
                    acquired_at=since or datetime.now(UTC),
                    mechanism="advisory",
                )
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await one("SELECT superbrain_release_run_lock(%s, %s)", name, holder)
                except StorageError as exc:
                    log.warning("run_lock_release_failed", lock=name, error=str(exc))
    finally:
        # Closing the session frees the advisory lock, whatever happened above; a
        # lease row left behind by a failed release is taken over by the next
        # session-lock holder at once and expires for everyone else.
        with anyio.CancelScope(shield=True):
            if locked:
                # Unlocked explicitly: the server frees a closed session's locks
                # a moment after the client has moved on, and the next run (in
                # this process or another) must not find it still held.
                with contextlib.suppress(StorageError):
                    await one("SELECT pg_advisory_unlock(superbrain_run_lock_key(%s))", name)
            await conn.close()


T = TypeVar("T")
Call = Callable[[str, Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]], Awaitable[T]]


def pooled_run_lock(
    call: Call[Any], why: str, name: str, holder: str, ttl: float
) -> contextlib.AbstractAsyncContextManager[RunLock]:
    """The lease-row lock the Supabase backend holds, through the store's pool.

    For a connection through a transaction-mode pooler (``why`` says how it was
    recognised), where a session advisory lock cannot keep runs apart. Each
    take, renewal and release is one transaction, which a pooler keeps whole;
    the lease expires ``ttl`` after the last renewal if the run dies.
    """
    log.info("run_lock_through_pooler", lock=name, reason=why)

    async def rpc(function: str, params: dict[str, Any]) -> Any:
        names = ", ".join(f"{key} => %s" for key in params)
        query = f"SELECT {function}({names})".encode()

        async def one(conn: psycopg.AsyncConnection[Any]) -> Any:
            cur = await conn.execute(query, list(params.values()))
            row = await cur.fetchone()
            return row[0] if row else None

        return await call(f"run lock {name!r}", one)

    return lease_run_lock(name, holder, ttl, rpc)
