"""The analyzer's side of the Postgres store: thin psycopg calls of the ``sql/0003`` functions.

Payloads and results are built by :mod:`superbrain_core.storage.pgsql.work`, the
same code the Supabase store sends through ``rpc``. Reading the contexts is one
call per page, not per message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow, TupleRow, dict_row

from superbrain_core.models import (
    JSONDict,
    Placement,
    PlacementResult,
    RoutingEntry,
    WorkContext,
    WorkFailure,
    WorkItem,
    WorkProblem,
)
from superbrain_core.records import JSON_COLUMNS, TABLE_COLUMNS
from superbrain_core.storage.pgsql import json_rows, rows
from superbrain_core.storage.pgsql.work import (
    failures_payload,
    placement_results,
    placements_payload,
    work_items,
)

Connection = psycopg.AsyncConnection[TupleRow]


async def _dicts(conn: Connection, query: str, params: Sequence[Any] = ()) -> list[DictRow]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query.encode("utf-8"), params)
    return await cur.fetchall()


async def _scalar(conn: Connection, query: str, params: Sequence[Any] = ()) -> Any:
    cur = await conn.execute(query.encode("utf-8"), params)
    row = await cur.fetchone()
    return row[0] if row else None


async def claim(
    conn: Connection, worker: str, limit: int, now: datetime, lease_until: datetime
) -> list[WorkItem]:
    return work_items(
        await _dicts(
            conn,
            "SELECT * FROM superbrain_claim_work(%s, %s, %s, %s)",
            (worker, limit, now, lease_until),
        )
    )


async def peek(
    conn: Connection,
    after_id: int,
    limit: int,
    now: datetime,
    reclassify: tuple[str, str] | None,
) -> list[WorkItem]:
    name, version = reclassify or (None, None)
    return work_items(
        await _dicts(
            conn,
            "SELECT * FROM superbrain_peek_work(%s, %s, %s, %s, %s)",
            (after_id, limit, now, name, version),
        )
    )


async def pending(conn: Connection, now: datetime) -> int:
    return int(await _scalar(conn, "SELECT superbrain_pending_work(%s)", (now,)) or 0)


async def load_contexts(
    conn: Connection, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], WorkContext]:
    """One call of ``superbrain_work_contexts_json`` for the page: the same function and
    the same JSON form the Supabase store reads, so both build identical contexts."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    found = await _scalar(
        conn,
        "SELECT superbrain_work_contexts_json(%s::bigint[], %s::bigint[])",
        ([k[0] for k in unique], [k[1] for k in unique]),
    )
    contexts = (json_rows.work_context(c) for c in found or [])
    return {ctx.key: ctx for ctx in contexts}


async def apply(
    conn: Connection, placements: Sequence[Placement], run_id: int | None, now: datetime
) -> list[PlacementResult]:
    found = await _scalar(
        conn,
        "SELECT superbrain_apply_placements(%s::jsonb, %s, %s)",
        (placements_payload(placements), run_id, now),
    )
    return placement_results(placements, found)


async def record_failures(conn: Connection, failures: Sequence[WorkFailure], now: datetime) -> None:
    await conn.execute(
        "SELECT superbrain_record_work_failures(%s::jsonb, %s)", (failures_payload(failures), now)
    )


async def count_of(conn: Connection, function: str, *args: Any) -> int:
    marks = ", ".join(["%s"] * len(args))
    return int(await _scalar(conn, f"SELECT {function}({marks})", args) or 0)


async def work_problems(conn: Connection, limit: int) -> list[WorkProblem]:
    return [
        WorkProblem(
            raw_message_id=r["id"],
            chat_id=r["chat_id"],
            message_id=r["message_id"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            next_attempt_at=rows.utc(r["next_attempt_at"]) if r["next_attempt_at"] else None,
            quarantined_at=rows.utc(r["quarantined_at"]) if r["quarantined_at"] else None,
        )
        for r in await _dicts(
            conn,
            "SELECT id, chat_id, message_id, attempts, last_error, next_attempt_at,"
            " quarantined_at FROM raw_messages WHERE NOT is_processed AND attempts > 0"
            " ORDER BY quarantined_at IS NULL, id LIMIT %s",
            (limit,),
        )
    ]


async def routing_history(conn: Connection, chat_id: int, message_id: int) -> list[RoutingEntry]:
    return [
        rows.routing_entry(r)
        for r in await _dicts(
            conn,
            f"SELECT {rows.ROUTING_COLUMNS} FROM routing_log"
            " WHERE chat_id = %s AND message_id = %s ORDER BY id",
            (chat_id, message_id),
        )
    ]


async def list_records(conn: Connection, table: str, after_id: int, limit: int) -> list[JSONDict]:
    if table not in TABLE_COLUMNS:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLE_COLUMNS)}")
    found = await _dicts(
        conn, f"SELECT * FROM {table} WHERE id > %s ORDER BY id LIMIT %s", (after_id, limit)
    )
    return [
        {
            k: (json.loads(v) if isinstance(v, str) else v) if k in JSON_COLUMNS else v
            for k, v in r.items()
        }
        for r in found
    ]
