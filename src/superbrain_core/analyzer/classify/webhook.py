"""The n8n webhook classifier: the contract the existing workflow already speaks.

The bot's first version asked an n8n workflow (``POST {base}/digital-twin-ask``)
what a message was. That workflow keeps working: the request still carries its
original fields (``message``, ``message_type``, ``user_id``, ``reply_to_message``,
``is_clarification``), and new context (the reply chain, files, the message's own
date and the owner's zone) is only added, so an old workflow ignores it and a
new one can use it. Replies are read leniently (:mod:`.lenient`) because the
workflow predates the strict schema.

Every failure is a :class:`ClassifierError` with ``retryable=True`` — see
:func:`.remote.http_fault` for why even 4xx are — and never a ``none``
classification, which would mark the message processed and lose it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from superbrain_core import jsonutil
from superbrain_core.analyzer.classify.lenient import ReplyError, parse_reply, unknown_fields
from superbrain_core.analyzer.classify.pool import DEFAULT_CONNECTIONS, pooled_client
from superbrain_core.analyzer.classify.remote import (
    file_summaries,
    http_fault,
    http_url,
    request_timeout,
    response_json,
    snippet,
    timeout_from_env,
    transport_fault,
    zone_name,
)
from superbrain_core.analyzer.classify.schema import (
    SCHEMA_VERSION,
    Classification,
    ClassifierError,
    ClassifierInput,
)
from superbrain_core.errors import ConfigError
from superbrain_core.logs import get_logger

BASE_VARIABLE = "N8N_WEBHOOK_BASE"
TOKEN_VARIABLE = "N8N_WEBHOOK_TOKEN"
ENDPOINT = "digital-twin-ask"

log = get_logger(__name__)


class WebhookClassifier:
    """Classifies by asking the n8n workflow at ``{base_url}/digital-twin-ask``.

    ``token``, when given, is sent as ``Authorization: Bearer <token>`` (n8n's
    Header Auth credential checks it). ``client`` lets tests and embedders supply
    their own ``httpx.AsyncClient``; it is then theirs to close. Otherwise the
    classifier owns one keep-alive pool of ``connections`` (the batch's
    concurrency) for its whole life: :mod:`.pool`.
    """

    name = "webhook"
    #: Bump when the request or the reading of replies changes what gets filed.
    version = "1"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        client: httpx.AsyncClient | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.url = f"{http_url(base_url, BASE_VARIABLE)}/{ENDPOINT}"
        self.timeout = timeout
        self._token = token or None
        self._client = client or pooled_client(request_timeout(timeout), connections)
        self._owns_client = client is None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> WebhookClassifier:
        """Build from ``N8N_WEBHOOK_BASE``, ``N8N_WEBHOOK_TOKEN`` and the shared timeout.

        Raises :class:`ConfigError` naming the variable; the token is never quoted.
        """
        env = os.environ if env is None else env
        base = env.get(BASE_VARIABLE, "").strip()
        if not base:
            raise ConfigError(
                f"{BASE_VARIABLE} is not set (the n8n webhook base URL, e.g. "
                "https://n8n.example.com/webhook)",
                variable=BASE_VARIABLE,
            )
        return cls(
            http_url(base, BASE_VARIABLE),
            token=env.get(TOKEN_VARIABLE, "").strip() or None,
            timeout=timeout_from_env(env),
            client=client,
            connections=connections,
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def request_body(self, item: ClassifierInput) -> dict[str, Any]:
        """The JSON the workflow receives: the legacy fields first, then the context."""
        return {
            "message": item.text,
            "message_type": item.message_type,
            "user_id": item.user_id,
            "reply_to_message": item.reply_to_text,
            "is_clarification": item.is_clarified,
            "chat_id": item.chat_id,
            "message_id": item.message_id,
            "message_date": item.local_date.isoformat(),
            "timezone": zone_name(item),
            "chain": [message.to_json() for message in item.chain],
            "files": file_summaries(item),
            "schema_version": SCHEMA_VERSION,
            # The owner's most similar settled filings, most similar first (few-shot).
            "owner_examples": [example.to_json() for example in item.examples],
        }

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def classify(self, item: ClassifierInput) -> Classification:
        """Ask the workflow about ``item``; raises :class:`ClassifierError` on any fault."""
        # jsonutil.dumps, not httpx's json=: Telegram text may hold lone surrogates,
        # which httpx's UTF-8 encoding would refuse.
        content = jsonutil.dumps(self.request_body(item)).encode("utf-8")
        log.debug("classify.request", classifier=self.name, message_id=item.message_id)
        try:
            response = await self._client.post(self.url, content=content, headers=self._headers())
        except httpx.HTTPError as exc:
            raise transport_fault(exc, source=self.name, timeout=self.timeout) from None
        secrets = [self._token] if self._token else []
        log.debug("classify.reply", classifier=self.name, status=response.status_code)
        if not response.is_success:
            raise http_fault(response, source=self.name, secrets=secrets, auth_hint=TOKEN_VARIABLE)
        payload = response_json(response, source=self.name, secrets=secrets)
        return self._read(payload, item, secrets)

    def _read(self, payload: Any, item: ClassifierInput, secrets: list[str]) -> Classification:
        try:
            result = parse_reply(
                payload, zone=item.timezone, classifier=self.name, version=self.version
            )
        except ReplyError as exc:
            reason = snippet(str(exc), secrets=secrets)
            raise ClassifierError(
                f"{self.name}: the reply is not a classification: {reason}"
            ) from exc
        ignored = unknown_fields(payload)
        if ignored:
            log.debug("classify.ignored_fields", classifier=self.name, fields=ignored)
        return result
