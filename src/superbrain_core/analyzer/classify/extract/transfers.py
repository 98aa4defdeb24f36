"""Money sent to someone: "кинул Саше 1500 за пиццу", "paid Sarah back 25 bucks".

A transfer is a verb of sending or giving money back (:data:`TRANSFER_VERBS`)
*and* a sum somewhere in the same text; the person is the first one named
after the verb, else the first one named before it ("тёще перевели 20000").
Without a sum there is no transfer: "вернул книгу Пете" is not money.

To the classifier a transfer is an expense: money the owner sent
(the corpus convention), with the person in ``people``. Asking to be paid
("скинь мне 800") is an imperative, not one of these verbs, and stays a task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from superbrain_core.analyzer.classify.extract.money import Money, choose, find_money
from superbrain_core.analyzer.classify.extract.people import Person, find_people

__all__ = ["TRANSFER_VERBS", "Transfer", "find_transfer"]

#: Past tenses and nouns of sending money, Russian and English.
TRANSFER_VERBS: Final = re.compile(
    r"(?<![\w-])(?:"
    r"(?:с|за|под)?кинул[аи]?|перев[её]л[аи]?|перевели|перевод(?:а|ом)?|отдал[аи]?"
    r"|вернул[аи]?|одолжил[аи]?|отправил[аи]?|задонатил[аи]?|скинулись|сбп|sbp"
    r"|sent|transferred|paid|repaid|gave|lent|wired|venmo(?:ed|'d)?|zelled"
    r")(?![\w-])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer: the verb at ``text[start:end]``, the sum, and who got it (if named)."""

    start: int
    end: int
    money: Money
    person: Person | None


def find_transfer(text: str, *, people: list[Person] | None = None) -> Transfer | None:
    """The first transfer in ``text`` (see the module doc), or None.

    ``people`` may pass the names already found in ``text`` to save a second reading.
    """
    verb = TRANSFER_VERBS.search(text)
    if verb is None:
        return None
    found = find_money(text)
    money = choose([m for m in found if m.start >= verb.end()]) or choose(found)
    if money is None:
        return None
    named = find_people(text) if people is None else people
    after = [p for p in named if p.start >= verb.end()]
    person = after[0] if after else (named[0] if named else None)
    return Transfer(verb.start(), verb.end(), money, person)
