"""The words of dates and times, Russian and English, and the cleaning a text gets first.

Why a module of its own: the grammar in :mod:`.date_parts` is written against
*canonical* words ("среду", "завтра", "понедельник"), so the typos people make
("срду", "завтро", "понедельнек") are mended here once, before any pattern runs,
instead of widening every pattern. The same cleaning blanks what only looks like
a date or a time - URLs, e-mails, phone numbers, long codes and sums of money -
so that "+7 (925) 431-20-09" never becomes 20:09 and "14.50 eur" never 14:50.

Cleaning keeps every character where it was (lowercasing and blanking keep the
length), so spans found in the cleaned text are spans in the original. Only a
mended typo can change a word's length; :func:`clean` then returns a table that
maps positions back.

Typos are read with rapidfuzz against the vocabulary of full date words, under
rules chosen so that ordinary words never match: the first letter must agree
(people rarely mistype it), the word must be at least four letters and not
longer than the vocabulary word it is taken for (a typo drops or swaps a letter;
"завтрак" is one letter *longer* than "завтра" and is breakfast), at most one
edit up to eight letters and two from nine, and a short list of real words that
sit one edit from a date word ("среди", "четверо", "четверка") is never mended.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

__all__ = [
    "AMBIGUOUS_ABBREVIATIONS",
    "COUNTS",
    "EN_HOURS",
    "GENITIVE_HOURS",
    "HOURS",
    "MINUTES",
    "MONTHS",
    "NTH",
    "RELATIVE_DAYS",
    "WEEKDAYS",
    "WEEKDAY_PLURALS",
    "alternation",
    "clean",
    "mend_word",
]

#: Only this much of a message is read: a pasted book must not cost more than a note.
READ_LIMIT: Final = 2000


def _words(text: str) -> list[str]:
    return text.split()


def _forms(table: list[tuple[int, str]]) -> dict[str, int]:
    return {word: value for value, words in table for word in words.split()}


#: Weekday forms in every case and the usual abbreviations, Monday = 0.
WEEKDAYS: Final = _forms(
    [
        (0, "понедельник понедельника понедельнику понедельником понедельнике пн monday mon"),
        (1, "вторник вторника вторнику вторником вторнике вт tuesday tue tues"),
        (2, "среда среду среды среде средой ср wednesday wed weds wensday wendsday wednsday"),
        (3, "четверг четверга четвергу четвергом четверге чт thursday thu thur thurs"),
        (4, "пятница пятницу пятницы пятнице пятницей пт friday fri"),
        (5, "суббота субботу субботы субботе субботой сб saturday sat"),
        (6, "воскресенье воскресенья воскресенью воскресеньем воскресение вс воскр sunday sun"),
    ]
)
#: Abbreviations that are also ordinary English words: they need a date context.
AMBIGUOUS_ABBREVIATIONS: Final = frozenset({"mon", "wed", "sat", "sun"})
#: "по вторникам", "mondays": the plural that means every such day.
WEEKDAY_PLURALS: Final = _forms(
    [
        (0, "понедельникам mondays"),
        (1, "вторникам tuesdays"),
        (2, "средам wednesdays"),
        (3, "четвергам thursdays"),
        (4, "пятницам fridays"),
        (5, "субботам saturdays"),
        (6, "воскресеньям sundays"),
    ]
)
MONTHS: Final = _forms(
    [
        (1, "январь января январе янв january jan"),
        (2, "февраль февраля феврале фев февр february feb"),
        (3, "март марта марте мар march mar"),
        (4, "апрель апреля апреле апр april apr"),
        (5, "май мая мае may"),
        (6, "июнь июня июне июн june jun"),
        (7, "июль июля июле июл july jul"),
        (8, "август августа августе авг august aug"),
        (9, "сентябрь сентября сентябре сен сент september sep sept"),
        (10, "октябрь октября октябре окт october oct"),
        (11, "ноябрь ноября ноябре ноя нояб november nov"),
        (12, "декабрь декабря декабре дек december dec"),
    ]
)
#: Days counted from today; shorthand that no fuzzy rule could safely reach is listed.
RELATIVE_DAYS: Final = _forms(
    [
        (0, "сегодня седня today"),
        (1, "завтра завтр tomorrow tmrw tmr tmw tomorow tommorow tommorrow 2morrow"),
        (2, "послезавтра"),
    ]
)
#: Clock hours in words ("в десять", "at ten").
HOURS: Final = _forms(
    [
        (1, "час one"),
        (2, "два two"),
        (3, "три three"),
        (4, "четыре four"),
        (5, "пять five"),
        (6, "шесть six"),
        (7, "семь seven"),
        (8, "восемь eight"),
        (9, "девять nine"),
        (10, "десять ten"),
        (11, "одиннадцать eleven"),
        (12, "двенадцать twelve"),
    ]
)
EN_HOURS: Final = {word: value for word, value in HOURS.items() if word.isascii()}
#: "полвосьмого", "без четверти пять", "четверть восьмого": the hour being entered.
GENITIVE_HOURS: Final = _forms(
    [
        (1, "первого"),
        (2, "второго"),
        (3, "третьего"),
        (4, "четвертого"),
        (5, "пятого"),
        (6, "шестого"),
        (7, "седьмого"),
        (8, "восьмого"),
        (9, "девятого"),
        (10, "десятого"),
        (11, "одиннадцатого"),
        (12, "двенадцатого"),
    ]
)
#: Minutes said after an hour ("десять тридцать", "ten thirty").
MINUTES: Final = {
    "ноль ноль": 0,
    "десять": 10,
    "пятнадцать": 15,
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "сорок пять": 45,
    "пятьдесят": 50,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty five": 45,
    "forty-five": 45,
    "fifty": 50,
}
#: How many days, weeks or minutes: "через две недели", "in a couple of days".
COUNTS: Final = {
    "один": 1,
    "одну": 1,
    "одна": 1,
    "a": 1,
    "an": 1,
    "one": 1,
    "два": 2,
    "две": 2,
    "пару": 2,
    "пара": 2,
    "two": 2,
    "a couple of": 2,
    "couple of": 2,
    "a couple": 2,
    "три": 3,
    "three": 3,
    "четыре": 4,
    "four": 4,
    "пять": 5,
    "five": 5,
    "шесть": 6,
    "six": 6,
    "семь": 7,
    "seven": 7,
    "восемь": 8,
    "eight": 8,
    "девять": 9,
    "nine": 9,
    "десять": 10,
    "ten": 10,
}
#: "last friday of the month", "вторую субботу месяца".
NTH: Final = _forms(
    [
        (1, "first 1st первую первый первое"),
        (2, "second 2nd вторую второй второе"),
        (3, "third 3rd третью третий третье"),
        (4, "fourth 4th четвертую четвертый четвертое"),
        (-1, "last последнюю последний последнее"),
    ]
)
_NEXT_FORMS: Final = _words(
    "следующий следующую следующее следующей следующего следующем следующих следующие"
)

#: Real words one edit away from a date word, never taken for a typo.
_NOT_TYPOS: Final = frozenset(
    _words(
        "среди средь сред серда четверо четверка четверку четверки четверкой вечерок сундук"
        " sundae monda toady"
    )
)
#: What the typo reader may answer: full words only (abbreviations are too short to guess).
_VOCABULARY: Final = tuple(
    sorted(
        {w for w in WEEKDAYS if len(w) > 4}
        | set(WEEKDAY_PLURALS)
        | {w for w in MONTHS if len(w) >= 6}
        | {w for w in RELATIVE_DAYS if len(w) >= 5}
        | {"tonight", *_NEXT_FORMS}
    )
)
_BY_FIRST_LETTER: Final = {
    letter: tuple(w for w in _VOCABULARY if w[0] == letter)
    for letter in {w[0] for w in _VOCABULARY}
}
#: Words read as they are: every known form, so the typo reader never runs on them.
_KNOWN: Final = frozenset(
    {*WEEKDAYS, *WEEKDAY_PLURALS, *MONTHS, *RELATIVE_DAYS, *HOURS, *GENITIVE_HOURS, *COUNTS}
    | {*NTH, *_NEXT_FORMS, *_NOT_TYPOS, "tonight", "tonite"}
)

_WORD: Final = re.compile(r"[a-zа-я]{4,}")
_BLANKS: Final = re.compile(
    r"""
      (?:https?://|www\.)\S+                              # URLs
    | (?<![a-z0-9.-])(?:[a-z0-9-]++\.)++[a-z]{2,}+/\S*    # bare domains with a path
    | (?<![\w.+-])[\w.+-]++@[\w-]+\.[\w.-]+              # e-mails
    | @[a-z_]\w*                                          # usernames
    | \+\d[\d\s()-]{8,}\d                                 # +7 916 ..., +44 ...
    | (?<![\d+])8[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)  # 8 (916) 123-45-67
    | \d{4}(?:\s\d{4}){2,}                                # card numbers
    | \d{5,}                                              # codes, ids, long sums
    | [$€£]\s?\d[\d\s]*(?:[.,]\d+)?                       # $15, € 320
    | \d{1,3}(?:\s\d{3})+(?:[.,]\d+)?                     # 8 400, 3 456,78: spaced thousands
      (?=\s*(?:[₽$€]|р\b|руб|rub|usd|eur|евро|\n|$))
    | \d+(?:[.,]\d+)?[кk](?![a-zа-я])                     # 3к, 1.5k
    | \d+(?:[.,]\d+)?\s?(?:тыс\w*|млн|₽|р(?![a-zа-я])|руб\w*|rub|usd|eur|euro?s?
                            |евро|dollars?|bucks|баксов|\$|€)(?![a-zа-я])
    """,
    re.X,
)
_DASHES: Final = str.maketrans(
    {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-"}
    | {"ё": "е", "\u00a0": " ", "\u202f": " ", "\u2009": " "}
)


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of words, longest first so that "пятницу" wins over "пт"."""
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


@lru_cache(maxsize=8192)
def mend_word(word: str) -> str | None:
    """The date word a typo stands for ("севодня" -> "сегодня"), or None.

    Cached: the same few hundred words make up most messages, so the edit
    distance is computed once per distinct word, not once per message.
    """
    if word in _KNOWN or len(word) < 4:
        return None
    limit = 1 if len(word) <= 8 else 2
    choices = [
        w for w in _BY_FIRST_LETTER.get(word[0], ()) if len(word) <= len(w) <= len(word) + limit
    ]
    found = process.extractOne(word, choices, scorer=Levenshtein.distance, score_cutoff=limit)
    return None if found is None else str(found[0])


def clean(text: str) -> tuple[str, list[int] | None]:
    """The text lowercased, blanked and mended, and a table back to the original's positions.

    The table is None when no typo was mended (the usual case): positions are then
    the same in both. Otherwise ``table[i]`` is where character ``i`` of the cleaned
    text came from, with one extra entry for the end.
    """
    text = text[:READ_LIMIT]
    low = text.lower()
    if len(low) != len(text):  # a few characters lowercase to two ("İ"); keep them as they are
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    low = low.translate(_DASHES)
    low = _BLANKS.sub(lambda m: " " * len(m.group()), low)
    fixes = [(m.start(), m.end(), fixed) for m in _WORD.finditer(low) if (fixed := mend_word(m[0]))]
    if not fixes:
        return low, None
    pieces: list[str] = []
    table: list[int] = []
    at = 0
    for start, end, fixed in fixes:
        pieces.append(low[at:start])
        table.extend(range(at, start))
        pieces.append(fixed)
        table.extend(start + min(i, end - start - 1) for i in range(len(fixed)))
        at = end
    pieces.append(low[at:])
    table.extend(range(at, len(low) + 1))
    return "".join(pieces), table
