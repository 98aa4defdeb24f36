"""The small values the rules pass around: dates found, corrections, facts, verdicts, the chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from superbrain_core.analyzer.classify.extract.money import Money
from superbrain_core.analyzer.classify.schema import (
    EventKind,
    ItemType,
)

# --------------------------------------------------------------------------- small values


@dataclass(frozen=True, slots=True)
class _When:
    """A date/time named in one message, still unresolved.

    ``day`` and ``clock`` are the canonical phrases handed to dateparser
    (``"friday"``, ``"25 March 2027"``, ``"in 3 days"``; ``"19:30"``); ``exact``
    is a duration that names a moment ("in 90 minutes"). ``base`` is the local
    wall-clock time of the message that said it, which relative words resolve against.
    """

    base: datetime
    day: str | None = None
    clock: str | None = None
    exact: str | None = None
    by: bool = False  # "до пятницы", "by Friday": the date is a limit


@dataclass(frozen=True, slots=True)
class _Correction:
    type: ItemType
    kind: EventKind | None


@dataclass(slots=True)
class _Facts:
    """Everything read from one message of the chain."""

    text: str
    base: datetime
    cut: list[tuple[int, int, str]] = field(default_factory=list)  # spans and what they hold
    urls: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    amounts: list[Money] = field(default_factory=list)  # sums beyond doubt (currency or scale)
    sensitive: bool = False  # a secret was found (and masked in ``text``)
    when: _When | None = None
    positive: list[_Correction] = field(default_factory=list)
    negative: set[ItemType] = field(default_factory=set)
    rest: str = ""  # the text with tokens and corrections blanked: where keywords are sought
    plain: str = ""  # the text with everything but amounts blanked: where sums and names are read


@dataclass(frozen=True, slots=True)
class _Verdict:
    type: ItemType
    confidence: float
    kind: EventKind | None = None
    question: str | None = None


@dataclass(slots=True)
class _Chain:
    """The facts of the root and every user reply, combined the way the owner meant them."""

    root: _Facts
    messages: list[_Facts]
    message_type: str
    has_files: bool
    file_title: str | None
    when: datetime | None
    when_has_time: bool
    when_is_limit: bool
    correction: _Correction | None
    excluded: set[ItemType]
    families: dict[str, int]
    amount: Money | None
    rest_words: int
    has_letters: bool
    people: tuple[str, ...] = ()
    priced: bool = False  # a short "thing + price" line: "бензин 2800"
    recurring: bool = False  # the date is a rule ("по средам"): a recurring chore is a reminder
    sensitive: bool = False
