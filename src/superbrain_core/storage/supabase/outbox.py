"""Crash rescue and the notification outbox through PostgREST: one ``rpc`` each.

The same ``sql/0009`` functions the Postgres store calls, so the meaning (and
the clock: the database's) is the same; mixed into ``SupabaseStore``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from superbrain_core.models import JSONDict
from superbrain_core.storage.outbox import (
    Notification,
    OutboxEntry,
    RescuedRuns,
    entry_from,
    rescued_from,
)
from superbrain_core.storage.supabase.rest import RestClient


def _key(n: Notification) -> JSONDict:
    return {
        "p_night": n.night.isoformat(),
        "p_owner": n.owner_id,
        "p_kind": n.kind,
        "p_key": n.item_key,
    }


class OutboxMethods:
    """The store's crash-rescue and outbox methods."""

    _rest: RestClient

    async def rescue_crashed_runs(
        self, worker: str, *, stale_after: timedelta, exclusive: bool, now: datetime
    ) -> RescuedRuns:
        answer = await self._rest.rpc(
            "rescue_crashed_runs",
            "superbrain_rescue_crashed_runs",
            {
                "p_worker": worker,
                "p_stale_seconds": stale_after.total_seconds(),
                "p_exclusive": exclusive,
            },
        )
        return rescued_from(answer)

    async def claim_notification(
        self, notification: Notification, holder: str, *, force: bool = False
    ) -> bool:
        params = _key(notification) | {
            "p_holder": holder,
            "p_body": notification.body,
            "p_reply_to": notification.reply_to_message_id,
            "p_force": force,
        }
        return bool(
            await self._rest.rpc("claim_notification", "superbrain_claim_notification", params)
        )

    async def finish_notification(
        self,
        notification: Notification,
        holder: str,
        *,
        message_id: int | None,
        error: str | None,
    ) -> None:
        params = _key(notification) | {
            "p_holder": holder,
            "p_message_id": message_id,
            "p_error": error,
        }
        await self._rest.rpc("finish_notification", "superbrain_finish_notification", params)

    async def open_questions(
        self, owner_id: int, *, before: date, max_asks: int
    ) -> list[OutboxEntry]:
        found = await self._rest.rpc(
            "open_questions",
            "superbrain_open_questions",
            {"p_owner": owner_id, "p_before": before.isoformat(), "p_max_asks": max_asks},
        )
        return [entry_from(r) for r in found or []]

    async def notifications(self, night: date) -> list[OutboxEntry]:
        found = await self._rest.rpc(
            "notifications", "superbrain_notifications", {"p_night": night.isoformat()}
        )
        return [entry_from(r) for r in found or []]
