"""Deciding: `_decide` and the helpers that turn a chain into a verdict."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from superbrain_core.analyzer.classify.rules.acts import opens_with_infinitive
from superbrain_core.analyzer.classify.rules.grammar import (
    _CHITCHAT,
    _FILLER,
    _NOTE_PREFIX,
    _READ_LATER,
    _WORD,
    DOUBTFUL,
    FAIR,
    GOOD,
    MEDIA_TYPES,
    NOISE_TYPES,
    Q_CONTACT_OR_NOTE,
    Q_EVENT_OR_TASK,
    Q_HOW_MUCH,
    Q_IS_EXPENSE,
    Q_IS_NOTE,
    Q_TASK_OR_NOTE,
    Q_WHAT,
    Q_WHAT_EXACTLY,
    Q_WHEN_DEADLINE,
    Q_WHEN_EVENT,
    Q_WHEN_MEETING,
    Q_WHEN_REMINDER,
    STRONG,
    SURE,
    WEAK,
)
from superbrain_core.analyzer.classify.rules.output import _cut_text
from superbrain_core.analyzer.classify.rules.values import _Chain, _Correction, _Verdict
from superbrain_core.analyzer.classify.schema import (
    EventKind,
    ItemType,
)

# --------------------------------------------------------------------------- deciding


def _decide(chain: _Chain) -> _Verdict:
    """The explicit correction if there is one, else the first rule-based guess not ruled out."""
    if chain.message_type.startswith("service:"):
        return _Verdict(ItemType.NONE, SURE)
    if chain.correction is not None:
        return _corrected(chain, chain.correction)
    guesses = list(_guesses(chain))
    for index, guess in enumerate(guesses):
        if guess.type in chain.excluded:
            continue
        if index == 0:
            return guess
        # The owner ruled out our best guess without naming the right one: ask.
        return _Verdict(
            guess.type,
            min(guess.confidence, DOUBTFUL),
            guess.kind,
            guess.question or f"Это {_LABELS.get(guess.type, 'заметка')}?",
        )
    return _Verdict(ItemType.NOTE, WEAK, question=Q_WHAT)


_LABELS: Final = {
    ItemType.TASK: "задача",
    ItemType.EVENT: "встреча",
    ItemType.NOTE: "заметка",
    ItemType.EXPENSE: "расход",
    ItemType.CONTACT: "контакт",
    ItemType.LINK: "ссылка",
    ItemType.FILE: "файл",
}
_FAMILY_LABELS: Final = {
    "task": "задача",
    "meeting": "встреча",
    "deadline": "дедлайн",
    "spending": "расход",
}
#: Pairs of families that do not contradict each other (either reading is right).
_COMPATIBLE: Final = frozenset(
    {frozenset({"task", "deadline"}), frozenset({"meeting", "deadline"})}
)


def _corrected(chain: _Chain, correction: _Correction) -> _Verdict:
    """The owner named the type: trust it, and ask only for what is still missing."""
    kind = correction.kind
    if correction.type is ItemType.EVENT and kind is None:
        kind = _event_kind(chain.families)
    question = None
    if correction.type is ItemType.EVENT and chain.when is None:
        question = {
            EventKind.MEETING: Q_WHEN_MEETING,
            EventKind.REMINDER: Q_WHEN_REMINDER,
            EventKind.DEADLINE: Q_WHEN_DEADLINE,
        }.get(kind or EventKind.OTHER, Q_WHEN_EVENT)
    if correction.type is ItemType.EXPENSE and chain.amount is None:
        question = Q_HOW_MUCH
    return _Verdict(correction.type, SURE, kind, question)


def _event_kind(families: dict[str, int]) -> EventKind:
    for family, kind in (
        ("reminder", EventKind.REMINDER),
        ("meeting", EventKind.MEETING),
        ("deadline", EventKind.DEADLINE),
    ):
        if family in families:
            return kind
    return EventKind.OTHER


def _guesses(chain: _Chain) -> Iterator[_Verdict]:
    """Every plausible reading, best first; the caller skips those the owner ruled out."""
    if chain.message_type in NOISE_TYPES and not chain.has_letters:
        yield _Verdict(ItemType.NONE, STRONG)
    if chain.sensitive:
        # A secret is a note whatever else it looks like (a photo of a router sticker too).
        yield _Verdict(ItemType.NOTE, STRONG)
    if chain.has_files and (chain.amount is not None or "spending" in chain.families):
        # A photo of a receipt captioned with its sum (or just "чек"): the spending is
        # what matters, and the expense row still leads back to the raw file.
        yield _Verdict(ItemType.EXPENSE, STRONG if chain.amount is not None else GOOD)
    if chain.has_files and any(m.phones or m.emails for m in chain.messages):
        # A business card's photo captioned with the number: the point is how to reach them.
        yield _Verdict(ItemType.CONTACT, STRONG)
    if chain.has_files or chain.message_type in MEDIA_TYPES:
        yield _Verdict(ItemType.FILE, STRONG)
    if chain.message_type == "contact":
        yield _Verdict(ItemType.CONTACT, SURE)
    if chain.message_type == "location" and not chain.root.text:
        yield _Verdict(ItemType.NOTE, FAIR)
    if _NOTE_PREFIX.match(chain.root.text):
        yield _Verdict(ItemType.NOTE, STRONG)  # the owner labelled it a note
    if any(m.urls for m in chain.messages) and _READ_LATER.search(chain.root.rest):
        yield _Verdict(ItemType.LINK, STRONG)  # "почитать потом https://…" is a link to read
    yield from _by_keywords(chain)
    yield from _by_tokens(chain)
    yield _plain(chain)


#: "напомнить Лизе про справку": reminding someone else is the owner's to-do.
_REMINDS_SOMEONE: Final = re.compile(
    r"(?<!\w)напомнить\s+(?!мне\b|себе\b|нам\b)[а-яё]+[еу]\b", re.IGNORECASE
)


def _by_keywords(chain: _Chain) -> Iterator[_Verdict]:
    """Readings from the keyword families, the earliest verb leading."""
    families = chain.families
    has_date = chain.when is not None
    if "reminder" in families and not _REMINDS_SOMEONE.search(chain.root.text):
        # "напомни" wraps whatever follows it: "напомни позвонить маме" is a reminder.
        if has_date:
            yield _Verdict(ItemType.EVENT, STRONG, EventKind.REMINDER)
        else:
            yield _Verdict(ItemType.EVENT, WEAK, EventKind.REMINDER, Q_WHEN_REMINDER)
    verbs = {f: families[f] for f in ("task", "meeting", "deadline", "spending") if f in families}
    if not verbs and "modal" in families:
        verbs["task"] = families["modal"]
    if not verbs:
        return
    ordered = sorted(verbs, key=verbs.__getitem__)
    head = ordered[0]
    rivals = [f for f in ordered[1:] if frozenset({head, f}) not in _COMPATIBLE]
    verdict = _family_verdict(chain, head)
    if rivals:
        question = f"Это {_FAMILY_LABELS[head]} или {_FAMILY_LABELS[rivals[0]]}?"
        verdict = _Verdict(verdict.type, min(verdict.confidence, DOUBTFUL), verdict.kind, question)
    yield verdict
    for rival in rivals:
        yield _family_verdict(chain, rival)


def _family_verdict(chain: _Chain, family: str) -> _Verdict:
    has_date = chain.when is not None
    if family == "meeting":
        if has_date:
            return _Verdict(ItemType.EVENT, STRONG, EventKind.MEETING)
        return _Verdict(ItemType.EVENT, WEAK, EventKind.MEETING, Q_WHEN_MEETING)
    if family == "deadline":
        if has_date:
            return _Verdict(ItemType.EVENT, STRONG, EventKind.DEADLINE)
        return _Verdict(ItemType.EVENT, WEAK, EventKind.DEADLINE, Q_WHEN_DEADLINE)
    if family == "spending":
        if chain.amount is None:
            return _Verdict(ItemType.EXPENSE, WEAK, question=Q_HOW_MUCH)
        return _Verdict(ItemType.EXPENSE, STRONG if chain.amount.sure else GOOD)
    return _task_verdict(chain)


def _task_verdict(chain: _Chain) -> _Verdict:
    """A task: sure when short and to the point, doubtful when the verb is all there is."""
    if chain.recurring:  # "по средам в 17 забирать Тиму": a recurring chore is a reminder
        return _Verdict(ItemType.EVENT, GOOD, EventKind.REMINDER)
    title_words = len(_WORD.findall(_FILLER.sub("", _cut_text(chain.root, {"date"}))))
    if title_words <= 1 and chain.rest_words <= 2:
        return _Verdict(ItemType.TASK, WEAK, question=Q_WHAT_EXACTLY)
    if chain.rest_words > 30:
        return _Verdict(ItemType.TASK, WEAK, question=Q_TASK_OR_NOTE)
    if "task" not in chain.families:  # only "надо"/"нужно" and an unknown verb
        return _Verdict(ItemType.TASK, FAIR if chain.when is None else GOOD)
    return _Verdict(ItemType.TASK, STRONG if chain.when is not None else GOOD)


def _by_tokens(chain: _Chain) -> Iterator[_Verdict]:
    """Readings from what the text carries: an amount, contact details, a link, a date."""
    amount = chain.amount
    if amount is not None and amount.sure:
        if chain.rest_words <= 12:
            yield _Verdict(ItemType.EXPENSE, GOOD)
        else:
            yield _Verdict(ItemType.EXPENSE, WEAK, question=Q_IS_EXPENSE)
    if amount is not None and chain.priced and chain.when is None:
        yield _Verdict(ItemType.EXPENSE, GOOD if chain.rest_words <= 4 else FAIR)
    if any(m.phones or m.emails or m.usernames for m in chain.messages):
        if chain.rest_words <= 4:
            strong = any(m.phones or m.emails for m in chain.messages)
            yield _Verdict(ItemType.CONTACT, STRONG if strong else GOOD)
        else:
            yield _Verdict(ItemType.CONTACT, WEAK, question=Q_CONTACT_OR_NOTE)
    if any(m.urls for m in chain.messages):
        yield _Verdict(ItemType.LINK, STRONG)
    if "event" not in chain.families and opens_with_infinitive(_undated(chain)):
        if chain.recurring:
            yield _Verdict(ItemType.EVENT, GOOD, EventKind.REMINDER)
        else:
            yield _Verdict(ItemType.TASK, GOOD if chain.when is not None else FAIR)
    if chain.when is not None and not any(m.tags for m in chain.messages):
        if chain.when_is_limit and "event" not in chain.families:
            yield _Verdict(ItemType.TASK, FAIR)
        elif "event" in chain.families:
            yield _Verdict(ItemType.EVENT, GOOD, EventKind.OTHER)
        else:
            yield _Verdict(ItemType.EVENT, WEAK, EventKind.OTHER, Q_EVENT_OR_TASK)


def _undated(chain: _Chain) -> str:
    """The root's text without its tokens, corrections and dates."""
    return _cut_text(chain.root, {"date"})


def _plain(chain: _Chain) -> _Verdict:
    """No signal at all: a note, unless there is nothing worth keeping."""
    text = "\n".join(m.text for m in chain.messages).strip()
    if not text and not chain.has_files:
        return _Verdict(ItemType.NONE, SURE)
    if not chain.has_letters and not any(m.tags for m in chain.messages):
        return _Verdict(ItemType.NONE, FAIR)  # emoji, punctuation
    if _CHITCHAT.fullmatch(re.sub(r"[\W_]+", " ", text).strip()):
        return _Verdict(ItemType.NONE, FAIR)
    if any(m.tags for m in chain.messages):
        return _Verdict(ItemType.NOTE, STRONG)  # the owner filed it on purpose
    if chain.rest_words >= 3:
        return _Verdict(ItemType.NOTE, FAIR)
    return _Verdict(ItemType.NOTE, WEAK, question=Q_IS_NOTE)
