"""Telling the owners what the night's run did: the digest and the open questions.

The digest goes to every owner's private chat. Each question about an item
filed with low confidence goes as a *reply to the owner's own message* it is
about, and is recorded in ``bot_responses`` with that message as its related
user message: when the owner answers the question by replying to it, capture
resolves the reply through the bot's message to the original message's chain,
and the next run re-files the item with the answer in view.

Every send, failed or not, is recorded, so ``bot_responses`` shows what the
owner was told. A failed send never undoes the run: the items stay filed.

At most once: each digest and question goes through the store's outbox, keyed
by night, owner, kind and item. It is claimed before the Bot API is called and
marked sent when Telegram answers, so a retried Job or a second run racing this
one skips what was sent (or is being sent). A failed send stays ``failed`` and
is tried again by the same night's retry; a question that failed, or was sent
and never answered, is asked again on later nights, on at most ``max_asks``
nights in all. :meth:`DigestSender.resend` sends a night's outbox again on
purpose (``superbrain nightly --resend``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import date, tzinfo
from typing import Any

import anyio
import attrs

from superbrain_core.analyzer.batch import BatchReport
from superbrain_core.analyzer.digest import MAX_QUESTIONS, Question
from superbrain_core.botapi import BotApiClient, BotApiError
from superbrain_core.logs import get_logger
from superbrain_core.models import BotResponseIn, JSONDict
from superbrain_core.storage.base import Store
from superbrain_core.storage.outbox import Notification

log = get_logger(__name__)

#: Telegram refuses longer texts in one message.
MAX_MESSAGE_LENGTH = 4096
#: On how many nights one question is asked at most (failed or unanswered).
DEFAULT_MAX_ASKS = 3


@attrs.frozen
class Delivery:
    """One message sent (or not) to an owner."""

    kind: str
    """``digest`` or ``question``."""
    chat_id: int
    reply_to_message_id: int | None
    message_id: int | None
    """The sent message's id; ``None`` when sending failed."""
    error: str | None = None
    skipped: bool = False
    """Not sent by this run: the outbox says it was sent, or is being sent, already."""

    @property
    def ok(self) -> bool:
        return self.error is None


#: Sources whose message ids are not the bot chat's (history imported from a
#: Telegram Desktop export numbers messages per account, not per bot chat).
IMPORTED_SOURCES = frozenset({"desktop_export"})


def questions_to_ask(report: BatchReport, owner_id: int) -> list[Question]:
    """The questions that go to ``owner_id`` as replies, at most :data:`MAX_QUESTIONS`.

    Only about messages in the owner's private chat with the bot (its id is the
    user's id) that the bot itself received: elsewhere a reply from the bot
    would talk to other people, and an imported message's id points at some
    other message of the bot chat. Those, and any beyond the cap, stay listed
    in the digest text.
    """
    mine = [
        q for q in report.questions if q.chat_id == owner_id and q.source not in IMPORTED_SOURCES
    ]
    return mine[:MAX_QUESTIONS]


def _question_text(q: Question) -> str:
    text = f"{q.question}\n\nОтветьте на это сообщение — я переложу запись."
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 1] + "…"


Sleep = Callable[[float], Awaitable[None]]


class DigestSender:
    """Sends a run's digest and questions through the Bot API and records each send.

    Each send is claimed in the outbox first and marked after Telegram answers;
    the ``bot_responses`` records are written together at the end, so a storage
    failure while recording cannot stop the owners from hearing; it still
    raises afterwards (what was sent must not go unrecorded silently). Sends
    are silent (03:00 is no time to buzz a phone) and spaced by ``pause``
    seconds within one chat, below Telegram's per-chat rate.
    """

    def __init__(
        self,
        api: BotApiClient,
        store: Store,
        *,
        attempts: int = 3,
        retry_delay: float = 1.0,
        pause: float = 1.0,
        sleep: Sleep = anyio.sleep,
        max_asks: int = DEFAULT_MAX_ASKS,
        holder: str | None = None,
    ) -> None:
        self.api = api
        self.store = store
        self.attempts = max(1, attempts)
        self.retry_delay = retry_delay
        self.pause = pause
        self._sleep = sleep
        self.max_asks = max(1, max_asks)
        #: Who claims outbox rows: unique per sender, so a racing run's claim is not ours.
        self.holder = holder or f"notify:{uuid.uuid4().hex}"

    async def send(
        self,
        report: BatchReport,
        owner_ids: Collection[int],
        timezone: tzinfo,
        *,
        night: date | None = None,
    ) -> list[Delivery]:
        """To each owner (sorted, so the order is stable): the digest, then its questions,
        then the questions of earlier nights still open. ``night`` defaults to the
        run's start date in ``timezone``."""
        run = report.run_id if report.run_id is not None else "dry"
        night = night or report.started_at.astimezone(timezone).date()
        planned: list[tuple[Notification, str, JSONDict | None]] = []
        for owner in sorted(owner_ids):
            questions = questions_to_ask(report, owner)
            text = report.render_digest(timezone, asked_separately=questions)
            if len(text) > MAX_MESSAGE_LENGTH:
                text = text[: MAX_MESSAGE_LENGTH - 1] + "…"
            planned.append(
                (
                    Notification(night, owner, "digest", "", text),
                    f"nightly:{run}:digest:{owner}",
                    None,
                )
            )
            keys: set[str] = set()
            for q in questions:
                key = f"{q.chat_id}:{q.message_id}"
                keys.add(key)
                analysis = {"question": q.question, "title": q.title, "confidence": q.confidence}
                planned.append(
                    (
                        Notification(
                            night, owner, "question", key, _question_text(q), q.message_id
                        ),
                        f"nightly:{run}:question:{key}",
                        analysis,
                    )
                )
            for entry in await self.store.open_questions(
                owner, before=night, max_asks=self.max_asks
            ):
                n = entry.notification
                if n.item_key not in keys:
                    again = attrs.evolve(n, night=night)
                    planned.append((again, f"nightly:{run}:question:{n.item_key}", None))
        return await self._deliver(planned, force=False)

    async def resend(self, night: date) -> list[Delivery]:
        """Send ``night``'s digests and questions again, as first sent, on purpose."""
        planned = [
            (
                e.notification,
                f"resend:{night.isoformat()}:{e.notification.kind}:"
                f"{e.notification.owner_id}:{e.notification.item_key}",
                None,
            )
            for e in await self.store.notifications(night)
        ]
        return await self._deliver(planned, force=True)

    async def _deliver(
        self, planned: Sequence[tuple[Notification, str, JSONDict | None]], *, force: bool
    ) -> list[Delivery]:
        deliveries: list[Delivery] = []
        records: list[BotResponseIn] = []
        try:
            previous: int | None = None
            for n, key, analysis in planned:
                if not await self.store.claim_notification(n, self.holder, force=force):
                    log.info("notification_already_sent", kind=n.kind, chat_id=n.owner_id)
                    deliveries.append(
                        Delivery(n.kind, n.owner_id, n.reply_to_message_id, None, skipped=True)
                    )
                    continue
                if previous == n.owner_id:
                    await self._sleep(self.pause)
                previous = n.owner_id
                delivery, record = await self._send(
                    kind=n.kind,
                    chat_id=n.owner_id,
                    text=n.body,
                    reply_to=n.reply_to_message_id,
                    key=key,
                )
                await self.store.finish_notification(
                    n, self.holder, message_id=delivery.message_id, error=delivery.error
                )
                if analysis is not None:
                    record = attrs.evolve(record, ai_analysis=analysis)
                deliveries.append(delivery)
                records.append(record)
        finally:
            if records:
                with anyio.CancelScope(shield=True):
                    await self.store.record_bot_responses(records)
        return deliveries

    async def _send(
        self,
        *,
        kind: str,
        chat_id: int,
        text: str,
        reply_to: int | None,
        key: str,
    ) -> tuple[Delivery, BotResponseIn]:
        params: dict[str, Any] = {"chat_id": chat_id, "text": text, "disable_notification": True}
        if reply_to is not None:
            # If the owner deleted the message, the question still arrives.
            params["reply_parameters"] = {
                "message_id": reply_to,
                "allow_sending_without_reply": True,
            }
        result: Any = None
        error: str | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                result = await self.api.call("sendMessage", params)
                error = None
                break
            except BotApiError as exc:
                error = str(exc)
                if not exc.transient or attempt == self.attempts:
                    break
                delay = exc.retry_after or self.retry_delay * 2 ** (attempt - 1)
                log.warning("digest_send_retry", kind=kind, attempt=attempt, error=error)
                await self._sleep(delay)
        sent_id = result.get("message_id") if isinstance(result, dict) else None
        if error is None and not isinstance(sent_id, int):
            error = "sendMessage: the answer has no message_id"
        if error is not None:
            log.error("digest_send_failed", kind=kind, chat_id=chat_id, error=error)
        message_id = sent_id if isinstance(sent_id, int) else None
        # Recorded whether or not it went out: the record is how anyone finds out
        # what the owner was (not) told.
        record = BotResponseIn(
            chat_id=chat_id,
            message_id=message_id,
            response_text=text,
            response_type=kind,
            user_id=chat_id,
            related_user_message_id=reply_to,
            method="sendMessage",
            request=params,
            result=result if isinstance(result, dict) else None,
            error=error,
            idempotency_key=key,
        )
        delivery = Delivery(
            kind=kind,
            chat_id=chat_id,
            reply_to_message_id=reply_to,
            message_id=message_id,
            error=error,
        )
        return delivery, record


def failed(deliveries: Sequence[Delivery]) -> list[Delivery]:
    return [d for d in deliveries if not d.ok]


__all__ = [
    "DEFAULT_MAX_ASKS",
    "IMPORTED_SOURCES",
    "MAX_MESSAGE_LENGTH",
    "Delivery",
    "DigestSender",
    "failed",
    "questions_to_ask",
]
