"""The SQLite store's exploration reads: filtered pages of messages, chains, routing, runs.

Each function runs inside one read transaction opened by :class:`SqliteStore`
and returns one page, by key. Filters become fixed SQL fragments with bound
parameters; timestamps compare as text, which is time order because the store
writes them fixed-width in UTC (:func:`sqlite_rows.ts`).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from superbrain_core import jsonutil
from superbrain_core.models import BatchRun, MessageChain, RawMessage, RoutingEntry
from superbrain_core.storage.base import MessageFilter, require_aware
from superbrain_core.storage.sqlite import rows


def _where(clauses: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """``AND``-joined clauses whose value is not ``None``, and their parameters."""
    used = [(sql, value) for sql, value in clauses if value is not None]
    return " AND ".join(sql for sql, _ in used) or "1", [value for _, value in used]


def _ts(value: datetime | None) -> str | None:
    return rows.ts(require_aware(value))


def list_messages(
    conn: sqlite3.Connection, where: MessageFilter, after_id: int, limit: int
) -> list[RawMessage]:
    sql, params = _where(
        [
            ("id > ?", after_id),
            ("message_date >= ?", _ts(where.since)),
            ("message_date < ?", _ts(where.until)),
            ("chat_id = ?", where.chat_id),
            ("message_type = ?", where.message_type),
            ("is_processed = ?", None if where.processed is None else int(where.processed)),
        ]
    )
    found = conn.execute(
        f"SELECT * FROM raw_messages WHERE {sql} ORDER BY id LIMIT ?", (*params, limit)
    )
    return [rows.raw_message(r) for r in found]


def list_chains(
    conn: sqlite3.Connection, chat_id: int | None, after: str | None, limit: int
) -> list[MessageChain]:
    sql, params = _where([("chain_id > ?", after), ("chat_id = ?", chat_id)])
    found = conn.execute(
        f"SELECT * FROM message_chains WHERE {sql} ORDER BY chain_id LIMIT ?", (*params, limit)
    )
    return [rows.chain(r) for r in found]


def list_routing(
    conn: sqlite3.Connection,
    since: datetime | None,
    until: datetime | None,
    run_id: int | None,
    chat_id: int | None,
    after_id: int,
    limit: int,
) -> list[RoutingEntry]:
    sql, params = _where(
        [
            ("id > ?", after_id),
            ("created_at >= ?", _ts(since)),
            ("created_at < ?", _ts(until)),
            ("run_id = ?", run_id),
            ("chat_id = ?", chat_id),
        ]
    )
    found = conn.execute(
        f"SELECT * FROM routing_log WHERE {sql} ORDER BY id LIMIT ?", (*params, limit)
    )
    return [rows.routing_entry(r) for r in found]


def list_batch_runs(conn: sqlite3.Connection, after_id: int, limit: int) -> list[BatchRun]:
    return [
        BatchRun(
            id=r["id"],
            started_at=rows.dt(r["started_at"]) or rows.utcnow(),
            finished_at=rows.dt(r["finished_at"]),
            status=r["status"],
            classifier=r["classifier"],
            counts=jsonutil.loads(r["counts"]) or {},
            digest=r["digest"],
        )
        for r in conn.execute(
            "SELECT * FROM batch_runs WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
    ]
