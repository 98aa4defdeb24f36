"""The backends of the one storage conformance suite (a pytest plugin loaded by the root conftest).

A backend joins by adding a factory to ``BACKENDS``: a callable that, given the
pytest request and tmp_path, returns a factory producing *fresh, independent
connections to one empty database* (the second connection is how the suite
proves atomicity across writers).

The Postgres backends run on the real server (``SUPERBRAIN_TEST_PG_DSN``): one
database per session, created by running the real ``superbrain db migrate``
twice, and emptied before each test. ``postgres_legacy`` is the same suite on a
database that held the original Supabase tables (with rows) before migrating,
so the upgraded schema is held to the same behaviour as a fresh one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from superbrain_core.storage.base import Store
from superbrain_core.storage.sqlite.store import SqliteStore

StoreFactory = Callable[[], Store]


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    path = tmp_path / "conformance.db"
    return lambda: SqliteStore(path)


def _postgres_factory(dsn: str) -> StoreFactory:
    from tests.storage.postgres import pgutil

    pgutil.truncate_all(dsn)
    from superbrain_core.storage.postgres.store import PostgresStore

    return lambda: PostgresStore(dsn)


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return _postgres_factory(request.getfixturevalue("postgres_conformance_dsn"))


def _postgres_legacy(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return _postgres_factory(request.getfixturevalue("postgres_legacy_conformance_dsn"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StoreFactory]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
    "postgres_legacy": _postgres_legacy,
}


@pytest.fixture(scope="session")
def postgres_conformance_dsn() -> Iterator[str]:
    from tests.storage.postgres import pgutil

    pgutil.require_server()
    pgutil.ensure_api_roles()
    with pgutil.database("conformance") as dsn:
        pgutil.cli_migrate_twice(dsn)
        yield dsn


@pytest.fixture(scope="session")
def postgres_legacy_conformance_dsn() -> Iterator[str]:
    from tests.storage.postgres import pgutil

    pgutil.require_server()
    pgutil.ensure_api_roles()
    with pgutil.database("conformance_legacy") as dsn:
        pgutil.load_legacy_schema(dsn)
        pgutil.cli_migrate_twice(dsn)
        yield dsn


@pytest.fixture(
    params=[
        # Marked, so that under CI=true a Postgres backend that skipped fails the run.
        pytest.param(name, marks=pytest.mark.postgres) if name.startswith("postgres") else name
        for name in sorted(BACKENDS)
    ]
)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    async with store_factory() as opened:
        yield opened
