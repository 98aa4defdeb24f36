"""The Postgres store's exploration reads: filtered pages of messages, chains, routing, runs.

Plain SELECTs paged by key, with the column lists and converters the other
reads use (:mod:`postgres_rows`), so a page holds records equal to the SQLite
store's. Filters become fixed SQL fragments with bound parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow, TupleRow, dict_row

from superbrain_core.models import BatchRun, MessageChain, RawMessage, RoutingEntry
from superbrain_core.storage.base import MessageFilter, require_aware
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.pgsql import rows

Connection = psycopg.AsyncConnection[TupleRow]


def _where(clauses: Sequence[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """``AND``-joined clauses whose value is not ``None``, and their parameters."""
    used = [(sql, value) for sql, value in clauses if value is not None]
    return " AND ".join(sql for sql, _ in used) or "true", [value for _, value in used]


async def _dicts(conn: Connection, query: str, params: Sequence[Any]) -> list[DictRow]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query.encode("utf-8"), params)
    return await cur.fetchall()


async def list_messages(
    conn: Connection, where: MessageFilter, after_id: int, limit: int
) -> list[RawMessage]:
    sql, params = _where(
        [
            ("id > %s", after_id),
            ("message_date >= %s", where.since),
            ("message_date < %s", where.until),
            ("chat_id = %s", where.chat_id),
            ("message_type = %s", where.message_type),
            ("is_processed = %s", where.processed),
        ]
    )
    found = await _dicts(
        conn,
        f"SELECT {rows.MESSAGE_COLUMNS} FROM raw_messages WHERE {sql} ORDER BY id LIMIT %s",
        (*params, limit),
    )
    return [rows.raw_message(r) for r in found]


async def list_chains(
    conn: Connection, chat_id: int | None, after: str | None, limit: int
) -> list[MessageChain]:
    # uuid order is byte order, which is the order of the lowercase text form the
    # SQLite store keys by, so both page through chains in the same order.
    sql, params = _where(
        [
            ("chain_id > %s", uuid.UUID(after) if after is not None else None),
            ("chat_id = %s", chat_id),
        ]
    )
    found = await _dicts(
        conn,
        f"SELECT {rows.CHAIN_COLUMNS} FROM message_chains WHERE {sql}"
        " ORDER BY message_chains.chain_id LIMIT %s",
        (*params, limit),
    )
    return [rows.chain(r) for r in found]


async def list_routing(
    conn: Connection,
    since: datetime | None,
    until: datetime | None,
    run_id: int | None,
    chat_id: int | None,
    after_id: int,
    limit: int,
) -> list[RoutingEntry]:
    sql, params = _where(
        [
            ("id > %s", after_id),
            ("created_at >= %s", require_aware(since)),
            ("created_at < %s", require_aware(until)),
            ("run_id = %s", run_id),
            ("chat_id = %s", chat_id),
        ]
    )
    found = await _dicts(
        conn,
        f"SELECT {rows.ROUTING_COLUMNS} FROM routing_log WHERE {sql} ORDER BY id LIMIT %s",
        (*params, limit),
    )
    return [rows.routing_entry(r) for r in found]


async def list_batch_runs(conn: Connection, after_id: int, limit: int) -> list[BatchRun]:
    found = await _dicts(
        conn,
        "SELECT id, started_at, finished_at, status, classifier, counts::text AS counts,"
        " digest FROM batch_runs WHERE id > %s ORDER BY id LIMIT %s",
        (after_id, limit),
    )
    return [
        BatchRun(
            id=r["id"],
            started_at=rows.utc(r["started_at"]),
            finished_at=rows.utc(r["finished_at"]) if r["finished_at"] else None,
            status=r["status"],
            classifier=r["classifier"],
            counts=pgcodec.loads_raw(r["counts"]) or {},
            digest=r["digest"],
        )
        for r in found
    ]
