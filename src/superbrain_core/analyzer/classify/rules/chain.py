"""Facts about a whole chain: corrections, keyword families, amounts, people, file titles."""

from __future__ import annotations

from dataclasses import replace

from superbrain_core.analyzer.classify.extract import money as money_reader
from superbrain_core.analyzer.classify.extract import people as people_reader
from superbrain_core.analyzer.classify.extract.money import Money
from superbrain_core.analyzer.classify.rules.grammar import (
    _CONTACT_CUE,
    _DEADLINE,
    _EVENT_NOUN,
    _MEETING,
    _PRICE_CUE,
    _PRICE_MINIMUM,
    _REMINDER,
    _SPENDING,
    _TASK_MODAL,
    _TASK_VERB,
    _WORD,
    FILE_LABELS,
)
from superbrain_core.analyzer.classify.rules.reading import _blank
from superbrain_core.analyzer.classify.rules.values import _Correction, _Facts
from superbrain_core.analyzer.classify.schema import (
    ClassifierInput,
    ItemType,
)

# --------------------------------------------------------------------------- the chain


def _corrections(messages: list[_Facts]) -> tuple[_Correction | None, set[ItemType]]:
    """The newest explicit type still standing, and every type the owner ruled out.

    A type named and later denied ("это встреча" ... "нет, не встреча") is
    dropped; a type denied and later named again wins, because a named type is
    used as is and the ruled-out ones only matter when none is named.
    """
    latest: _Correction | None = None
    excluded: set[ItemType] = set()
    for facts in messages:
        if facts.negative:
            excluded |= facts.negative
            if latest is not None and latest.type in facts.negative:
                latest = None
        if facts.positive:
            latest = facts.positive[-1]
    return latest, excluded


def _families(text: str) -> dict[str, int]:
    """Where each keyword family first appears in ``text`` (the chain, root first)."""
    found: dict[str, int] = {}
    for family, pattern in (
        ("task", _TASK_VERB),
        ("modal", _TASK_MODAL),
        ("meeting", _MEETING),
        ("reminder", _REMINDER),
        ("deadline", _DEADLINE),
        ("spending", _SPENDING),
        ("event", _EVENT_NOUN),
    ):
        match = pattern.search(text)
        if match is not None:
            found[family] = match.start()
    return found


def _pick_amount(
    messages: list[_Facts], families: dict[str, int], money_meant: bool
) -> tuple[Money | None, bool]:
    """The sum the chain is about, and whether it came from a "thing + price" line.

    The newest message with a written sum (a currency or a scale) wins, the
    total or the first sum not taken back ("не 1500 а 1800"). Failing that, a
    bare number counts as roubles where money is meant (a transfer, a spending
    verb, the owner calling it an expense): the newest message first, a number
    after "за"/"for" first. With no other signal at all, a short line naming a
    thing and its price ("бензин 2800") gives its price.
    """
    for facts in reversed(messages):
        chosen = money_reader.choose(facts.amounts)
        if chosen is not None:
            return chosen, False
    if money_meant:
        for facts in reversed(messages):
            found = [m for m in money_reader.find_money(facts.plain) if m.amount > 0]
            priced = [
                m
                for m in found
                if m.amount >= _PRICE_MINIMUM and _PRICE_CUE.search(facts.plain, 0, m.start)
            ]
            chosen = money_reader.choose(priced) or money_reader.choose(found)
            if chosen is not None:
                return chosen, False
        return None, False
    if families:
        return None, False  # "встреча в переговорке 305": a number beside a verb is no price
    for facts in reversed(messages):
        item = money_reader.priced_item(facts.plain)
        if item is not None:
            return item, True
    return None, False


def _with_currency(amount: Money | None, messages: list[_Facts]) -> Money | None:
    """A sum without a written currency takes one a later reply names alone ("евро конечно")."""
    if amount is None or amount.currency is not None:
        return amount
    for facts in reversed(messages[1:]):
        for word in _WORD.findall(facts.plain):
            code = money_reader.currency_code(word)
            if code is not None and len(word) > 1:
                return replace(amount, currency=code)
    return amount


def _named(messages: list[_Facts]) -> list[people_reader.Person]:
    """The people named in the chain, with offsets in the chain's joined plain text."""
    named: list[people_reader.Person] = []
    offset = 0
    for facts in messages:
        for person in people_reader.find_people(facts.plain):
            named.append(
                people_reader.Person(person.start + offset, person.end + offset, person.name)
            )
        offset += len(facts.plain) + 1
    return named


def _without_dates(messages: list[_Facts]) -> str:
    """The chain's blanked texts with the dates blanked too, one message a line."""
    parts = []
    for facts in messages:
        text = facts.rest
        for start, end, what in facts.cut:
            if what == "date":
                text = _blank(text, start, end)
        parts.append(text)
    return "\n".join(parts)


def _strip_contact_words(text: str) -> str:
    return _CONTACT_CUE.sub(" ", text)


def _file_title(item: ClassifierInput, caption: str) -> str | None:
    if caption:
        return caption
    for raw_file in item.files:
        if raw_file.file_name:
            return raw_file.file_name
    kind = item.files[0].file_type if item.files else item.message_type
    return FILE_LABELS.get(kind or "", "Файл")
