"""Lenient reading of remote classifiers' replies, shared by the webhook and OpenAI classifiers.

Remote classifiers are not under our control: the n8n workflow predates the
strict schema, and LLMs drift from any schema they are given. Rejecting every
reply that is not byte-for-byte :meth:`Classification.to_json` would quarantine
messages for trivia, while accepting anything would file garbage. The rule here
is *lenient about shape, strict about meaning*:

- shape: wrappers (``{"output": …}``, ``[{…}]``, a JSON string inside JSON,
  Markdown fences, a ``<think>`` preamble), missing fields (defaults), ``category``
  for ``type``, type synonyms in English and Russian, confidence in percent,
  naive or date-only datetimes (read in the owner's zone), amounts written the
  Russian way ("1 500,50 ₽") are all accepted;
- meaning: a value that cannot be understood (an unknown type, a date that is
  not a date, a currency we cannot name) is a :class:`ReplyError`, never a guess.
  A wrong guess would be filed silently; an error is retried and, if it persists,
  quarantined where the owner sees it.

A reply that is not a classification at all must never become a ``none``
classification: that would mark the message processed and lose it.

The module also holds the HTTP plumbing both remote classifiers share (reading a
response, describing a fault without leaking secrets, reading the timeout), so
that they fail in the same words.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import httpx

from superbrain_core.analyzer.classify.schema import (
    Classification,
    ClassifierError,
    ClassifierInput,
    EventKind,
    ItemType,
)
from superbrain_core.errors import ConfigError
from superbrain_core.logs import MASK, redact_text

#: Keys under which remote tools (n8n nodes, agents, hand-written workflows) nest
#: the actual answer. Tried in this order when an object has no ``type``/``category``.
WRAPPER_KEYS = ("output", "data", "result", "json", "classification")

#: How deep wrappers may nest before the reply is declared nonsense.
_MAX_DEPTH = 6

#: How much of a faulty body an error message quotes: enough to recognise
#: "502 Bad Gateway" or an n8n error, short enough for a log line.
SNIPPET_CHARS = 100

DEFAULT_TIMEOUT = 30.0
TIMEOUT_VARIABLE = "SUPERBRAIN_CLASSIFIER_TIMEOUT"


class ReplyError(ValueError):
    """A reply could not be read as a classification; the message says why, briefly.

    The OpenAI classifier shows this message to the model when it re-asks, so it
    is phrased as an instruction-friendly fact ("confidence must be …").
    """


# --------------------------------------------------------------------------
# Unwrapping: from whatever arrived to one JSON object
# --------------------------------------------------------------------------

_THINK_OPEN = re.compile(r"^\s*<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*[ \t]*\n?(?P<body>.*?)\n?[ \t]*```\s*$", re.DOTALL)


def strip_reasoning(text: str) -> str:
    """``text`` without a leading ``<think>…</think>`` block.

    Reasoning models (Perplexity's sonar-reasoning, DeepSeek R1 and its hosts)
    put their chain of thought before the answer even in JSON mode. An unclosed
    block means the answer was cut off inside the reasoning, so there is no answer.
    """
    opening = _THINK_OPEN.match(text)
    if opening is None:
        return text
    closing = _THINK_CLOSE.search(text, opening.end())
    if closing is None:
        raise ReplyError("the reply has an unclosed <think> block and no answer after it")
    return text[closing.end() :]


def strip_fences(text: str) -> str:
    """``text`` without surrounding Markdown code fences (```json … ```)."""
    stripped = text.strip()
    match = _FENCE.match(stripped)
    return match.group("body").strip() if match else stripped


def loads_text(text: str) -> Any:
    """Parse a textual answer: reasoning and fences removed, then JSON."""
    body = strip_fences(strip_reasoning(text))
    if not body:
        raise ReplyError("the reply is empty; answer with one JSON object")
    try:
        return json.loads(body)
    except ValueError:
        raise ReplyError(f"the reply is not valid JSON: {snippet(body, limit=60)}") from None


def unwrap(payload: Any, depth: int = 0) -> Mapping[str, Any]:
    """The classification object inside ``payload``, wherever a tool nested it."""
    if depth > _MAX_DEPTH:
        raise ReplyError("the reply nests wrappers too deeply to be a classification")
    if isinstance(payload, str):
        return unwrap(loads_text(payload), depth + 1)
    if isinstance(payload, list):
        if len(payload) != 1:
            raise ReplyError(f"expected one classification object, got a list of {len(payload)}")
        return unwrap(payload[0], depth + 1)
    if not isinstance(payload, Mapping):
        raise ReplyError(f"expected a JSON object, got {_json_kind(payload)}")
    if "type" in payload or "category" in payload:
        return payload
    for key in WRAPPER_KEYS:
        if key in payload:
            return unwrap(payload[key], depth + 1)
    keys = ", ".join(sorted(str(k) for k in payload)[:8]) or "none"
    raise ReplyError(f"the object is not a classification: no 'type' field (keys: {keys})")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


# --------------------------------------------------------------------------
# Normalising one object into a Classification
# --------------------------------------------------------------------------

_E = ItemType.EVENT
_TYPE_SYNONYMS: dict[str, tuple[ItemType, EventKind | None]] = {
    **{t.value: (t, None) for t in ItemType},
    "reminder": (_E, EventKind.REMINDER),
    "meeting": (_E, EventKind.MEETING),
    "appointment": (_E, EventKind.MEETING),
    "deadline": (_E, EventKind.DEADLINE),
    "calendar": (_E, None),
    "person": (ItemType.CONTACT, None),
    "spending": (ItemType.EXPENSE, None),
    "purchase": (ItemType.EXPENSE, None),
    "payment": (ItemType.EXPENSE, None),
    "idea": (ItemType.NOTE, None),
    "thought": (ItemType.NOTE, None),
    "todo": (ItemType.TASK, None),
    "to-do": (ItemType.TASK, None),
    "url": (ItemType.LINK, None),
    "document": (ItemType.FILE, None),
    "other": (ItemType.NONE, None),
    "unknown": (ItemType.NONE, None),
    "null": (ItemType.NONE, None),
    "": (ItemType.NONE, None),
    # Russian, as a Russian-prompted workflow or model may answer.
    "событие": (_E, None),
    "встреча": (_E, EventKind.MEETING),
    "напоминание": (_E, EventKind.REMINDER),
    "дедлайн": (_E, EventKind.DEADLINE),
    "задача": (ItemType.TASK, None),
    "дело": (ItemType.TASK, None),
    "заметка": (ItemType.NOTE, None),
    "идея": (ItemType.NOTE, None),
    "мысль": (ItemType.NOTE, None),
    "расход": (ItemType.EXPENSE, None),
    "трата": (ItemType.EXPENSE, None),
    "покупка": (ItemType.EXPENSE, None),
    "контакт": (ItemType.CONTACT, None),
    "ссылка": (ItemType.LINK, None),
    "файл": (ItemType.FILE, None),
    "документ": (ItemType.FILE, None),
    "другое": (ItemType.NONE, None),
    "прочее": (ItemType.NONE, None),
}

_KIND_SYNONYMS: dict[str, EventKind] = {
    **{k.value: k for k in EventKind},
    "appointment": EventKind.MEETING,
    "call": EventKind.MEETING,
    "встреча": EventKind.MEETING,
    "звонок": EventKind.MEETING,
    "напоминание": EventKind.REMINDER,
    "дедлайн": EventKind.DEADLINE,
    "срок": EventKind.DEADLINE,
    "другое": EventKind.OTHER,
}

_TEXT_FIELDS = ("title", "summary", "url", "phone", "email", "username", "question")


def parse_reply(payload: Any, *, zone: tzinfo, classifier: str, version: str) -> Classification:
    """Read any accepted reply shape into a :class:`Classification`.

    ``zone`` is the owner's zone: naive and date-only datetimes are read in it.
    ``classifier``/``version`` always replace whatever the reply claims: the
    placement records who really classified it, so ``--reclassify`` can find it
    again. ``schema_version`` is ours once the reply is normalised, and fields
    we do not know are ignored (:func:`unknown_fields` lists them for logs).
    Raises :class:`ReplyError`.
    """
    data = unwrap(payload)
    kind_of_type, implied_kind = _item_type(data.get("type", data.get("category")))
    explicit_kind = _event_kind(data.get("event_kind"))
    amount, currency = _amount_and_currency(data.get("amount"), data.get("currency"))
    values: dict[str, Any] = {
        "type": kind_of_type,
        "event_kind": explicit_kind or implied_kind,
        "confidence": _confidence(data.get("confidence")),
        "starts_at": _datetime(data.get("starts_at"), "starts_at", zone),
        "due_at": _datetime(data.get("due_at"), "due_at", zone),
        "people": _strings(data.get("people"), "people"),
        "tags": _strings(data.get("tags"), "tags"),
        "amount": amount,
        "currency": currency,
        "needs_clarification": _flag(data.get("needs_clarification"), "needs_clarification"),
        **{name: _text(data.get(name), name) for name in _TEXT_FIELDS},
    }
    try:
        return Classification(classifier=classifier, classifier_version=version, **values)
    except (TypeError, ValueError) as exc:
        raise ReplyError(f"invalid classification: {exc}") from None


def unknown_fields(payload: Any) -> list[str]:
    """Keys of the classification object that the lenient reader ignores (for logs)."""
    try:
        data = unwrap(payload)
    except ReplyError:
        return []
    known = {"category", *(field.name for field in attrs.fields(Classification))}
    return sorted(str(k) for k in data if k not in known)


def _key(value: str) -> str:
    return value.strip().casefold().replace("ё", "е")


def _item_type(value: Any) -> tuple[ItemType, EventKind | None]:
    if value is None:
        return ItemType.NONE, None
    if not isinstance(value, str):
        raise ReplyError(f"type must be a string, got {_json_kind(value)}")
    found = _TYPE_SYNONYMS.get(_key(value))
    if found is None:
        allowed = ", ".join(t.value for t in ItemType)
        raise ReplyError(f"type {snippet(value, limit=40)!r} is not one of: {allowed}")
    return found


def _event_kind(value: Any) -> EventKind | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReplyError(f"event_kind must be a string or null, got {_json_kind(value)}")
    if not value.strip():
        return None
    # An event kind we have no column value for is still an event: file it as "other".
    return _KIND_SYNONYMS.get(_key(value), EventKind.OTHER)


def _confidence(value: Any) -> float:
    """0–1, from 0–1 or a percentage (any value above 1, or a string with ``%``).

    A reply without confidence gets 0: a verdict that does not say how sure it is
    must not be trusted, so the owner is asked rather than the item filed blindly.
    """
    if value is None:
        return 0.0
    if isinstance(value, bool):
        raise ReplyError("confidence must be a number between 0 and 1")
    percent = False
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        percent = text.endswith("%")
        try:
            number = float(text.rstrip("%").strip())
        except ValueError:
            raise ReplyError(f"confidence {snippet(value, limit=20)!r} is not a number") from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ReplyError(f"confidence must be a number, got {_json_kind(value)}")
    if not math.isfinite(number) or number < 0 or number > 100:
        raise ReplyError(f"confidence must be between 0 and 1, got {value!r}")
    return number / 100 if percent or number > 1 else number


_DAY_FIRST_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")


def _datetime(value: Any, name: str, zone: tzinfo) -> datetime | None:
    """An aware datetime; naive and date-only values are wall-clock time in ``zone``.

    A date without a time becomes midnight of that day in the owner's zone: the
    day is what matters, and midnight is the conventional start of it.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ReplyError(f"{name} must be an ISO-8601 string or null, got {_json_kind(value)}")
    parsed = _parse_datetime_text(value.strip())
    if parsed is None:
        raise ReplyError(f"{name} is not an ISO-8601 datetime: {snippet(value, limit=40)!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def _parse_datetime_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        pass
    for fmt in _DAY_FIRST_FORMATS:  # "01.03.2025 10:00", as Russian text writes dates
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ReplyError(f"{name} must be a string or null, got {_json_kind(value)}")
    text = str(value).strip()  # a phone number may arrive as a JSON number
    return text or None


def _strings(value: Any, name: str) -> tuple[str, ...]:
    """A list of strings; a single comma-separated string is split."""
    if value is None:
        return ()
    items: Iterable[Any]
    if isinstance(value, str):
        items = re.split(r"[,;]", value)
    elif isinstance(value, list):
        items = value
    else:
        raise ReplyError(f"{name} must be a list of strings, got {_json_kind(value)}")
    texts = (_text(item, name) for item in items)
    return tuple(text for text in texts if text)


_TRUE = frozenset({"true", "yes", "1", "да"})
_FALSE = frozenset({"false", "no", "0", "нет", ""})


def _flag(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and _key(value) in _TRUE | _FALSE:
        return _key(value) in _TRUE
    raise ReplyError(f"{name} must be true or false, got {value!r}")


# Currency: ISO codes pass; symbols and Russian words are named.
_CURRENCY_SYMBOLS = {"₽": "RUB", "$": "USD", "€": "EUR", "£": "GBP", "₸": "KZT", "₴": "UAH"}
_CURRENCY_PREFIXES = (
    ("руб", "RUB"),
    ("доллар", "USD"),
    ("бакс", "USD"),
    ("евро", "EUR"),
    ("фунт", "GBP"),
    ("тенге", "KZT"),
    ("грн", "UAH"),
    ("гривн", "UAH"),
)
_CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}$")


def _currency(value: str) -> str:
    text = _key(value).rstrip(".")
    if text in _CURRENCY_SYMBOLS:
        return _CURRENCY_SYMBOLS[text]
    if text in {"р", "rur"}:
        return "RUB"
    if _CURRENCY_CODE.match(text):
        return text.upper()
    for prefix, code in _CURRENCY_PREFIXES:
        if text.startswith(prefix):
            return code
    raise ReplyError(f"currency {snippet(value, limit=20)!r} is not an ISO 4217 code such as RUB")


#: The number inside an amount string: digits with group and decimal separators.
_NUMBER = re.compile(r"[+-]?\d(?:[\d\s\u00a0\u202f'.,]*\d)?")


def _amount_and_currency(amount: Any, currency: Any) -> tuple[Decimal | None, str | None]:
    """The amount as a Decimal and the ISO currency, from numbers or text like "1 500,50 ₽".

    A currency written inside the amount is used when ``currency`` is absent and
    must agree with it when present.
    """
    code = None
    if currency is not None:
        if not isinstance(currency, str):
            raise ReplyError(f"currency must be a string or null, got {_json_kind(currency)}")
        code = _currency(currency) if currency.strip() else None
    if amount is None:
        return None, code
    if isinstance(amount, bool):
        raise ReplyError("amount must be a number or a numeric string")
    if isinstance(amount, int | float):
        return _decimal(str(amount), amount), code
    if not isinstance(amount, str):
        raise ReplyError(f"amount must be a number or a string, got {_json_kind(amount)}")
    if not amount.strip():
        return None, code
    match = _NUMBER.search(amount)
    if match is None:
        raise ReplyError(f"amount {snippet(amount, limit=30)!r} is not a number")
    rest = (amount[: match.start()] + amount[match.end() :]).strip()
    if rest:
        written = _currency(rest)
        if code is not None and written != code:
            raise ReplyError(f"amount {amount!r} names a different currency than {code}")
        code = written
    return _decimal(_normalise_number(match.group()), amount), code


def _normalise_number(text: str) -> str:
    """ "1 500,50" / "1,500.50" / "1.500,50" → "1500.50": the last separator is decimal."""
    digits = re.sub(r"[\s\u00a0\u202f']", "", text)
    if "," in digits and "." in digits:
        decimal_sep = "," if digits.rfind(",") > digits.rfind(".") else "."
        group_sep = "." if decimal_sep == "," else ","
        digits = digits.replace(group_sep, "").replace(decimal_sep, ".")
    elif digits.count(",") > 1:
        digits = digits.replace(",", "")
    elif digits.count(".") > 1:
        digits = digits.replace(".", "")
    else:
        digits = digits.replace(",", ".")  # one comma: the Russian decimal comma
    return digits


_AMOUNT = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def _decimal(text: str, original: Any) -> Decimal:
    if not _AMOUNT.match(text):
        raise ReplyError(f"amount {original!r} is not a number")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern above rules this out
        raise ReplyError(f"amount {original!r} is not a number") from None
    return value


# --------------------------------------------------------------------------
# HTTP plumbing shared by the remote classifiers
# --------------------------------------------------------------------------


def snippet(text: str, *, limit: int = SNIPPET_CHARS, secrets: Iterable[str] = ()) -> str:
    """``text`` on one line, known ``secrets`` and secret-shaped strings masked, cut to ``limit``.

    Secrets are masked before cutting so that a key straddling the cut cannot
    leave a recognisable prefix behind.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    one_line = " ".join(redact_text(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def looks_like_html(response: httpx.Response) -> bool:
    """True for an error page from a proxy or n8n itself (even one served with 200)."""
    if "html" in response.headers.get("content-type", "").lower():
        return True
    head = response.text.lstrip()[:15].lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body"))


def http_fault(
    response: httpx.Response, *, source: str, secrets: Iterable[str], auth_hint: str
) -> ClassifierError:
    """The error for a non-2xx reply.

    Every status is ``retryable=True``: none of them is known to be caused by the
    message itself. A 401 or 404 means the configuration is wrong, and marking the
    message dead for that would lose it; the batch quarantines a message after
    repeated attempts anyway. The message says what kind of fault it is, and an
    authentication failure never quotes the body (it may echo the credential).
    """
    status = response.status_code
    if status in (401, 403):
        return ClassifierError(f"{source}: HTTP {status}: not authorised; check {auth_hint}")
    if status in (408, 429):
        kind = "rate limited or timed out, will retry"
    elif status >= 500:
        kind = "server error, will retry"
    elif 400 <= status < 500:
        kind = "client error, likely configuration; retried until quarantined"
    else:
        kind = "unexpected status"
    body = "an HTML page: " if looks_like_html(response) else ""
    quoted = snippet(response.text, secrets=secrets) or "(empty body)"
    return ClassifierError(f"{source}: HTTP {status} ({kind}): {body}{quoted}")


def transport_fault(exc: httpx.HTTPError, *, source: str, timeout: float) -> ClassifierError:
    """The error for a request that got no reply: timeouts and connection faults.

    The exception text is not quoted: httpx puts the URL in some messages, and a
    webhook URL may carry a token.
    """
    if isinstance(exc, httpx.TimeoutException):
        return ClassifierError(f"{source}: no reply within {timeout:g}s ({type(exc).__name__})")
    return ClassifierError(f"{source}: request failed ({type(exc).__name__})")


def response_json(response: httpx.Response, *, source: str, secrets: Iterable[str]) -> Any:
    """The JSON body of a 2xx reply; empty, HTML and non-JSON bodies are retryable errors."""
    if not response.content.strip():
        raise ClassifierError(f"{source}: HTTP {response.status_code} with an empty body")
    if looks_like_html(response):
        quoted = snippet(response.text, secrets=secrets)
        raise ClassifierError(
            f"{source}: HTTP {response.status_code} with an HTML page instead of JSON: {quoted}"
        )
    try:
        return json.loads(response.content)
    except ValueError:
        quoted = snippet(response.text, secrets=secrets)
        raise ClassifierError(
            f"{source}: HTTP {response.status_code} with a non-JSON body: {quoted}"
        ) from None


def request_timeout(seconds: float) -> httpx.Timeout:
    """The client timeout: ``seconds`` overall per phase, connecting capped at 10 s.

    A dead host should fail fast; a model that thinks for 25 s should not.
    """
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def timeout_from_env(env: Mapping[str, str]) -> float:
    """``SUPERBRAIN_CLASSIFIER_TIMEOUT`` in seconds (default 30), validated."""
    raw = env.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(
            f"{TIMEOUT_VARIABLE} must be a number of seconds", variable=TIMEOUT_VARIABLE
        ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{TIMEOUT_VARIABLE} must be positive", variable=TIMEOUT_VARIABLE)
    return seconds


def http_url(value: str, variable: str) -> str:
    """``value`` without a trailing slash if it is an absolute http(s) URL, else ConfigError.

    The value is not quoted in the error: a URL may carry credentials.
    """
    try:
        url = httpx.URL(value.strip())
    except (httpx.InvalidURL, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"{variable} must be an http(s) URL such as https://host/path", variable=variable
        )
    return value.strip().rstrip("/")


def zone_name(item: ClassifierInput) -> str:
    """The owner's zone as an IANA name when it has one (``Europe/Moscow``), else its label."""
    key = getattr(item.timezone, "key", None)
    if isinstance(key, str) and key:
        return key
    return item.local_date.tzname() or "UTC"


def file_summaries(item: ClassifierInput) -> list[dict[str, Any]]:
    """What a remote classifier may know about the files: descriptors, never bytes or ids."""
    return [
        {
            "file_type": f.file_type,
            "file_name": f.file_name,
            "mime_type": f.mime_type,
            "file_size": f.file_size,
        }
        for f in item.files
    ]
