"""Sums of money as people write them: a number (see :mod:`.numbers`) and its currency.

Currencies are recognised by symbol, ISO code and word, before or after the
number: ``₽ р р. руб рублей RUB``, ``$ usd доллар(ов) бакс(ов) dollars bucks``,
``€ eur евро euros``. A sum whose currency is not written is taken as roubles
(:data:`DEFAULT_CURRENCY`): the owner lives in Moscow, and "такси 450" or
"groceries 2.3k" are roubles whatever the language.

What counts as a sum:

* a number with a currency ("8 400 ₽", "$15", "сто пятьдесят баксов");
* a number with a scale of a thousand or more ("3к", "18 тыс", "полторы
  тысячи"): counts of things are rarely written that way;
* a bare number only where the caller knows money is meant (after "потратил",
  "кинул Саше"), or in a short line that names a thing and its price
  (:func:`priced_item`: "бензин 2800", "продукты семьсот").

"не 1500 а 1800" denies the first sum; "итого", "всего", "total" mark the sum
that counts (:func:`choose`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from superbrain_core.analyzer.classify.extract.numbers import Number, find_numbers

__all__ = [
    "CURRENCIES",
    "DEFAULT_CURRENCY",
    "Money",
    "choose",
    "currency_code",
    "find_money",
    "priced_item",
]

#: What a sum without a written currency is.
DEFAULT_CURRENCY: Final = "RUB"

#: ISO 4217 code → how it is written after a number (symbols, codes, words in any case).
CURRENCIES: Final = {
    "RUB": r"₽|руб(?:л(?:ей|я|ь|ях|ям))?\.?|р\.|р(?![\w/-])|р(?=/)|rub|rur|рублик\w*",
    "USD": r"\$|usd|долл(?:ар(?:ов|а|ы)?)?\.?|бакс(?:ов|а|ы)?|dollars?|bucks?|us\$",
    "EUR": r"€|eur|евро|euros?",
}
#: Written before a number: symbols and codes only ("$15", "€320", "RUB 4200").
_BEFORE: Final = {"RUB": r"₽|rub", "USD": r"\$|usd", "EUR": r"€|eur"}

_F = re.IGNORECASE
_AFTER_RX = re.compile(  # used with match(text, pos): anchored where the number ends
    r"[ \u00a0]?(?:" + "|".join(f"(?P<{code}>{rx})" for code, rx in CURRENCIES.items()) + r")"
    r"(?![^\W\d_])",
    _F,
)
_BEFORE_RX = re.compile(
    r"(?<![\w$€₽])(?:" + "|".join(f"(?P<{code}>{rx})" for code, rx in _BEFORE.items()) + r")"
    r"[ \u00a0]?$",
    _F,
)
_WORD_RX = {code: re.compile(rf"^(?:{rx})$", _F) for code, rx in CURRENCIES.items()}
#: "не 1500 а 1800", "not 20 but 25": the first is taken back.
_DENIED = re.compile(r"(?<!\w)(?:не|not)\s+$", _F)
#: Words that mark the sum that counts: "... итого пять восемьсот".
_TOTAL = re.compile(r"(?<!\w)(?:итого|всего|в\s+сумме|total|in\s+total)[\s:=—–-]*$", _F)
#: Nouns whose number is an address, a place or a position, not a price.
_NOT_A_PRICE = re.compile(
    r"(?<!\w)(?:№|#|no\.?|кв\.?|квартир\w*|дом\w*|д\.|этаж\w*|офис\w*|комнат\w*|каб\.?|кабинет\w*"
    r"|корпус\w*|подъезд\w*|рейс\w*|вагон\w*|мест[оа]|ряд\w*|автобус\w*|маршрут\w*|трамва\w*"
    r"|page|стр\.?|глав\w*|урок\w*|класс\w*|room|flat|apt\.?|gate|seat|row|bus|flight"
    r"|iphone|айфон\w*|версия|version|v\.?)\s*$",
    _F,
)
#: Words after a price that still belong to a "thing + price" line.
_AFTER_PRICE = re.compile(r"^(?:\s*(?:за|на|в|for|on|at)(?!\w)|[\W_]*$)", _F)
_WORD = re.compile(r"[^\W_]+")

#: A line is a "thing and its price" only while it is this short (words, the price included).
PRICED_LINE_WORDS: Final = 7
#: Below this a bare number in such a line is more likely a count or a model ("iphone 15").
PRICED_LINE_MINIMUM: Final = Decimal(50)


@dataclass(frozen=True, slots=True)
class Money:
    """One sum in a text: ``text[start:end]`` (currency included) says ``amount``.

    ``currency`` is the ISO code as written, None when it was not written
    (:attr:`code` gives the default then). ``denied`` is a sum taken back ("не
    1500"), ``total`` one marked as the total ("итого ...").
    """

    start: int
    end: int
    amount: Decimal
    currency: str | None
    number: Number
    denied: bool = False
    total: bool = False

    @property
    def code(self) -> str:
        return self.currency or DEFAULT_CURRENCY

    @property
    def sure(self) -> bool:
        """Money beyond doubt: its currency is written, or a scale ("3к", "две тысячи")."""
        return self.currency is not None or self.number.scaled


def currency_code(word: str) -> str | None:
    """The ISO code of a currency word or symbol ("руб", "bucks", "€"), None if it is none."""
    word = word.strip()
    for code, rx in _WORD_RX.items():
        if rx.match(word):
            return code
    return None


def _code(match: re.Match[str]) -> str:
    return next(code for code, value in match.groupdict().items() if value)


def find_money(text: str) -> list[Money]:
    """Every number in ``text`` as a possible sum, with its currency where one is written.

    Bare numbers are included (``currency`` None, :attr:`Money.sure` False):
    whether "450" is a price is the caller's call.
    """
    found: list[Money] = []
    for number in find_numbers(text):
        start, end, currency = number.start, number.end, None
        after = _AFTER_RX.match(text, number.end)
        before = _BEFORE_RX.search(text, max(0, number.start - 6), number.start)
        if after is not None:
            currency, end = _code(after), after.end()
        elif before is not None:
            currency, start = _code(before), before.start()
        head = text[max(0, start - 40) : start]
        found.append(
            Money(
                start,
                end,
                number.value,
                currency,
                number,
                denied=_DENIED.search(head) is not None,
                total=_TOTAL.search(head) is not None,
            )
        )
    return _without_overlaps(found)


def _without_overlaps(found: list[Money]) -> list[Money]:
    """Several numbers read from one spoken run ("три пять") stay; others may not overlap."""
    kept: list[Money] = []
    for money in found:
        if kept and money.start < kept[-1].end and money.number.start != kept[-1].number.start:
            continue
        kept.append(money)
    return kept


def choose(found: list[Money]) -> Money | None:
    """The sum that counts: the last one marked as the total, else the first not taken back."""
    standing = [m for m in found if not m.denied]
    totals = [m for m in standing if m.total]
    if totals:
        return totals[-1]
    return standing[0] if standing else None


def priced_item(text: str) -> Money | None:
    """The price in a short line naming a thing and what it cost: "бензин 2800", "такси 450".

    ``text`` should have its dates, phones and the like blanked already. The
    line qualifies when it is short, holds exactly one number, that number
    comes after a word that is not an address or a position ("кв 42", "рейс
    310") and is followed by nothing but punctuation, emoji or a preposition
    ("продукты семьсот", "полтинник на парковку"), and a number in digits is at
    least :data:`PRICED_LINE_MINIMUM`.
    """
    words = _WORD.findall(text)
    if not words or len(words) > PRICED_LINE_WORDS:
        return None
    found = [m for m in find_money(text) if not m.denied]
    if len({m.number.start for m in found}) != 1:
        return None
    money = found[0]
    if not money.number.spoken and money.amount < PRICED_LINE_MINIMUM:
        return None
    head, tail = text[: money.start], text[money.end :]
    if _NOT_A_PRICE.search(head) or not _AFTER_PRICE.match(tail):
        return None
    if not _WORD.search(head) and not (money.number.spoken and _WORD.search(tail)):
        return None
    return money
