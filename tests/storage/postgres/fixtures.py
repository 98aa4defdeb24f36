"""Fixtures for the tests on the real Postgres server (marker ``postgres``).

Each test that asks for a database gets its own, created empty and dropped after
it, so tests can migrate, break and inspect schemas independently.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from tests.storage.postgres import pgutil


@pytest.fixture(scope="session")
def pg_server() -> None:
    """The server answers (else skip; fail under CI) and has Supabase's API roles."""
    pgutil.require_server()
    pgutil.ensure_api_roles()


@pytest.fixture
def empty_dsn(pg_server: None) -> Iterator[str]:
    with pgutil.database("it") as dsn:
        yield dsn


@pytest.fixture
def migrated_dsn(empty_dsn: str) -> str:
    from superbrain_core.storage.postgres import migrations

    anyio.run(migrations.migrate, empty_dsn)
    return empty_dsn


@pytest.fixture
def legacy_dsn(empty_dsn: str) -> str:
    """A database holding the original Supabase tables and rows, not yet migrated."""
    pgutil.load_legacy_schema(empty_dsn)
    return empty_dsn
