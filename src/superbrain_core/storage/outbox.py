"""What the store keeps about notifications and crashed runs, shared by every backend.

The nightly run sends each digest and question through an *outbox*: a row per
``(night, owner, kind, item)`` claimed before the Bot API is called and marked
sent after Telegram answers. Two runs that race, or a Job retried after its pod
died, find the row taken and send nothing; a send that failed leaves the row
``failed`` so the same night's retry, or a later night (for questions), tries
again. ``superbrain nightly --resend`` claims with ``force`` to send on purpose.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs

#: Row states: claimed and being sent, confirmed by Telegram, or refused/lost.
SENDING = "sending"
SENT = "sent"
FAILED = "failed"


@attrs.frozen
class Notification:
    """One digest or question meant for one owner on one night."""

    night: date
    owner_id: int
    kind: str
    """``digest`` or ``question``."""
    item_key: str = ""
    """Which question (``chat_id:message_id``); ``""`` for the digest."""
    body: str = ""
    reply_to_message_id: int | None = None


@attrs.frozen
class OutboxEntry:
    """A stored outbox row as :meth:`Store.open_questions` and ``notifications`` read it."""

    notification: Notification
    status: str
    message_id: int | None = None
    error: str | None = None
    nights: int = 1
    """For :meth:`Store.open_questions`: on how many nights the item was asked;
    for :meth:`Store.notifications`: how many times this row was claimed."""


@attrs.frozen
class RescuedRuns:
    """What :meth:`Store.rescue_crashed_runs` closed and handed back."""

    run_ids: tuple[int, ...] = ()
    released: int = 0


def entry_from(row: Any) -> OutboxEntry:
    """An :class:`OutboxEntry` from a row or JSON object with the outbox's columns."""
    night = row["night"]
    if isinstance(night, str):
        night = date.fromisoformat(night[:10])
    return OutboxEntry(
        notification=Notification(
            night=night,
            owner_id=int(row["owner_id"]),
            kind=str(row["kind"]),
            item_key=str(row["item_key"]),
            body=str(row["body"]),
            reply_to_message_id=row["reply_to_message_id"],
        ),
        status=str(row["status"]),
        message_id=row["message_id"],
        error=row["error"],
        nights=int(row["nights"]),
    )


def rescued_from(answer: Any) -> RescuedRuns:
    """The JSON answer of ``superbrain_rescue_crashed_runs``."""
    if not isinstance(answer, dict):
        return RescuedRuns()
    runs = answer.get("runs") or []
    return RescuedRuns(tuple(int(r) for r in runs), int(answer.get("released") or 0))


__all__ = [
    "FAILED",
    "SENDING",
    "SENT",
    "Notification",
    "OutboxEntry",
    "RescuedRuns",
    "entry_from",
    "rescued_from",
]
