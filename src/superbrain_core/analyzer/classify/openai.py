"""A classifier on any OpenAI-compatible ``POST {base_url}/chat/completions``.

OpenAI itself, Perplexity (``https://api.perplexity.ai``, model ``sonar``), and
self-hosted servers (vLLM, Ollama, LM Studio) all speak this dialect, so one
plain httpx client covers them without an SDK. The model is asked for strict
structured output (``response_format`` with the contract's JSON Schema), and the
answer is still read leniently, because "compatible" servers honour that request
to different degrees and reasoning models prepend a ``<think>`` block.

An answer that cannot be read is re-asked once, with the validation error: models
usually fix a slip when told what it was. A second bad answer, like every HTTP
fault, is a retryable :class:`ClassifierError` and never a ``none`` verdict.

The result's ``classifier_version`` is ``"{model}/{PROMPT_REVISION}"``: switching
the model or changing the prompt changes the version, so ``superbrain batch
--reclassify`` picks up everything the previous model filed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from superbrain_core import jsonutil
from superbrain_core.analyzer.classify.lenient import (
    ReplyError,
    parse_reply,
    strip_reasoning,
    unknown_fields,
)
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
    CONFIDENCE_THRESHOLD,
    Classification,
    ClassifierError,
    ClassifierInput,
    json_schema,
)
from superbrain_core.errors import ConfigError
from superbrain_core.logs import get_logger
from superbrain_core.models import JSONDict

BASE_URL_VARIABLE = "OPENAI_BASE_URL"
KEY_VARIABLE = "OPENAI_API_KEY"
MODEL_VARIABLE = "SUPERBRAIN_OPENAI_MODEL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"

#: Bump whenever the prompt or the request changes in a way that can change verdicts.
PROMPT_REVISION = "1"

#: Keywords that strict structured-output modes (OpenAI's, and stricter
#: "compatible" servers) reject or ignore; they only document, they do not constrain.
STRICT_UNSUPPORTED_KEYWORDS = frozenset({"$schema", "$id", "format", "const"})

#: Fields the classifier fills itself; asking the model for them wastes tokens
#: and invites it to claim an identity that would be discarded anyway.
SELF_FILLED_FIELDS = ("schema_version", "classifier", "classifier_version")

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

log = get_logger(__name__)


def strict_schema(
    schema: Mapping[str, Any], drop: frozenset[str] = STRICT_UNSUPPORTED_KEYWORDS
) -> JSONDict:
    """A copy of ``schema`` without the ``drop`` keywords, at every depth.

    Property *names* are data, not keywords: a property called ``format`` stays.
    """
    result: JSONDict = {}
    for key, value in schema.items():
        if key in drop:
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            result[key] = {name: _strict_value(sub, drop) for name, sub in value.items()}
        else:
            result[key] = _strict_value(value, drop)
    return result


def _strict_value(value: Any, drop: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return strict_schema(value, drop)
    if isinstance(value, list):
        return [_strict_value(item, drop) for item in value]
    return value


def response_schema() -> JSONDict:
    """The schema sent as ``response_format``: the contract, strict-mode safe, minus self-filled
    fields."""
    schema = strict_schema(json_schema())
    schema["properties"] = {
        name: spec for name, spec in schema["properties"].items() if name not in SELF_FILLED_FIELDS
    }
    schema["required"] = [name for name in schema["required"] if name not in SELF_FILLED_FIELDS]
    return schema


def system_prompt(zone: str) -> str:
    """The instructions: short, English (models follow English best), about Russian input."""
    return (
        "You file messages from the owner's personal Telegram notebook into a structured store.\n"
        f"The owner writes mostly in Russian and lives in the time zone {zone}.\n"
        "Classify the message in `message`; `clarifications` are later replies in the same "
        "thread (the owner's answers to the bot's questions) and override the message.\n"
        "Resolve relative dates and times ('завтра в 10', 'в пятницу') against the message's "
        f"own `date` in {zone}, never against today. Write datetimes as ISO 8601 with the "
        "UTC offset of that zone.\n"
        "Types: event (happens at a time: set starts_at and event_kind meeting, reminder, "
        "deadline or other), task (to do; due_at if a deadline is stated), note, file, "
        "contact (people, phone, email, username), link (url), expense (amount as a decimal "
        "string, currency as an ISO 4217 code such as RUB), none (nothing worth filing).\n"
        "Answer with exactly one JSON object that follows the given schema, nothing else; "
        "use null or an empty list for anything the message does not say. Write title and "
        "summary in the message's language.\n"
        "confidence is your honest probability (0 to 1) that type and fields are right. If it "
        f"is below {CONFIDENCE_THRESHOLD}, set needs_clarification to true and question to "
        "one short question in Russian that would settle it.\n"
        "`owner_examples`, when present, are earlier messages the owner filed themselves "
        "(type and fields as they settled them), most similar first: file a message like "
        "them the way the owner did, unless the message itself says otherwise."
    )


def user_content(item: ClassifierInput) -> str:
    """The input as compact JSON, dates in the owner's zone (what "today" meant to them)."""
    local = item.local_date
    data = {
        "message": {
            "date": local.isoformat(),
            "weekday": _WEEKDAYS[local.weekday()],
            "type": item.message_type,
            "text": item.text,
            "reply_to_text": item.reply_to_text,
        },
        "clarifications": [
            {
                "from": "bot" if message.from_bot else "owner",
                "date": message.date.astimezone(item.timezone).isoformat(),
                "text": message.text,
            }
            for message in item.clarifications
        ],
        "files": file_summaries(item),
    }
    if item.examples:  # few-shot: how the owner filed the most similar messages
        data["owner_examples"] = [
            {"text": e.text, "type": e.type.value, **e.fields} for e in item.examples
        ]
    return jsonutil.dumps(data)


class OpenAIClassifier:
    """Classifies with a chat model behind an OpenAI-compatible endpoint.

    ``client`` lets tests and embedders supply their own ``httpx.AsyncClient``;
    it is then theirs to close; otherwise the classifier owns one keep-alive pool
    of ``connections`` (the batch's concurrency, :mod:`.pool`). Safe for
    concurrent ``classify`` calls: the only shared state is that pool.
    """

    name = "openai"

    def __init__(
        self,
        api_key: str,
        *,
        model: str = DEFAULT_MODEL,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        client: httpx.AsyncClient | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        if not api_key.strip():
            raise ConfigError(f"{KEY_VARIABLE} is empty", variable=KEY_VARIABLE)
        if not model.strip():
            raise ConfigError(f"{MODEL_VARIABLE} is empty", variable=MODEL_VARIABLE)
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.model = model.strip()
        self.version = f"{self.model}/{PROMPT_REVISION}"
        self.url = f"{http_url(base_url, BASE_URL_VARIABLE)}/chat/completions"
        self.timeout = timeout
        self._key = api_key.strip()
        self._client = client or pooled_client(request_timeout(timeout), connections)
        self._owns_client = client is None
        self._schema = response_schema()

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> OpenAIClassifier:
        """Build from ``OPENAI_API_KEY`` (required), ``OPENAI_BASE_URL``,
        ``SUPERBRAIN_OPENAI_MODEL`` and ``SUPERBRAIN_CLASSIFIER_TIMEOUT``.

        Raises :class:`ConfigError` naming the variable; the key is never quoted.
        """
        env = os.environ if env is None else env
        key = env.get(KEY_VARIABLE, "").strip()
        if not key:
            raise ConfigError(
                f"{KEY_VARIABLE} is not set (an API key for {BASE_URL_VARIABLE})",
                variable=KEY_VARIABLE,
            )
        base_url = env.get(BASE_URL_VARIABLE, "").strip() or DEFAULT_BASE_URL
        return cls(
            key,
            model=env.get(MODEL_VARIABLE, "").strip() or DEFAULT_MODEL,
            base_url=http_url(base_url, BASE_URL_VARIABLE),
            timeout=timeout_from_env(env),
            client=client,
            connections=connections,
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def request_body(self, messages: list[JSONDict]) -> JSONDict:
        return {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "classification", "strict": True, "schema": self._schema},
            },
        }

    async def classify(self, item: ClassifierInput) -> Classification:
        """Ask the model about ``item``, re-asking once if the answer is invalid."""
        messages: list[JSONDict] = [
            {"role": "system", "content": system_prompt(zone_name(item))},
            {"role": "user", "content": user_content(item)},
        ]
        answer = await self._complete(messages, item)
        try:
            return self._read(answer, item)
        except ReplyError as first:
            log.debug("classify.reask", classifier=self.name, message_id=item.message_id)
            messages.extend(_correction(answer, first))
        answer = await self._complete(messages, item)
        try:
            return self._read(answer, item)
        except ReplyError as second:
            reason = snippet(str(second), secrets=[self._key])
            raise ClassifierError(f"{self.name}: invalid answer twice: {reason}") from second

    async def _complete(self, messages: list[JSONDict], item: ClassifierInput) -> str:
        """One chat completion; returns the answer text. HTTP faults raise ClassifierError."""
        content = jsonutil.dumps(self.request_body(messages)).encode("utf-8")
        headers = {
            "Authorization": f"Bearer {self._key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        log.debug("classify.request", classifier=self.name, message_id=item.message_id)
        try:
            response = await self._client.post(self.url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise transport_fault(exc, source=self.name, timeout=self.timeout) from None
        log.debug("classify.reply", classifier=self.name, status=response.status_code)
        if not response.is_success:
            raise http_fault(
                response, source=self.name, secrets=[self._key], auth_hint=KEY_VARIABLE
            )
        return self._answer_text(response_json(response, source=self.name, secrets=[self._key]))

    def _answer_text(self, body: Any) -> str:
        """``choices[0].message.content``; a malformed envelope is the server's fault, not the
        model's, so it is not re-asked."""
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ClassifierError(f"{self.name}: {self._not_a_completion(body)}") from None
        if isinstance(content, list):  # content parts, as some servers send
            return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        return content if isinstance(content, str) else ""

    def _not_a_completion(self, body: Any) -> str:
        """Why ``body`` is not a completion; servers that answer 200 with an error say why."""
        if not isinstance(body, dict):
            return "the reply is not a chat completion"
        if body.get("error"):
            quoted = snippet(jsonutil.dumps(body["error"]), secrets=[self._key])
            return f"the reply is an error, not a chat completion: {quoted}"
        keys = ", ".join(sorted(str(k) for k in body)[:8]) or "none"
        return f"the reply is not a chat completion (keys: {keys})"

    def _read(self, answer: str, item: ClassifierInput) -> Classification:
        result = parse_reply(answer, zone=item.timezone, classifier=self.name, version=self.version)
        ignored = unknown_fields(answer)
        if ignored:
            log.debug("classify.ignored_fields", classifier=self.name, fields=ignored)
        return result


def _correction(answer: str, error: ReplyError) -> list[JSONDict]:
    """The two messages of a re-ask: the bad answer (reasoning dropped) and what was wrong."""
    try:
        echoed = strip_reasoning(answer).strip()
    except ReplyError:
        echoed = answer.strip()
    return [
        {"role": "assistant", "content": echoed or "(empty answer)"},
        {
            "role": "user",
            "content": (
                f"That answer was invalid: {error}. Reply again with only the corrected JSON "
                "object, following the schema."
            ),
        },
    ]
