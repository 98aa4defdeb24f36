"""Crash rescue and the notification outbox on Postgres: calls of ``sql/0009``'s functions.

Mixed into :class:`~superbrain_core.storage.postgres.store.PostgresStore`; the
Supabase store calls the same functions through ``rpc``, so both backends
share one meaning, and every time in them is the database's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from psycopg.rows import TupleRow

from superbrain_core.storage.outbox import (
    Notification,
    OutboxEntry,
    RescuedRuns,
    entry_from,
    rescued_from,
)

T = TypeVar("T")
Connection = psycopg.AsyncConnection[TupleRow]


async def scalar(conn: Connection, function: str, *args: Any) -> Any:
    marks = ", ".join(["%s"] * len(args))
    cur = await conn.execute(f"SELECT {function}({marks})".encode(), args)
    row = await cur.fetchone()
    return row[0] if row else None


def _key(n: Notification) -> tuple[Any, ...]:
    return (n.night, n.owner_id, n.kind, n.item_key)


class OutboxMethods:
    """The store's crash-rescue and outbox methods."""

    async def _call(self, what: str, work: Callable[[Connection], Awaitable[T]]) -> T:
        raise NotImplementedError  # provided by PostgresPool

    async def rescue_crashed_runs(
        self, worker: str, *, stale_after: timedelta, exclusive: bool, now: datetime
    ) -> RescuedRuns:
        answer = await self._call(
            "rescue_crashed_runs",
            lambda c: scalar(
                c,
                "superbrain_rescue_crashed_runs",
                worker,
                stale_after.total_seconds(),
                exclusive,
            ),
        )
        return rescued_from(answer)

    async def claim_notification(
        self, notification: Notification, holder: str, *, force: bool = False
    ) -> bool:
        n = notification
        return bool(
            await self._call(
                "claim_notification",
                lambda c: scalar(
                    c,
                    "superbrain_claim_notification",
                    *_key(n),
                    holder,
                    n.body,
                    n.reply_to_message_id,
                    force,
                ),
            )
        )

    async def finish_notification(
        self,
        notification: Notification,
        holder: str,
        *,
        message_id: int | None,
        error: str | None,
    ) -> None:
        await self._call(
            "finish_notification",
            lambda c: scalar(
                c,
                "superbrain_finish_notification",
                *_key(notification),
                holder,
                message_id,
                error,
            ),
        )

    async def open_questions(
        self, owner_id: int, *, before: date, max_asks: int
    ) -> list[OutboxEntry]:
        found = await self._call(
            "open_questions",
            lambda c: scalar(c, "superbrain_open_questions", owner_id, before, max_asks),
        )
        return [entry_from(r) for r in found or []]

    async def notifications(self, night: date) -> list[OutboxEntry]:
        found = await self._call(
            "notifications", lambda c: scalar(c, "superbrain_notifications", night)
        )
        return [entry_from(r) for r in found or []]
