"""Measuring a classifier against a labelled corpus: tables, fields, chains and speed.

The corpus (``tests/corpus/``, format in its README) holds messages as people
type them, each with the table it belongs in and only the fields that matter
for it, resolved against the message's own date in the owner's zone. A
classifier is scored on what the owner would see: the table an item lands in
(precision and recall per table) and each expected field, compared the way the
digest shows it (times to the minute, amounts as numbers, names without
case). A field the classifier cannot express yet counts as missed, not skipped,
so the figures never flatter a classifier for what it leaves out.

The speed figure is classifications per second, timed around the classifier
calls alone (one at a time, so it is the classifier's own latency).
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from superbrain_core.analyzer.classify.schema import (
    ChainMessage,
    Classification,
    Classifier,
    ClassifierError,
    ClassifierInput,
    ItemType,
)
from superbrain_core.analyzer.routing import DESTINATIONS
from superbrain_core.errors import InputError
from superbrain_core.models import FileStatus, RawFile
from superbrain_core.records import NONE

#: Fields a corpus label may name besides ``type``, in report order.
FIELDS = (
    "starts_at",
    "ends_at",
    "due_at",
    "event_kind",
    "recurrence",
    "amount",
    "currency",
    "people",
    "url",
    "phone",
    "email",
    "username",
    "sensitive",
)
SPLITS = ("tune", "holdout")
_CHAT_ID = 100500
_OWNER_ID = 100500


@attrs.frozen
class CorpusMessage:
    """One message of a corpus item: the owner's or the bot's."""

    text: str
    date: datetime
    from_bot: bool = False
    reply_to: int | None = None


@attrs.frozen
class CorpusItem:
    """A labelled message or chain; ``messages[0]`` is the one that gets filed."""

    id: str
    split: str
    messages: tuple[CorpusMessage, ...]
    expect: Mapping[str, Any]
    lang: str = "ru"
    kind: str = "text"
    has_file: bool = False

    @property
    def is_chain(self) -> bool:
        return len(self.messages) > 1

    @property
    def table(self) -> str:
        return table_of(str(self.expect.get("type", "none")))

    def to_input(self, timezone: tzinfo) -> ClassifierInput:
        """What the batch would hand a classifier for this item, chain included."""
        root = self.messages[0]
        chain = tuple(
            ChainMessage(
                message_id=i + 1,
                text=m.text,
                date=m.date,
                from_bot=m.from_bot,
                reply_to_message_id=None if m.reply_to is None else m.reply_to + 1,
            )
            for i, m in enumerate(self.messages)
        )
        files = (_file(root.date),) if self.has_file else ()
        return ClassifierInput(
            chat_id=_CHAT_ID,
            message_id=1,
            user_id=_OWNER_ID,
            message_type="photo" if self.has_file else "text",
            text=root.text,
            message_date=root.date,
            chain=chain,
            files=files,
            timezone=timezone,
        )


def _file(when: datetime) -> RawFile:
    return RawFile(
        id=1,
        chat_id=_CHAT_ID,
        message_id=1,
        user_id=_OWNER_ID,
        file_type="photo",
        file_id="corpus-photo",
        file_unique_id="corpus-photo",
        file_name=None,
        mime_type="image/jpeg",
        file_size=1000,
        file_path=None,
        file_hash=None,
        status=FileStatus.PENDING,
        download_reason=None,
        raw_metadata={},
        is_processed=False,
        processed_at=None,
        uploaded_at=when,
    )


def table_of(item_type: str) -> str:
    try:
        return DESTINATIONS.get(ItemType(item_type), NONE)
    except ValueError:
        return NONE


def _date(value: Any, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(f"{where}: not an ISO 8601 date: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InputError(f"{where}: the date has no UTC offset: {value!r}")
    return parsed


def _item(raw: Mapping[str, Any], where: str) -> CorpusItem:
    try:
        if "messages" in raw:
            messages = tuple(
                CorpusMessage(
                    text=str(m.get("text") or ""),
                    date=_date(m["date"], where),
                    from_bot=m.get("from") == "bot",
                    reply_to=m.get("reply_to"),
                )
                for m in raw["messages"]
            )
        else:
            messages = (CorpusMessage(text=str(raw["text"]), date=_date(raw["date"], where)),)
        expect = dict(raw["expect"])
        ItemType(expect["type"])
        return CorpusItem(
            id=str(raw["id"]),
            split=str(raw.get("split", "tune")),
            messages=messages,
            expect=expect,
            lang=str(raw.get("lang", "ru")),
            kind=str(raw.get("kind", "chain" if len(messages) > 1 else "text")),
            has_file=bool(raw.get("has_file", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: not a corpus item ({exc!r})") from exc


def load_corpus(path: Path) -> list[CorpusItem]:
    """Every item of a corpus folder (``*.jsonl`` inside) or of one ``.jsonl`` file."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise InputError(f"{path}: no corpus here (expected a .jsonl file or a folder of them)")
    items: list[CorpusItem] = []
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{file}:{number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON ({exc})") from exc
            items.append(_item(raw, where))
    seen = Counter(i.id for i in items)
    twice = sorted(k for k, n in seen.items() if n > 1)
    if twice:
        raise InputError(f"{path}: ids used twice: {', '.join(twice[:5])}")
    return items


# -- comparing one field -------------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold().replace("ё", "е")
    return " ".join(text.split())


def _minute(value: Any) -> datetime | None:
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.astimezone(UTC).replace(second=0, microsecond=0)


def _number(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).normalize()
    except InvalidOperation:
        return None


def _url(value: Any) -> str | None:
    if not value:
        return None
    text = str(value).strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    scheme, rest = text.split("://", 1)
    return f"{scheme.lower()}://{rest.split('/', 1)[0].lower()}" + (
        "/" + rest.split("/", 1)[1] if "/" in rest else ""
    )


def _phone(value: Any) -> str | None:
    digits = "".join(c for c in str(value or "") if c.isdigit())
    return digits or None


def _rule(value: Any) -> str:
    """An RRULE with its parts in a fixed order (``BYDAY=TU;FREQ=WEEKLY`` is the same rule)."""
    return ";".join(sorted(str(value or "").upper().removeprefix("RRULE:").split(";")))


def same(field: str, expected: Any, actual: Any) -> bool:
    """Whether ``actual`` is what the owner expected in ``field``."""
    if field in {"starts_at", "ends_at", "due_at"}:
        return _minute(expected) == _minute(actual)
    if field == "amount":
        return _number(expected) is not None and _number(expected) == _number(actual)
    if field == "people":
        want = {_fold(p) for p in expected or ()}
        return want == {_fold(p) for p in actual or ()}
    if field == "url":
        return _url(expected) == _url(actual)
    if field == "phone":
        return _phone(expected) == _phone(actual)
    if field == "sensitive":
        return bool(expected) == bool(actual)
    if field == "recurrence":
        return bool(actual) and _rule(expected) == _rule(actual)
    if expected is None:
        return actual is None
    return actual is not None and _fold(str(expected)) == _fold(str(actual))


def field_of(c: Classification, field: str) -> Any:
    """The classification's value for a corpus field (None where it has no such field)."""
    value = getattr(c, field, None)
    if field == "event_kind" and value is not None:
        return value.value
    return value


# -- a run over the corpus -------------------------------------------------------


@attrs.frozen
class Outcome:
    """One item's verdict against its label."""

    item: CorpusItem
    actual_table: str
    fields: Mapping[str, tuple[Any, Any, bool]]
    """field → (expected, actual, right)"""
    error: str | None = None

    @property
    def table_right(self) -> bool:
        return self.error is None and self.actual_table == self.item.table

    @property
    def fields_right(self) -> int:
        return sum(1 for _, _, ok in self.fields.values() if ok)

    @property
    def misses(self) -> int:
        return (0 if self.table_right else 3) + len(self.fields) - self.fields_right


@attrs.define
class EvalReport:
    """Figures for one classifier over one corpus slice."""

    classifier: str
    version: str
    outcomes: list[Outcome]
    seconds: float

    @property
    def count(self) -> int:
        return len(self.outcomes)

    @property
    def table_accuracy(self) -> float:
        return _share(sum(o.table_right for o in self.outcomes), self.count)

    @property
    def field_accuracy(self) -> float:
        total = sum(len(o.fields) for o in self.outcomes)
        return _share(sum(o.fields_right for o in self.outcomes), total)

    @property
    def chain_accuracy(self) -> float:
        chains = [o for o in self.outcomes if o.item.is_chain]
        right = sum(o.table_right and o.fields_right == len(o.fields) for o in chains)
        return _share(right, len(chains))

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")

    def per_table(self) -> dict[str, tuple[float, float, int]]:
        """table → (precision, recall, support)."""
        tables = sorted(
            {o.item.table for o in self.outcomes} | {o.actual_table for o in self.outcomes}
        )
        result = {}
        for t in tables:
            predicted = [o for o in self.outcomes if o.actual_table == t]
            actual = [o for o in self.outcomes if o.item.table == t]
            hits = sum(1 for o in actual if o.actual_table == t)
            result[t] = (_share(hits, len(predicted)), _share(hits, len(actual)), len(actual))
        return result

    def per_field(self) -> dict[str, tuple[float, int]]:
        """field → (accuracy, how many labels name it)."""
        counts: Counter[str] = Counter()
        right: Counter[str] = Counter()
        for o in self.outcomes:
            for name, (_, _, ok) in o.fields.items():
                counts[name] += 1
                right[name] += ok
        return {f: (_share(right[f], counts[f]), counts[f]) for f in FIELDS if counts[f]}

    def confusion(self) -> dict[tuple[str, str], int]:
        """(expected table, actual table) → count."""
        return dict(Counter((o.item.table, o.actual_table) for o in self.outcomes))

    def worst(self, n: int) -> list[Outcome]:
        wrong = [o for o in self.outcomes if o.misses]
        return sorted(wrong, key=lambda o: (-o.misses, o.item.id))[:n]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def select(items: Iterable[CorpusItem], split: str) -> list[CorpusItem]:
    """The items of one split (``tune``, ``holdout``) or all of them (``all``)."""
    if split == "all":
        return list(items)
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}: expected tune, holdout or all")
    return [i for i in items if i.split == split]


async def evaluate(
    classifier: Classifier, items: Sequence[CorpusItem], timezone: tzinfo
) -> EvalReport:
    """Classify every item, one at a time, and score it against its label."""
    outcomes = []
    spent = 0.0
    for item in items:
        request = item.to_input(timezone)
        started = time.perf_counter()
        try:
            verdict: Classification | None = await classifier.classify(request)
            error = None
        except ClassifierError as exc:
            verdict, error = None, str(exc)
        spent += time.perf_counter() - started
        outcomes.append(_score(item, verdict, error))
    return EvalReport(classifier.name, classifier.version, outcomes, spent)


def _score(item: CorpusItem, verdict: Classification | None, error: str | None) -> Outcome:
    fields = {}
    for name in FIELDS:
        if name not in item.expect:
            continue
        expected = item.expect[name]
        actual = field_of(verdict, name) if verdict is not None else None
        fields[name] = (expected, actual, verdict is not None and same(name, expected, actual))
    table = table_of(verdict.type.value) if verdict is not None else "error"
    return Outcome(item=item, actual_table=table, fields=fields, error=error)
