"""Telling the owners what the night's run did: the digest and the open questions.

The digest goes to every owner's private chat. Each question about an item
filed with low confidence goes as a *reply to the owner's own message* it is
about, and is recorded in ``bot_responses`` with that message as its related
user message: when the owner answers the question by replying to it, capture
resolves the reply through the bot's message to the original message's chain,
and the next run re-files the item with the answer in view.

Every send, failed or not, is recorded, so ``bot_responses`` shows what the
owner was told. A failed send never undoes the run: the items stay filed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import tzinfo
from typing import Any

import anyio
import attrs

from superbrain_core.batch import BatchReport
from superbrain_core.botapi import BotApiClient, BotApiError
from superbrain_core.digest import Question
from superbrain_core.logs import get_logger
from superbrain_core.models import BotResponseIn, JSONDict
from superbrain_core.storage.base import Store

log = get_logger(__name__)

#: Telegram refuses longer texts in one message.
MAX_MESSAGE_LENGTH = 4096


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

    @property
    def ok(self) -> bool:
        return self.error is None


def questions_to_ask(report: BatchReport, owner_ids: Collection[int]) -> list[Question]:
    """Questions that can go as replies: those about messages in an owner's private chat.

    A private chat's id is the user's id. Elsewhere (a group the bot reads) a
    reply from the bot would talk to other people, so those questions stay in
    the digest text.
    """
    return [q for q in report.questions if q.chat_id in owner_ids]


def _question_text(q: Question) -> str:
    return f"{q.question}\n\nОтветьте на это сообщение — я переложу запись."


Sleep = Callable[[float], Awaitable[None]]


class DigestSender:
    """Sends a run's digest and questions through the Bot API and records each send."""

    def __init__(
        self,
        api: BotApiClient,
        store: Store,
        *,
        attempts: int = 3,
        retry_delay: float = 1.0,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.api = api
        self.store = store
        self.attempts = max(1, attempts)
        self.retry_delay = retry_delay
        self._sleep = sleep

    async def send(
        self, report: BatchReport, owner_ids: Collection[int], timezone: tzinfo
    ) -> list[Delivery]:
        """Digest to each owner (sorted, so the order is stable), then the questions."""
        questions = questions_to_ask(report, owner_ids)
        text = report.render_digest(timezone, asked_separately=questions)
        if len(text) > MAX_MESSAGE_LENGTH:
            text = text[: MAX_MESSAGE_LENGTH - 1] + "…"
        run = report.run_id if report.run_id is not None else "dry"
        deliveries: list[Delivery] = []
        for owner in sorted(owner_ids):
            deliveries.append(
                await self._send(
                    kind="digest",
                    chat_id=owner,
                    text=text,
                    reply_to=None,
                    key=f"nightly:{run}:digest:{owner}",
                )
            )
        for q in questions:
            deliveries.append(
                await self._send(
                    kind="question",
                    chat_id=q.chat_id,
                    text=_question_text(q),
                    reply_to=q.message_id,
                    key=f"nightly:{run}:question:{q.chat_id}:{q.message_id}",
                    analysis={"question": q.question, "title": q.title, "confidence": q.confidence},
                )
            )
        return deliveries

    async def _send(
        self,
        *,
        kind: str,
        chat_id: int,
        text: str,
        reply_to: int | None,
        key: str,
        analysis: JSONDict | None = None,
    ) -> Delivery:
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
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
        # Recorded whether or not it went out: the record is how anyone finds out
        # what the owner was (not) told. A storage error here propagates.
        await self.store.record_bot_response(
            BotResponseIn(
                chat_id=chat_id,
                message_id=sent_id if isinstance(sent_id, int) else None,
                response_text=text,
                response_type=kind,
                user_id=chat_id,
                related_user_message_id=reply_to,
                ai_analysis=analysis,
                method="sendMessage",
                request=params,
                result=result if isinstance(result, dict) else None,
                error=error,
                idempotency_key=key,
            )
        )
        if error is not None:
            log.error("digest_send_failed", kind=kind, chat_id=chat_id, error=error)
        return Delivery(
            kind=kind,
            chat_id=chat_id,
            reply_to_message_id=reply_to,
            message_id=sent_id if isinstance(sent_id, int) else None,
            error=error,
        )


def failed(deliveries: Sequence[Delivery]) -> list[Delivery]:
    return [d for d in deliveries if not d.ok]


__all__ = ["MAX_MESSAGE_LENGTH", "Delivery", "DigestSender", "failed", "questions_to_ask"]
