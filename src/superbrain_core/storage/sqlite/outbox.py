"""Crash rescue and the notification outbox on SQLite (schema ``0006_outbox_and_leases``).

Plain functions on a connection inside the store's write transaction, like
:mod:`.work`; the meaning is the one ``sql/0009_outbox_and_leases.sql`` gives
the Postgres side. SQLite has one clock (the machine's), so ``now`` is passed in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TypeVar

from superbrain_core.storage.outbox import Notification, OutboxEntry, RescuedRuns, entry_from
from superbrain_core.storage.sqlite.rows import ts as _ts
from superbrain_core.storage.sqlite.rows import utcnow as _now

T = TypeVar("T")

_ENTRY_COLUMNS = (
    "night, owner_id, kind, item_key, status, body, reply_to_message_id, message_id, error"
)


def heartbeat(conn: sqlite3.Connection, worker: str, now: str) -> None:
    conn.execute(
        "UPDATE batch_runs SET heartbeat_at = ? WHERE worker = ? AND status = 'running'",
        (now, worker),
    )


def rescue(
    conn: sqlite3.Connection, worker: str, stale_before: str, exclusive: bool, now: str
) -> RescuedRuns:
    dead = conn.execute(
        "UPDATE batch_runs SET status = 'crashed', finished_at = ?"
        " WHERE status = 'running' AND worker IS NOT ?"
        " AND (? OR coalesce(heartbeat_at, started_at) < ?) RETURNING id, worker",
        (now, worker, int(exclusive), stale_before),
    ).fetchall()
    workers = sorted({r["worker"] for r in dead if r["worker"] is not None})
    if exclusive:
        cur = conn.execute(
            "UPDATE raw_messages SET claimed_by = NULL, claim_expires_at = NULL"
            " WHERE is_processed = 0 AND claimed_by IS NOT NULL AND claimed_by IS NOT ?",
            (worker,),
        )
        released = cur.rowcount
    else:
        released = 0
        for name in workers:
            cur = conn.execute(
                "UPDATE raw_messages SET claimed_by = NULL, claim_expires_at = NULL"
                " WHERE is_processed = 0 AND claimed_by = ?",
                (name,),
            )
            released += cur.rowcount
    return RescuedRuns(tuple(sorted(int(r["id"]) for r in dead)), released)


def claim(conn: sqlite3.Connection, n: Notification, holder: str, force: bool, now: str) -> bool:
    cur = conn.execute(
        "INSERT INTO notification_outbox AS o (night, owner_id, kind, item_key, status, holder,"
        " body, reply_to_message_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, 'sending', ?, ?, ?, ?, ?)"
        " ON CONFLICT (night, owner_id, kind, item_key) DO UPDATE"
        " SET status = 'sending', holder = excluded.holder, body = excluded.body,"
        " reply_to_message_id = excluded.reply_to_message_id, error = NULL,"
        " sends = o.sends + 1, updated_at = excluded.updated_at"
        " WHERE o.status = 'failed' OR ?",
        (
            n.night.isoformat(),
            n.owner_id,
            n.kind,
            n.item_key,
            holder,
            n.body,
            n.reply_to_message_id,
            now,
            now,
            int(force),
        ),
    )
    return cur.rowcount > 0


def finish(
    conn: sqlite3.Connection,
    n: Notification,
    holder: str,
    message_id: int | None,
    error: str | None,
    now: str,
) -> None:
    conn.execute(
        "UPDATE notification_outbox SET status = ?, message_id = ?, error = ?, updated_at = ?"
        " WHERE night = ? AND owner_id = ? AND kind = ? AND item_key = ? AND holder = ?",
        (
            "sent" if error is None else "failed",
            message_id,
            error,
            now,
            n.night.isoformat(),
            n.owner_id,
            n.kind,
            n.item_key,
            holder,
        ),
    )


def open_questions(
    conn: sqlite3.Connection, owner_id: int, before: date, max_asks: int
) -> list[OutboxEntry]:
    found = conn.execute(
        f"WITH asks AS (SELECT {_ENTRY_COLUMNS},"
        "  count(*) OVER (PARTITION BY item_key) AS nights,"
        "  row_number() OVER (PARTITION BY item_key ORDER BY night DESC) AS newest"
        "  FROM notification_outbox WHERE owner_id = ? AND kind = 'question' AND night < ?)"
        " SELECT * FROM asks a WHERE a.newest = 1 AND a.nights < ?"
        " AND (a.status = 'failed' OR (a.status = 'sent' AND NOT EXISTS ("
        "   SELECT 1 FROM raw_messages r"
        "   WHERE r.chat_id = a.owner_id AND r.reply_to_message_id = a.message_id)))"
        " ORDER BY a.item_key",
        (owner_id, before.isoformat(), max_asks),
    ).fetchall()
    return [entry_from(r) for r in found]


def notifications(conn: sqlite3.Connection, night: date) -> list[OutboxEntry]:
    found = conn.execute(
        f"SELECT {_ENTRY_COLUMNS}, sends AS nights FROM notification_outbox"
        " WHERE night = ? ORDER BY id",
        (night.isoformat(),),
    ).fetchall()
    return [entry_from(r) for r in found]


class OutboxMethods:
    """The store's crash-rescue and outbox methods (mixed into ``SqliteStore``)."""

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        raise NotImplementedError  # provided by SqliteStore

    async def rescue_crashed_runs(
        self, worker: str, *, stale_after: timedelta, exclusive: bool, now: datetime
    ) -> RescuedRuns:
        stale = _ts(now - stale_after) or ""
        return await self._run(
            lambda c: rescue(c, worker, stale, exclusive, _ts(now) or ""), write=True
        )

    async def claim_notification(
        self, notification: Notification, holder: str, *, force: bool = False
    ) -> bool:
        return await self._run(
            lambda c: claim(c, notification, holder, force, _ts(_now()) or ""), write=True
        )

    async def finish_notification(
        self,
        notification: Notification,
        holder: str,
        *,
        message_id: int | None,
        error: str | None,
    ) -> None:
        stamp = _ts(_now()) or ""
        await self._run(
            lambda c: finish(c, notification, holder, message_id, error, stamp),
            write=True,
        )

    async def open_questions(
        self, owner_id: int, *, before: date, max_asks: int
    ) -> list[OutboxEntry]:
        return await self._run(lambda c: open_questions(c, owner_id, before, max_asks), write=False)

    async def notifications(self, night: date) -> list[OutboxEntry]:
        return await self._run(lambda c: notifications(c, night), write=False)
