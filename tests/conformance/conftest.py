"""One storage conformance suite, run against every backend.

A backend joins by adding a factory to ``BACKENDS``: a callable that, given a
pytest tmp_path, returns an async context manager factory producing *fresh,
independent connections to one empty database* (the second connection is how the
suite proves atomicity across writers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from superbrain_core.storage.base import Store
from superbrain_core.storage.sqlite import SqliteStore

StoreFactory = Callable[[], Store]


def _sqlite(tmp_path: Path) -> StoreFactory:
    path = tmp_path / "conformance.db"
    return lambda: SqliteStore(path)


BACKENDS: dict[str, Callable[[Path], StoreFactory]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    async with store_factory() as opened:
        yield opened
