"""The Postgres side of :meth:`Store.import_messages`: one call of
``superbrain_import_messages`` per batch with the jsonb that
:mod:`superbrain_core.storage.pgsql.importing` builds (the Supabase store sends
the same through ``rpc``).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import TupleRow

from superbrain_core.models import ImportedMessage
from superbrain_core.storage.base import CaptureOptions
from superbrain_core.storage.pgsql.importing import FUNCTION, arguments, import_ids

Connection = psycopg.AsyncConnection[TupleRow]


async def call(
    conn: Connection, messages: Sequence[ImportedMessage], payload: str, options: CaptureOptions
) -> tuple[int | None, ...]:
    cur = await conn.execute(f"SELECT {FUNCTION}(%s::jsonb, %s, %s)", arguments(payload, options))
    row = await cur.fetchone()
    return import_ids(messages, row[0] if row else None)


async def stored_keys(conn: Connection, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    cur = await conn.execute(
        "SELECT DISTINCT m.chat_id, m.message_id FROM raw_messages m"
        " JOIN unnest(%s::bigint[], %s::bigint[]) AS k(chat_id, message_id)"
        " ON m.chat_id = k.chat_id AND m.message_id = k.message_id",
        ([k[0] for k in keys], [k[1] for k in keys]),
    )
    return {(int(c), int(m)) for c, m in await cur.fetchall()}
