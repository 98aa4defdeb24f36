"""The run lock between the two kinds of holder on one Postgres database: a run on a
direct connection (session advisory lock) and a run through PostgREST (a lease
row). They must exclude each other; a dead session holder must not block the
next night; a lease must expire when its holder stops renewing it, and stay
alive while it does."""

from __future__ import annotations

import anyio
import psycopg
import pytest

from superbrain_core.errors import RunLockHeld
from superbrain_core.storage.postgres.store import PostgresStore
from superbrain_core.storage.supabase.store import SupabaseStore
from tests.storage.postgres import pgutil
from tests.storage.supabase.test_rpc_names import (  # noqa: F401  (fixtures)
    KEY,
    PROJECT,
    PostgrestOnPostgres,
    rest,
    supabase_dsn,
)

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


def supabase(rest: PostgrestOnPostgres) -> SupabaseStore:  # noqa: F811
    return SupabaseStore(PROJECT, KEY, transport=rest, retry_delay=0.01)


async def test_a_lease_holder_and_a_session_holder_exclude_each_other(
    rest: PostgrestOnPostgres,  # noqa: F811
    supabase_dsn: str,  # noqa: F811
) -> None:
    async with supabase(rest) as api, PostgresStore(supabase_dsn) as direct:
        async with api.run_lock("batch", "through-postgrest") as held:
            assert held.mechanism == "lease"
            with pytest.raises(RunLockHeld, match="through-postgrest"):
                async with direct.run_lock("batch", "direct"):
                    pytest.fail("ran beside a lease holder")
        async with direct.run_lock("batch", "direct") as held:
            assert held.mechanism == "advisory"
            with pytest.raises(RunLockHeld, match="direct"):
                async with api.run_lock("batch", "through-postgrest"):
                    pytest.fail("ran beside a session holder")
        # Both released: the lease kind may go again.
        async with api.run_lock("batch", "through-postgrest"):
            pass


async def test_a_dead_session_holder_does_not_block_the_next_night(
    supabase_dsn: str,  # noqa: F811
) -> None:
    """Its connection dies (the pod is killed): the advisory lock goes with it, and
    the lease row it left behind is taken over at once by the next session holder."""
    pgutil.truncate_all(supabase_dsn)
    async with PostgresStore(supabase_dsn) as first, PostgresStore(supabase_dsn) as second:
        with anyio.CancelScope() as scope:
            async with first.run_lock("batch", "killed-run", ttl=3600):
                with psycopg.connect(supabase_dsn, autocommit=True) as admin:
                    killed = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks"
                        " WHERE locktype = 'advisory' AND granted"
                    ).fetchall()
                    assert killed == [(True,)]
                scope.cancel()
                await anyio.sleep(10)
        # What the dead run leaves: its advisory lock is gone, its hour-long lease is not.
        with psycopg.connect(supabase_dsn, autocommit=True) as admin:
            left = admin.execute("SELECT holder FROM run_locks").fetchall()
            assert left == [("killed-run",)]
        async with second.run_lock("batch", "next-night") as held:
            assert held.holder == "next-night"


async def test_a_lease_expires_when_its_holder_stops_renewing_and_lives_while_it_does(
    rest: PostgrestOnPostgres,  # noqa: F811
    supabase_dsn: str,  # noqa: F811
) -> None:
    async with supabase(rest) as api, supabase(rest) as other:
        # Held well past its ttl: the heartbeat (every ttl/3) keeps it.
        async with api.run_lock("batch", "alive", ttl=1):
            await anyio.sleep(2.5)
            with pytest.raises(RunLockHeld, match="alive"):
                async with other.run_lock("batch", "contender", ttl=1):
                    pass
        # A holder that died without releasing: a lease row nobody renews.
        with psycopg.connect(supabase_dsn, autocommit=True) as admin:
            admin.execute("SELECT superbrain_try_run_lock('batch', 'died', 1)")
        with pytest.raises(RunLockHeld, match="died"):
            async with other.run_lock("batch", "contender", ttl=1):
                pass
        await anyio.sleep(1.2)
        async with other.run_lock("batch", "contender", ttl=1) as held:
            assert held.holder == "contender"


def test_a_transaction_pooler_is_recognised_in_the_url() -> None:
    from superbrain_core.storage.postgres.connect import connection_kwargs, transaction_pooler

    pooled = "postgresql://postgres.ref:pw@aws-0-eu.pooler.supabase.com:6543/postgres"
    assert "6543" in (transaction_pooler(pooled) or "")
    assert transaction_pooler(pooled.replace(":6543", ":5432")) is None  # session mode
    flagged = "postgresql://u@db.example:5432/app?sslmode=require&pgbouncer=true"
    assert "pgbouncer=true" in (transaction_pooler(flagged) or "")
    # libpq never sees the flag (it refuses unknown parameters).
    params = connection_kwargs(flagged)
    assert "pgbouncer" not in params and params["sslmode"] == "require"
    assert transaction_pooler("postgresql://u@h/app?pgbouncer=false") is None


async def test_through_a_transaction_pooler_the_run_lock_is_a_lease_row(
    supabase_dsn: str,  # noqa: F811
) -> None:
    """A session advisory lock cannot keep runs apart through a transaction pooler,
    so the store holds the lease row instead, one transaction per step; it still
    excludes a direct holder, another pooled holder and a PostgREST holder."""
    pgutil.truncate_all(supabase_dsn)
    sep = "&" if "?" in supabase_dsn else "?"
    pooled_dsn = f"{supabase_dsn}{sep}pgbouncer=true"
    async with (
        PostgresStore(pooled_dsn) as pooled,
        PostgresStore(pooled_dsn) as other_pooled,
        PostgresStore(supabase_dsn) as direct,
    ):
        async with pooled.run_lock("batch", "through-the-pooler", ttl=30) as held:
            assert held.mechanism == "lease"
            with pytest.raises(RunLockHeld, match="through-the-pooler"):
                async with other_pooled.run_lock("batch", "second-pooled"):
                    pytest.fail("two runs through the pooler")
            with pytest.raises(RunLockHeld, match="through-the-pooler"):
                async with direct.run_lock("batch", "direct"):
                    pytest.fail("a direct run beside a pooled one")
            with psycopg.connect(supabase_dsn) as conn:
                (held_by,) = conn.execute("SELECT holder FROM run_locks").fetchone() or ("",)
            assert held_by == "through-the-pooler"
        # Released: the next run (either kind) goes.
        async with direct.run_lock("batch", "direct") as again:
            assert again.mechanism == "advisory"
        async with other_pooled.run_lock("batch", "second-pooled"):
            pass
