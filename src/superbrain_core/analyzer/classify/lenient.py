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

The HTTP side both remote classifiers share (reading a response, describing a
fault, the timeout) is :mod:`.remote`.
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

from superbrain_core.analyzer.classify.remote import snippet
from superbrain_core.analyzer.classify.schema import Classification, EventKind, ItemType

#: Keys under which remote tools (n8n nodes, agents, hand-written workflows) nest
#: the actual answer. Tried in this order when an object has no ``type``/``category``.
WRAPPER_KEYS = ("output", "data", "result", "json", "classification")

#: How deep wrappers may nest before the reply is declared nonsense.
_MAX_DEPTH = 6


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

_TEXT_FIELDS = (
    "title",
    "summary",
    "url",
    "phone",
    "email",
    "username",
    "question",
    "recurrence",
)


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
        "ends_at": _datetime(data.get("ends_at"), "ends_at", zone),
        "people": _strings(data.get("people"), "people"),
        "tags": _strings(data.get("tags"), "tags"),
        "amount": amount,
        "currency": currency,
        "needs_clarification": _flag(data.get("needs_clarification"), "needs_clarification"),
        "sensitive": _flag(data.get("sensitive"), "sensitive"),
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
