"""The rules classifier itself: `RulesClassifier`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, tzinfo
from typing import Any

import attrs
import dateparser  # type: ignore[import-untyped, unused-ignore]

from superbrain_core.analyzer.classify.examples import OWNER_MATCH
from superbrain_core.analyzer.classify.extract.dates import When, extract_when
from superbrain_core.analyzer.classify.extract.transfers import find_transfer
from superbrain_core.analyzer.classify.rules.chain import (
    _corrections,
    _families,
    _file_title,
    _named,
    _pick_amount,
    _strip_contact_words,
    _with_currency,
    _without_dates,
)
from superbrain_core.analyzer.classify.rules.chain_dates import chain_when
from superbrain_core.analyzer.classify.rules.grammar import (
    _LETTER_OR_DIGIT,
    _WORD,
    DEFAULT_LANGUAGES,
    FAIR,
    GOOD,
    Q_WHAT,
    Q_WHEN_DEADLINE,
    Q_WHEN_EVENT,
    Q_WHEN_MEETING,
    Q_WHEN_REMINDER,
    STRONG,
    WEAK,
)
from superbrain_core.analyzer.classify.rules.kinds import event_kind
from superbrain_core.analyzer.classify.rules.output import (
    _contact_person,
    _first,
    _fullest,
    _last,
    _summary,
    _title,
    _unique,
)
from superbrain_core.analyzer.classify.rules.reading import _clean, _local, _read_message
from superbrain_core.analyzer.classify.rules.replies import confirm, secret_across
from superbrain_core.analyzer.classify.rules.values import _Chain, _Facts, _Verdict, _When
from superbrain_core.analyzer.classify.schema import (
    CONFIDENCE_THRESHOLD,
    Classification,
    ClassifierError,
    ClassifierInput,
    EventKind,
    ItemType,
    Precedent,
)

# --------------------------------------------------------------------------- the classifier


class RulesClassifier:
    """Classifies by keyword rules and dateparser; no network, no model, no state.

    ``languages`` are handed to dateparser (the keyword lists are always Russian
    and English). A day named without a time is a whole day: an event starts at
    00:00 of it and a task is due at 23:59 of it, as in the corpus and the
    extraction layer (there is no configurable default time). ``owner_match`` is
    the similarity at which an owner's example (:attr:`ClassifierInput.examples`)
    is followed before the generic rules (:mod:`..examples`). The instance holds
    no per-message state, so one instance may serve any number of concurrent
    ``classify`` calls. dateparser is synchronous and takes about a millisecond,
    so it is called inline rather than in a thread.
    """

    name: str = "rules"
    version: str = "1.1"

    def __init__(
        self,
        *,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        owner_match: float = OWNER_MATCH,
    ) -> None:
        self._languages = list(languages)
        self._owner_match = owner_match

    async def classify(self, item: ClassifierInput) -> Classification:
        """Classify ``item`` and its chain; odd input yields ``none``/``note``, never an error.

        A :class:`ClassifierError` (not retryable) is raised only for a bug in
        these rules, so the batch records it instead of crashing.
        """
        try:
            return self.classify_sync(item)
        except ClassifierError:
            raise
        except Exception as exc:  # a bug here must not take the batch down
            raise ClassifierError(
                f"rules classifier failed on message {item.message_id}: {exc!r}", retryable=False
            ) from exc

    def classify_sync(self, item: ClassifierInput) -> Classification:
        """:meth:`classify` for callers without an event loop (benchmarks, notebooks)."""
        when = _extracted_when(item)  # read once: it may decide the type and fills the dates
        chain = self._read_chain(item, merge_dates=when is None)
        # Looked up on the package at call time, so that a test can replace it.
        from superbrain_core.analyzer.classify import rules as _package

        if when is not None:  # the extraction layer's reading decides, where it has one
            chain.when = when.start if when.has_time else when.event_start()
            chain.when_has_time, chain.when_is_limit = when.has_time, when.is_deadline
            chain.recurring = when.recurrence is not None
        example = _owner_example(item, chain, self._owner_match)
        if example is not None:
            verdict = _followed(example, chain, when)
        else:
            verdict = _package._decide(chain)
            if verdict.type in {ItemType.NOTE, ItemType.NONE} and not chain.sensitive:
                verdict = _dated(when, verdict)
        result = self._build(chain, verdict, when)
        if example is not None:
            result = attrs.evolve(result, owner_example=example.source)
        return result

    async def aclose(self) -> None:
        """Nothing to release: the classifier holds no connections."""

    # ------------------------------------------------------------------ reading

    def _read_chain(self, item: ClassifierInput, *, merge_dates: bool = True) -> _Chain:
        """Read the chain; ``merge_dates`` False skips the rules' own (dateparser) date
        merge when the extraction layer has already read the date."""
        root = _read_message(item.text, _local(item.message_date, item.timezone), is_root=True)
        replies: list[_Facts] = []
        asked = ""  # the bot's latest question: a "да" answers it
        for message in item.clarifications:
            if message.from_bot:
                asked = message.text or ""
                continue
            facts = _read_message(message.text, _local(message.date, item.timezone), is_root=False)
            confirm(facts, asked)
            replies.append(facts)
        messages = [root, *replies]
        secret_across(messages)
        correction, excluded = _corrections(messages)
        rest = "\n".join(m.rest for m in messages)
        undated = _without_dates(messages)  # keywords are sought here: "on Monday buy milk"
        plain = "\n".join(m.plain for m in messages)  # same offsets as ``undated``
        when, when_has_time, when_is_limit = (
            self._merge_dates(messages, item.timezone) if merge_dates else (None, False, False)
        )
        files_text = root.text.strip()
        families = _families(undated)
        named = _named(messages)
        transfer = find_transfer(plain, people=named)
        if transfer is not None:
            families["spending"] = min(families.get("spending", transfer.start), transfer.start)
        money_meant = "spending" in families or (
            correction is not None and correction.type is ItemType.EXPENSE
        )
        amount, priced = _pick_amount(messages, families, money_meant)
        amount = _with_currency(amount, messages)
        return _Chain(
            root=root,
            messages=messages,
            message_type=item.message_type or "",
            has_files=bool(item.files),
            file_title=_file_title(item, files_text),
            when=when,
            when_has_time=when_has_time,
            when_is_limit=when_is_limit,
            correction=correction,
            excluded=excluded,
            families=families,
            amount=amount,
            rest_words=len(_WORD.findall(_strip_contact_words(undated))),
            has_letters=bool(_LETTER_OR_DIGIT.search(rest)),
            people=_fullest(_unique(p.name for p in named)),
            priced=priced,
            sensitive=any(m.sensitive for m in messages),
        )

    def _merge_dates(
        self, messages: list[_Facts], zone: tzinfo
    ) -> tuple[datetime | None, bool, bool]:
        """Combine the dates of the chain, newest winning, and resolve the result.

        A newer day replaces the older one but keeps an older time ("перенеси на
        пятницу" keeps 19:30); a newer time alone keeps the older day ("давай в
        15:00"). A duration ("через 2 часа") replaces everything. Each part is
        resolved against the base of the message that said it. Returns the
        moment, whether a time of day was named, and whether it is a limit.
        """
        day: _When | None = None
        clock: _When | None = None
        exact: _When | None = None
        for facts in messages:
            when = facts.when
            if when is None:
                continue
            if when.exact:
                day, clock, exact = None, None, when
                continue
            exact = None
            if when.day:
                day = when
            if when.clock:
                clock = when
        if exact is not None:
            return self._resolve(exact.exact or "", exact.base, zone), True, False
        if day is not None:
            resolved = self._resolve_day(day, clock.clock if clock else None, zone)
            return resolved, clock is not None, day.by
        if clock is not None:
            return self._resolve(clock.clock or "", clock.base, zone), True, clock.by
        return None, False, False

    def _resolve_day(self, day: _When, clock: str | None, zone: tzinfo) -> datetime | None:
        """Resolve a day phrase, at the given time or at 00:00 (a whole day).

        dateparser gets the *midnight* of the message's day as its base, so that
        "11 марта" said on 11 March at 15:00 is today, not next year.
        """
        midnight = day.base.replace(hour=0, minute=0)
        return self._resolve(f"{day.day} {clock or '00:00'}", midnight, zone)

    def _resolve(self, phrase: str, base: datetime, zone: tzinfo) -> datetime | None:
        """One dateparser call: a canonical phrase, a naive local base, an aware answer.

        The phrase is wall-clock time in the owner's zone, so dateparser is told
        nothing about zones (its answer is then independent of the machine's zone)
        and the owner's zone is attached afterwards.
        """
        settings: dict[str, Any] = {
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": "DMY",
            "RETURN_AS_TIMEZONE_AWARE": False,
        }
        try:
            parsed = dateparser.parse(phrase, languages=self._languages, settings=settings)
        except (ValueError, OverflowError, TypeError, KeyError):
            return None
        if not isinstance(parsed, datetime):
            return None
        if parsed.tzinfo is not None:
            return parsed.astimezone(zone)
        return parsed.replace(tzinfo=zone)

    # ------------------------------------------------------------------ building

    def _build(self, chain: _Chain, verdict: _Verdict, when: When | None) -> Classification:
        kind = None
        if verdict.type is ItemType.EVENT:
            kind = event_kind(chain, verdict.kind, bool(when and when.recurrence))
        confidence = verdict.confidence
        question = verdict.question
        if confidence < CONFIDENCE_THRESHOLD and question is None:
            question = Q_WHAT
        contact = _last(m.phones for m in chain.messages), _last(m.emails for m in chain.messages)
        username = _last(m.usernames for m in chain.messages)
        people = chain.people
        if verdict.type is ItemType.CONTACT:
            name = _contact_person(chain)
            people = (name,) if name else ()
        amount = chain.amount
        starts_at = due_at = ends_at = None
        recurrence = None
        # Not when the owner is asked when it is: a vague "на следующей неделе"
        # gets a question, not a made-up Monday.
        if verdict.question in _WHEN_QUESTIONS:
            when = None
        # The rules' own reading of a date stands; the extraction layer adds what
        # they cannot say (an end, a rule) and fills a date they did not see.
        # A lone message's date is the extraction layer's (periods, loose times,
        # typos, US dates); a clarified chain's is the rules' merge of its messages.
        # Either way a day without a time is a whole day: an event starts at 00:00
        # of it, a task is due at 23:59 of it.
        if verdict.type is ItemType.EVENT:
            if when is not None:
                starts_at, ends_at, recurrence = when.event_start(), when.end, when.recurrence
            elif chain.when is not None:
                starts_at = chain.when
        elif verdict.type is ItemType.TASK:
            if when is not None:
                due_at = when.task_due()
            elif chain.when is not None:
                due_at = chain.when if chain.when_has_time else _end_of_day(chain.when)
        return Classification(
            type=verdict.type,
            confidence=confidence,
            classifier=self.name,
            classifier_version=self.version,
            title=_title(chain, verdict.type, kind),
            summary=_summary(chain) if verdict.type is not ItemType.NONE else None,
            starts_at=starts_at,
            due_at=due_at,
            ends_at=ends_at,
            recurrence=recurrence,
            event_kind=kind,
            # Any: mypy's attrs plugin cannot type the schema's ``converter=tuple``.
            people=people,
            tags=_unique(t for m in chain.messages for t in m.tags),
            amount=amount.amount if amount else None,
            currency=amount.code if amount else None,
            url=_first(m.urls for m in chain.messages)
            or (f"https://t.me/{username}" if verdict.type is ItemType.LINK and username else None),
            phone=contact[0],
            email=contact[1],
            username=username,
            needs_clarification=question is not None,
            question=question,
            sensitive=chain.sensitive,
        )


#: Questions that ask for the date: the answer's date must not be made up meanwhile.
_WHEN_QUESTIONS = frozenset({Q_WHEN_EVENT, Q_WHEN_MEETING, Q_WHEN_REMINDER, Q_WHEN_DEADLINE})


def _owner_example(item: ClassifierInput, chain: _Chain, threshold: float) -> Precedent | None:
    """The owner's example to follow, if one is close enough and nothing outranks it.

    The owner's own word in this chain (a correction) outranks an example, and
    so does what Telegram says a message is (a service message, a shared
    contact); a secret stays a note whatever a similar message became.
    """
    if not item.examples or chain.correction is not None or chain.sensitive:
        return None
    if chain.message_type.startswith("service:") or chain.message_type == "contact":
        return None
    best = item.examples[0]
    return best if best.similarity >= threshold else None


def _followed(example: Precedent, chain: _Chain, when: When | None) -> _Verdict:
    """Filed as the owner filed the example; an event still needs its own date."""
    kind = None
    if example.type is ItemType.EVENT:
        raw_kind = example.fields.get("event_kind")
        kind = EventKind(raw_kind) if raw_kind in {k.value for k in EventKind} else EventKind.OTHER
        if chain.when is None and when is None:
            return _Verdict(ItemType.EVENT, WEAK, kind, Q_WHEN_EVENT)
    return _Verdict(example.type, GOOD, kind)


def _dated(when: When | None, verdict: _Verdict) -> _Verdict:
    """A note or nothing that names a time, a period, a rule or a deadline the rules
    did not see ("с павлом на футбол в вс в 11", "конфа 2–4 февраля") is an event;
    a deadline ("до пятницы") makes it a task."""
    if verdict.confidence >= STRONG:  # a tagged note is a note, dated or not
        return verdict
    if when is None or not (when.has_time or when.end or when.recurrence or when.is_deadline):
        return verdict
    if when.is_deadline:
        return _Verdict(ItemType.TASK, FAIR)
    return _Verdict(ItemType.EVENT, FAIR, EventKind.OTHER)


def _extracted_when(item: ClassifierInput) -> When | None:
    """The date a message names, read by :mod:`.extract.dates` (periods, loose
    times, typos, US dates, recurrence); a clarified chain's messages are read
    one by one and merged (:func:`.chain_dates.chain_when`)."""
    if item.message_type.startswith("service:"):
        return None
    if any(not m.from_bot for m in item.clarifications):
        return chain_when(item)
    if not item.text:
        return None
    now = item.message_date
    if now.tzinfo is None:  # taken as UTC, as everywhere in the rules
        now = now.replace(tzinfo=UTC)
    return extract_when(_clean(item.text), now, item.timezone)


def _end_of_day(moment: datetime) -> datetime:
    """23:59 of ``moment``'s day: when a task named with a day and no time is due."""
    return datetime.combine(moment.date(), time(23, 59), moment.tzinfo)
