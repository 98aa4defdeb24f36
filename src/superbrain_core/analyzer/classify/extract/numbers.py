"""Numbers as people type and say them, with where they stand in the text.

Digits come in every local habit: ``1500``, ``1 500`` and ``8 400`` (spaced
thousands), ``15.000`` and ``1,500`` (dotted or comma thousands), ``1500,50``
and ``6 230,50`` (a decimal comma), ``14.50``, with a shorthand scale attached
or after a space: ``3к``, ``10k``, ``1.5к``, ``3,2к``, ``5 тыс``, ``18 тыс.``,
``2 млн``.

Numbers in words, Russian and English in any case ("три тысячи", "двух тысяч",
"семьсот", "twenty", "one hundred and fifty"), are read by the ``number-parser``
package, whose vocabularies already hold the inflected Russian forms. It does
not know a few things people say about money, which this module adds on top of
it (the only hand-kept list here, :data:`SLANG`):

* "полторы"/"полтора" (1.5) and "с половиной" / "and a half" (+0.5), before a
  scale word or alone: "полторы тысячи" 1500, "две с половиной тысячи" 2500;
* slang for round sums: "тыща", "косарь", "полтинник", "сотка", "пятихатка",
  "лям", "grand", and "a hundred" / "a thousand";
* thousands left unsaid in a spoken price: "девять девятьсот" is 9900 (a count
  under a thousand followed by hundreds).

``number-parser`` builds its language tables on every call (about 0.3 ms), so
it is only called for runs of words that are numbers; finding those runs is a
set lookup per word against the same tables, built once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Final

from number_parser import parse as _np_parse  # type: ignore[import-untyped, unused-ignore]
from number_parser.parser import (  # type: ignore[import-untyped, unused-ignore]
    LanguageData as _NPLanguage,
)

__all__ = [
    "DIGITS",
    "SLANG",
    "Number",
    "find_numbers",
    "parse_digits",
    "plain",
    "spoken_value",
]

#: Digits with thousands separators and decimals, longest habits first.
DIGITS: Final = (
    r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?"  # 1 500 / 1 500,50
    r"|\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?"  # 1,500 / 1,500.50
    r"|\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?"  # 1.500 / 1.500,50
    r"|\d+(?:[.,]\d{1,2})?"  # 1500 / 1500,50 / 7.5
)

_THOUSAND = Decimal(1000)
_MILLION = Decimal(1_000_000)
_BILLION = Decimal(1_000_000_000)

#: Scale words written after digits ("5 тыс", "2 млн", "3 thousand"), by their start.
_SCALE_WORDS: Final = (
    ("тыс", _THOUSAND),
    ("тыщ", _THOUSAND),
    ("млн", _MILLION),
    ("миллион", _MILLION),
    ("лям", _MILLION),
    ("млрд", _BILLION),
    ("миллиард", _BILLION),
    ("thousand", _THOUSAND),
    ("grand", _THOUSAND),
    ("million", _MILLION),
    ("mln", _MILLION),
    ("billion", _BILLION),
    ("bn", _BILLION),
)
_SCALE_WORD = (
    r"тыс(?:яч[а-яё]*|\.)?|тыщ[а-яё]*|млн\.?|миллион[а-яё]*|лям(?:а|ов)?|млрд\.?|миллиард[а-яё]*"
    r"|thousands?|grand|millions?|mln|billions?|bn"
)
_DIGIT_NUMBER = re.compile(
    rf"(?<![\w.,])(?P<num>{DIGITS})(?![\d]|[.,]\d)"
    # "3к", "10k": a letter only when attached ("10 к пятнице" is a preposition);
    # a scale word may stand after a space.
    rf"(?:(?P<letter>[кkКK])(?![^\W\d_])|\s?(?P<word>{_SCALE_WORD})(?![^\W\d_]))?",
    re.IGNORECASE,
)

_WORD = re.compile(r"[^\W\d_]+")
#: What may stand between two words of one spoken number: spaces, a hyphen.
_JOINER = re.compile(r"[ \t\u00a0-]*")

_HALF: Final = "<half>"  # "с половиной", "and a half"
_ONE_AND_HALF: Final = "<one-and-half>"  # "полторы", "полтора"

#: What ``number-parser`` does not know, as words it does (or a marker read here).
SLANG: Final[dict[str, tuple[str, str]]] = {
    **dict.fromkeys(("полтора", "полторы", "полутора"), ("ru", _ONE_AND_HALF)),
    **dict.fromkeys(("тыща", "тыщи", "тыщу", "тыщ", "тыщей", "тыщами"), ("ru", "тысяча")),
    **dict.fromkeys(("косарь", "косаря", "косарей", "косарю", "косарем"), ("ru", "тысяча")),
    **dict.fromkeys(("полтинник", "полтинника", "полтос"), ("ru", "пятьдесят")),
    **dict.fromkeys(("сотка", "сотку", "сотню", "сотня"), ("ru", "сто")),
    **dict.fromkeys(("пятихатка", "пятихатку", "пятихат"), ("ru", "пятьсот")),
    **dict.fromkeys(("лям", "ляма", "лямов"), ("ru", "миллион")),
    "grand": ("en", "thousand"),
}
_HALF_PHRASES: Final = (("с", "половинои"), ("and", "a", "half"))


@dataclass(frozen=True, slots=True)
class _Tables:
    """One language's words, from ``number-parser``'s tables plus :data:`SLANG`."""

    numbers: frozenset[str]  # every word that is (part of) a number
    skips: frozenset[str]  # words allowed inside a number only ("and")
    big: frozenset[str]  # scale words of a thousand and more


@cache
def _tables(language: str) -> _Tables:
    data = _NPLanguage(language)
    slang = {w for w, (lang, _) in SLANG.items() if lang == language}
    return _Tables(
        numbers=frozenset(data.all_numbers) | slang,
        skips=frozenset(data.skip_tokens) - frozenset(data.all_numbers),
        big=frozenset(w for w, v in data.big_powers_of_ten.items() if v >= 1000),
    )


@dataclass(frozen=True, slots=True)
class Number:
    """One number found in a text: ``text[start:end]`` says ``value``.

    ``spoken``: written at least partly in words. ``scaled``: a scale of a
    thousand or more was written ("3к", "5 тыс", "две тысячи", "косарь"), which
    makes it a sum of money far more often than a count of things.
    """

    start: int
    end: int
    value: Decimal
    spoken: bool = False
    scaled: bool = False


def plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros or an exponent: 1500.0 → 1500, 6230.50 → 6230.5."""
    if value == value.to_integral_value():
        return Decimal(int(value))  # exact at any size, where quantize runs out of precision
    return value.normalize()  # a fraction: never an exponent


def parse_digits(text: str) -> Decimal | None:
    """A number written in digits as people write it: "1 500", "1,500.50", "1.500", "1500,50"."""
    text = re.sub(r"[ \u00a0\u202f]", "", text)
    if "," in text and "." in text:
        # The later separator is the decimal one.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", text):
        text = text.replace(",", "").replace(".", "")  # thousands: "1,500" / "1.500"
    else:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _scale_of(word: str) -> Decimal:
    word = word.lower()
    for start, value in _SCALE_WORDS:
        if word.startswith(start):
            return value
    return _THOUSAND  # к / k


def _fold(word: str) -> str:
    """A word the way ``number-parser`` keys its tables: lower case, accents off (ё→е, й→и)."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _language_of(word: str) -> str:
    return "en" if word.isascii() else "ru"


def _digit_numbers(text: str) -> Iterator[Number]:
    for m in _DIGIT_NUMBER.finditer(text):
        value = parse_digits(m.group("num"))
        if value is None:
            continue
        scale = m.group("letter") or m.group("word")
        if scale:
            value *= _scale_of(scale)
        yield Number(m.start(), m.end(), plain(value), scaled=bool(scale))


def _spoken_runs(text: str) -> Iterator[tuple[int, int, list[str]]]:
    """Runs of number words (folded), with their span; half phrases become one marker."""
    words = [(m.start(), m.end(), _fold(m.group())) for m in _WORD.finditer(text)]
    i = 0
    while i < len(words):
        start, _, word = words[i]
        tables = _tables(_language_of(word))
        if word not in tables.numbers:
            i += 1  # nor does a skip word ("and") start a number
            continue
        run = [SLANG[word][1] if word in SLANG else word]
        j = i + 1
        while j < len(words):
            gap = text[words[j - 1][1] : words[j][0]]
            if not _JOINER.fullmatch(gap):
                break
            half = _half_phrase(words, j, text)
            if half:
                run.append(_HALF)
                j += half
                continue
            nxt = words[j][2]
            if nxt not in tables.numbers and nxt not in tables.skips:
                break
            run.append(SLANG[nxt][1] if nxt in SLANG else nxt)
            j += 1
        while run and run[-1] in tables.skips:
            run.pop()  # a trailing "and" belongs to the sentence
            j -= 1
        yield start, words[j - 1][1], run
        i = j


def _half_phrase(words: Sequence[tuple[int, int, str]], j: int, text: str) -> int:
    """How many words from ``j`` make "с половиной" / "and a half" (0 if they do not)."""
    for phrase in _HALF_PHRASES:
        if j + len(phrase) > len(words):
            continue
        if all(words[j + k][2] == phrase[k] for k in range(len(phrase))) and all(
            _JOINER.fullmatch(text[words[j + k - 1][1] : words[j + k][0]])
            for k in range(1, len(phrase))
        ):
            return len(phrase)
    return 0


def spoken_value(words: Sequence[str], language: str) -> list[tuple[Decimal, bool]]:
    """The numbers a run of number words says, each with whether it was scaled.

    ``words`` are folded number words as :func:`find_numbers` collects them
    (slang already replaced). Usually one number; "три пять" is two.
    """
    if _ONE_AND_HALF in words or _HALF in words:
        return _with_half(words, language)
    groups = _groups(words, language)
    if len(groups) == 2:  # more than two is a number read out digit group by digit group
        return _join_unsaid_thousands(groups)
    return groups


def _groups(words: Sequence[str], language: str) -> list[tuple[Decimal, bool]]:
    """Split ``words`` into the numbers ``number-parser`` reads, each as long as it goes."""
    result: list[tuple[Decimal, bool]] = []
    start = 0
    while start < len(words):
        best: tuple[Decimal, int] | None = None
        for end in range(start + 1, len(words) + 1):
            value = _one_number(words[start:end], language)
            if value is not None:
                best = (value, end)
            elif words[end - 1] not in _tables(language).skips:
                break  # "and" may be followed by the rest; anything else ends it
        if best is None:
            start += 1
            continue
        value, end = best
        big = _tables(language).big
        result.append((value, any(w in big for w in words[start:end])))
        start = end
    return result


def _one_number(words: Sequence[str], language: str) -> Decimal | None:
    if not words or words[-1] in _tables(language).skips:
        return None
    out = str(_np_parse(" ".join(words), language=language)).split()
    if len(out) != 1 or not out[0].isdigit():
        return None
    return Decimal(out[0])


def _scale_word_value(word: str, language: str) -> Decimal | None:
    value = _one_number([word], language)
    return value if value is not None and value >= _THOUSAND else None


def _with_half(words: Sequence[str], language: str) -> list[tuple[Decimal, bool]]:
    """ "полторы тысячи" 1500, "две с половиной тысячи" 2500, "полтора" 1.5."""
    half = Decimal("0.5")
    marker = _ONE_AND_HALF if _ONE_AND_HALF in words else _HALF
    at = list(words).index(marker)
    before, after = words[:at], words[at + 1 :]
    if marker == _ONE_AND_HALF:
        if before:
            return _groups(before, language)
        base = Decimal(1)
    else:
        head = _groups(before, language) if before else []
        if len(head) != 1:
            return head
        base = head[0][0]
    scale = _scale_word_value(after[0], language) if after else None
    if scale is not None:
        return [((base + half) * scale, True), *_groups(after[1:], language)]
    return [(base + half, False), *(_groups(after, language) if after else [])]


def _join_unsaid_thousands(groups: list[tuple[Decimal, bool]]) -> list[tuple[Decimal, bool]]:
    """ "девять девятьсот" is 9900: a count under a thousand, then hundreds."""
    joined: list[tuple[Decimal, bool]] = []
    for value, scaled in groups:
        if joined:
            previous, previous_scaled = joined[-1]
            whole = previous == previous.to_integral_value()
            if whole and not previous_scaled and 1 <= previous < 1000 and 100 <= value < 1000:
                joined[-1] = (previous * 1000 + value, False)
                continue
        joined.append((value, scaled))
    return joined


def _spoken_numbers(text: str) -> Iterator[Number]:
    for start, end, run in _spoken_runs(text):
        if not run:
            continue
        language = _language_of(run[0]) if not run[0].startswith("<") else "ru"
        values = spoken_value(run, language)
        if len(values) == 1:
            value, scaled = values[0]
            yield Number(start, end, plain(value), spoken=True, scaled=scaled)
        elif values:
            # Several numbers in one run ("три пять"): each is kept, over the whole run,
            # so that none of them is later taken for a price on its own.
            for value, scaled in values:
                yield Number(start, end, plain(value), spoken=True, scaled=scaled)


def find_numbers(text: str) -> list[Number]:
    """Every number in ``text``, digits and words, in order of where it starts.

    "2 тысячи" is one number (the digits take the scale word), as is "5 тыс".
    """
    found = list(_digit_numbers(text))
    taken = [(n.start, n.end) for n in found]
    for number in _spoken_numbers(text):
        if not any(s < number.end and number.start < e for s, e in taken):
            found.append(number)
    found.sort(key=lambda n: n.start)
    return found
