"""Fresh, empty databases for one benchmark section each.

SQLite: a new file in the run's temporary directory. Postgres: a new database
on the server named by ``--db``, migrated with the real migrations and dropped
afterwards, so a benchmark never touches existing data.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_counter = itertools.count()


@contextlib.asynccontextmanager
async def scratch_db_url(db: str | None, tmp: Path) -> AsyncIterator[str]:
    if not db or db.startswith("sqlite"):
        yield f"sqlite:///{tmp / f'scratch-{next(_counter)}.db'}"
        return
    import psycopg

    from superbrain_core.storage.postgres.migrations import migrate

    name = f"superbrain_bench_{uuid.uuid4().hex[:10]}"
    admin = await psycopg.AsyncConnection.connect(db, autocommit=True)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(db)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
