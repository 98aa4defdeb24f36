"""The classification contract: what a classifier is given and what it must answer.

Every classifier (offline rules, the n8n webhook, an OpenAI-compatible model)
answers with the same :class:`Classification`, so routing never cares which one
ran. The schema is versioned (:data:`SCHEMA_VERSION`) and exported as JSON Schema
(:func:`json_schema`) because two of the classifiers live outside this process
and need the contract in a form they can validate against.

Datetimes are always timezone-aware: a classifier that sees "завтра в 10" must
resolve it in the owner's zone against the message's own Telegram date, never
against the wall clock of the machine running the batch.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import attrs

from superbrain_core.errors import SuperbrainError
from superbrain_core.models import JSONDict, RawFile

#: Bumped whenever a field is added, removed or changes meaning.
SCHEMA_VERSION = 1

#: Below this confidence the owner is asked instead of trusted.
CONFIDENCE_THRESHOLD = 0.8

DEFAULT_TIMEZONE = "Europe/Moscow"


class ItemType(enum.StrEnum):
    """What a message is, which decides the structured table it is filed into."""

    EVENT = "event"
    TASK = "task"
    NOTE = "note"
    FILE = "file"
    CONTACT = "contact"
    LINK = "link"
    EXPENSE = "expense"
    NONE = "none"


class EventKind(enum.StrEnum):
    """The ``kind`` column of ``events``."""

    MEETING = "meeting"
    REMINDER = "reminder"
    DEADLINE = "deadline"
    OTHER = "other"


_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _check_confidence(_: object, __: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {value!r}")


def _check_aware(_: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{attribute.name} must be timezone-aware, got {value.isoformat()}")


def _check_currency(_: object, __: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not _CURRENCY.match(value):
        raise ValueError(f"currency must be an ISO 4217 code such as RUB, got {value!r}")


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    """Any iterable of names or tags as a tuple (a bare string is one item, not letters)."""
    if isinstance(values, str):
        return (values,)
    return tuple(str(v) for v in values)


def _to_decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("amount must be a number")
    try:
        return Decimal(str(value).replace(" ", "").replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(f"amount must be a number, got {value!r}") from exc


@attrs.frozen
class Classification:
    """One classifier's verdict on one message (with its chain)."""

    type: ItemType = attrs.field(converter=ItemType)
    confidence: float = attrs.field(converter=float, validator=_check_confidence)
    classifier: str
    classifier_version: str
    title: str | None = None
    summary: str | None = None
    starts_at: datetime | None = attrs.field(default=None, validator=_check_aware)
    due_at: datetime | None = attrs.field(default=None, validator=_check_aware)
    event_kind: EventKind | None = attrs.field(
        default=None, converter=attrs.converters.optional(EventKind)
    )
    people: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    amount: Decimal | None = attrs.field(default=None, converter=_to_decimal)
    currency: str | None = attrs.field(default=None, validator=_check_currency)
    url: str | None = None
    phone: str | None = None
    email: str | None = None
    username: str | None = None
    needs_clarification: bool = False
    question: str | None = None
    #: The message holds a secret (a password, PIN, card number, code): the
    #: classifier has masked it in ``title`` and ``summary``. Optional and False
    #: by default, so JSON written before the field existed still reads (version 1).
    sensitive: bool = False
    #: An event's end ("с 3 по 17 августа"), and its RFC 5545 rule without the
    #: "RRULE:" prefix ("FREQ=WEEKLY;BYDAY=TU"; ``starts_at`` is then the first
    #: occurrence). Optional, like ``sensitive``.
    ends_at: datetime | None = attrs.field(default=None, validator=_check_aware)
    recurrence: str | None = None
    schema_version: int = SCHEMA_VERSION
    #: ``chat_id:message_id`` of the owner's example this decision followed
    #: (:mod:`.examples`), for ``superbrain explain``. Written to JSON only when
    #: set, and not part of the contract external classifiers answer in.
    owner_example: str | None = None

    @property
    def unsure(self) -> bool:
        """True when the owner should be asked: flagged, or below the threshold."""
        return self.needs_clarification or self.confidence < CONFIDENCE_THRESHOLD

    def to_json(self) -> JSONDict:
        """The JSON form stored in ``routing_log.classification`` and sent over the wire."""
        return {
            "schema_version": self.schema_version,
            "type": self.type.value,
            "confidence": self.confidence,
            "title": self.title,
            "summary": self.summary,
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "event_kind": self.event_kind.value if self.event_kind else None,
            "people": list(self.people),
            "tags": list(self.tags),
            "amount": str(self.amount) if self.amount is not None else None,
            "currency": self.currency,
            "url": self.url,
            "phone": self.phone,
            "email": self.email,
            "username": self.username,
            "needs_clarification": self.needs_clarification,
            "question": self.question,
            "sensitive": self.sensitive,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "recurrence": self.recurrence,
            "classifier": self.classifier,
            "classifier_version": self.classifier_version,
        } | ({"owner_example": self.owner_example} if self.owner_example else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Classification:
        """Parse the strict form :meth:`to_json` writes; raises ``ValueError`` if malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("a classification must be a JSON object")
        known = {a.name for a in attrs.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown classification fields: {', '.join(sorted(unknown))}")
        values = dict(data)
        for key in ("starts_at", "due_at", "ends_at"):
            if values.get(key) is not None:
                values[key] = _parse_datetime(values[key], key)
        try:
            return cls(**values)
        except TypeError as exc:
            raise ValueError(f"malformed classification: {exc}") from exc


def _parse_datetime(value: object, name: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO-8601 string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} is not an ISO-8601 datetime: {value!r}") from exc


def json_schema() -> JSONDict:
    """The JSON Schema of :meth:`Classification.to_json`, for external classifiers.

    Every property is listed in ``required`` (nullable where optional) so that
    strict structured-output modes of LLM APIs accept it as is.
    """

    def nullable(kind: str, **extra: Any) -> JSONDict:
        return {"type": [kind, "null"], **extra}

    properties: JSONDict = {
        "schema_version": {"type": "integer", "const": SCHEMA_VERSION},
        "type": {"type": "string", "enum": [t.value for t in ItemType]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "title": nullable("string"),
        "summary": nullable("string"),
        "starts_at": nullable("string", format="date-time"),
        "due_at": nullable("string", format="date-time"),
        "event_kind": {"type": ["string", "null"], "enum": [*[k.value for k in EventKind], None]},
        "people": {"type": "array", "items": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "amount": nullable("string", pattern=r"^-?[0-9]+(\.[0-9]+)?$"),
        "currency": nullable("string", pattern="^[A-Z]{3}$"),
        "url": nullable("string"),
        "phone": nullable("string"),
        "email": nullable("string"),
        "username": nullable("string"),
        "needs_clarification": {"type": "boolean"},
        "question": nullable("string"),
        "sensitive": {"type": "boolean"},
        "ends_at": nullable("string", format="date-time"),
        "recurrence": nullable("string"),
        "classifier": {"type": "string"},
        "classifier_version": {"type": "string"},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://superbrain.invalid/classification/v{SCHEMA_VERSION}.json",
        "title": "Classification",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": list(properties),
    }


@attrs.frozen
class ChainMessage:
    """One message of a reply chain as a classifier sees it."""

    message_id: int
    text: str | None
    date: datetime
    from_bot: bool = False
    reply_to_message_id: int | None = None

    def to_json(self) -> JSONDict:
        return {
            "message_id": self.message_id,
            "text": self.text,
            "date": self.date.isoformat(),
            "from_bot": self.from_bot,
            "reply_to_message_id": self.reply_to_message_id,
        }


@attrs.frozen
class Precedent:
    """One of the owner's examples shown with a message: how a similar message was filed.

    ``text`` is the example message's text, ``type`` and ``fields`` what the
    owner settled on, ``similarity`` (0..1) how close it is to the message
    being classified, ``source`` the example's ``chat_id:message_id``.
    """

    text: str
    type: ItemType
    fields: JSONDict
    similarity: float
    source: str

    def to_json(self) -> JSONDict:
        return {
            "text": self.text,
            "type": self.type.value,
            "fields": self.fields,
            "similarity": self.similarity,
            "source": self.source,
        }


@attrs.frozen
class ClassifierInput:
    """Everything a classifier may look at for one message.

    ``message_*`` describe the chain's root (the message being filed); ``chain``
    is the root followed by every clarification in arrival order, so the newest
    word of the owner is last. ``message_date`` is the root's own Telegram date:
    relative dates ("завтра") are resolved against it in ``timezone``.
    """

    chat_id: int
    message_id: int
    user_id: int | None
    message_type: str
    text: str | None
    message_date: datetime
    chain: tuple[ChainMessage, ...] = ()
    files: tuple[RawFile, ...] = ()
    reply_to_text: str | None = None
    timezone: tzinfo = attrs.field(factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    #: The owner's most similar settled filings, most similar first (attached by
    #: the batch from :class:`~.examples.ExampleIndex`; empty when there are none).
    examples: tuple[Precedent, ...] = ()

    @property
    def clarifications(self) -> tuple[ChainMessage, ...]:
        """The chain without its root: the replies that clarify it, oldest first."""
        return tuple(m for m in self.chain if m.message_id != self.message_id)

    @property
    def is_clarified(self) -> bool:
        return bool(self.clarifications)

    @property
    def local_date(self) -> datetime:
        """The message's date in the owner's zone: what "today" meant to the owner."""
        return self.message_date.astimezone(self.timezone)

    def combined_text(self) -> str:
        """Root text and every clarification, newest last, one per line."""
        parts = [self.text or ""]
        parts.extend(m.text or "" for m in self.clarifications if not m.from_bot)
        return "\n".join(p for p in parts if p)


class ClassifierError(SuperbrainError):
    """A classifier could not produce a valid classification.

    ``retryable`` separates "try again in a later run" (timeouts, 5xx, an HTML
    error page, invalid output) from faults that will never heal by retrying.
    Either way the message is *not* marked processed; the batch counts attempts
    and quarantines it after too many.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class Classifier(Protocol):
    """What the batch needs from a classifier.

    ``name`` and ``version`` are stored with every placement so that
    ``superbrain batch --reclassify`` can find items filed by an older version.
    Implementations must be safe to call concurrently.
    """

    name: str
    version: str

    async def classify(self, item: ClassifierInput) -> Classification: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BatchClassifier(Classifier, Protocol):
    """A classifier that can also answer several messages in one call.

    One request for many messages is what makes a fast classifier cheap to call
    (a local one pays the batch's per-call overhead once, not per message) and a
    remote one cheaper (one HTTP round trip, one LLM prompt preamble). The batch
    hands a classifier that has ``classify_many`` up to ``batch_size`` messages
    per call; ``classify`` stays the contract for one message.

    ``classify_many`` answers every item, in order: a :class:`Classification`, or
    the :class:`ClassifierError` for that item alone. Raising fails the whole call
    (each of its messages is retried or quarantined as if it had failed alone).
    """

    #: The most messages one ``classify_many`` call is given.
    batch_size: int

    async def classify_many(
        self, items: Sequence[ClassifierInput]
    ) -> list[Classification | ClassifierError]: ...
