"""What a reply means beyond its own words: a "да" to the bot's question, a secret split
over two messages.

* The bot asks "500 ₽ — это расход?" or "45 ₽?"; the owner answers "да, такси"
  or "евро конечно". The answer confirms the type the question named (or, for
  a bare sum with a currency, an expense), exactly as if the owner had said it.
* The owner sends "1234", the bot asks what it is, the owner says "пин от
  домофона": the cue in one message makes the lone value in another a secret,
  masked and flagged like a secret written in one line.
"""

from __future__ import annotations

import re
from typing import Final

from superbrain_core.analyzer.classify.extract import money as money_reader
from superbrain_core.analyzer.classify.extract import secrets as secret_reader
from superbrain_core.analyzer.classify.rules.grammar import _F, _TYPE_WORD, _TYPE_WORDS
from superbrain_core.analyzer.classify.rules.values import _Correction, _Facts
from superbrain_core.analyzer.classify.schema import ItemType

__all__ = ["confirm", "secret_across"]

_YES: Final = re.compile(
    r"(?<!\w)(?:да|ага|угу|конечно|верно|именно|точно|yes|yep|yeah|sure|correct|right)(?!\w)",
    _F,
)
_NO: Final = re.compile(r"(?<!\w)(?:нет|не|no|nope|not)(?!\w)", _F)
_ASKED_TYPE: Final = re.compile(_TYPE_WORD, _F)


def confirm(facts: _Facts, asked: str) -> None:
    """Record the type the bot's question ``asked`` named if ``facts`` says yes to it."""
    if not asked or facts.positive or facts.negative:
        return
    if not _YES.search(facts.text) or _NO.search(facts.text):
        return
    named = {_type_of(m) for m in _ASKED_TYPE.finditer(asked)}
    if len(named) == 1:
        facts.positive.append(named.pop())
    elif not named and money_reader.choose(money_reader.find_money(asked)) is not None:
        facts.positive.append(_Correction(ItemType.EXPENSE, None))


def _type_of(match: re.Match[str]) -> _Correction:
    for index, (_, item_type, kind) in enumerate(_TYPE_WORDS):
        if match.group(f"t{index}") is not None:
            return _Correction(item_type, kind)
    raise AssertionError("a type word matched without a group")  # pragma: no cover


def secret_across(messages: list[_Facts]) -> None:
    """Mask a lone value when another message of the chain says it is a secret."""
    if any(m.sensitive for m in messages):
        return
    if not any(secret_reader.has_cue(m.text) for m in messages):
        return
    for facts in messages:
        if secret_reader.lone_value(facts.text):
            blank = " " * len(facts.text)
            facts.text, facts.rest, facts.plain = secret_reader.MASK, blank, blank
            facts.amounts.clear()
            facts.cut.clear()
            facts.sensitive = True
