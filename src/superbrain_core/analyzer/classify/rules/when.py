"""The rules' date finders: every date and clock expression one text can hold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from superbrain_core.analyzer.classify.rules.grammar import (
    _CLOCK_BARE_HOUR,
    _CLOCK_COLON,
    _CLOCK_DOT,
    _CLOCK_HOUR_AFTER_DAY,
    _CLOCK_HOUR_PART,
    _CLOCK_HOUR_UNIT,
    _CLOCK_WORD,
    _CLOCK_WORDS,
    _COUNT_WORDS,
    _DAY_BEFORE,
    _DAY_CLOCK_CUE,
    _DAY_DURATION,
    _DAY_MONTH_NAME,
    _DAY_WORD,
    _DAY_WORDS,
    _DEADLINE_PREFIX,
    _EXACT_DURATION,
    _ISO_DATE,
    _MONTH_NAME_DAY,
    _MONTHS_EN,
    _NUMERIC_DATE,
    _VAGUE_CLOCK,
    _VAGUE_CLOCKS,
    _WEEKDAY,
    _WEEKDAYS,
)
from superbrain_core.analyzer.classify.rules.values import _Facts, _When

# --------------------------------------------------------------------------- dates in one text


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    role: str  # "day", "clock", "exact" or "vague"
    value: str
    by: bool = False


def _find_when(facts: _Facts, work: str) -> _When | None:
    """Locate the first day, time and duration in ``work``; record their spans for the title."""
    found = list(_date_expressions(work))
    if not found:
        return None
    for item in found:
        if item.role != "vague":
            facts.cut.append((item.start, item.end, "date"))
    first: dict[str, _Found] = {}
    for item in sorted(found, key=lambda f: f.start):
        first.setdefault(item.role, item)
    exact, day, clock, vague = (first.get(r) for r in ("exact", "day", "clock", "vague"))
    if exact is not None and (day is None or exact.start < day.start):
        return _When(base=facts.base, exact=exact.value)
    if day is None and vague is not None and vague.value == _VAGUE_CLOCKS["tonight"]:
        day = _Found(vague.start, vague.end, "day", "today")
    if clock is None and day is not None and vague is not None:
        clock = vague
    if day is None and clock is None:
        return None
    if vague is not None and vague in (day, clock):
        facts.cut.append((vague.start, vague.end, "date"))
    return _When(
        base=facts.base,
        day=day.value if day else None,
        clock=clock.value if clock else None,
        by=bool((day and day.by) or (clock and clock.by)),
    )


def _date_expressions(text: str) -> Iterator[_Found]:
    """Every date/time expression, the more specific patterns claiming their text first."""
    claimed = bytearray(len(text))  # one flag a character: linear even for "завтра" * 1000
    for finder in _FINDERS:
        for found in finder(text):
            if not any(claimed[found.start : found.end]):
                claimed[found.start : found.end] = b"\x01" * (found.end - found.start)
                yield found


def _is_by(match: re.Match[str]) -> bool:
    prefix = match.groupdict().get("pre") or ""
    return bool(_DEADLINE_PREFIX.search(" " + prefix))


def _count(raw: str | None) -> float:
    if not raw:
        return 1.0
    raw = raw.lower().replace(",", ".")
    if "couple" in raw:
        return 2.0
    if raw in _COUNT_WORDS:
        return float(_COUNT_WORDS[raw])
    return float(raw)


def _find_exact_durations(text: str) -> Iterator[_Found]:
    for m in _EXACT_DURATION.finditer(text):
        if m.group("half"):
            minutes = 30.0
        elif m.group("oneandhalf"):
            minutes = 90.0
        else:
            unit = m.group("unit").lower()
            minutes = _count(m.group("n")) * (1 if unit.startswith(("мин", "min")) else 60)
        yield _Found(m.start(), m.end(), "exact", f"in {round(minutes)} minutes")


def _find_day_durations(text: str) -> Iterator[_Found]:
    for m in _DAY_DURATION.finditer(text):
        unit = m.group("unit").lower()
        word = "days" if unit[0] in "дd" else "weeks" if unit[0] in "нw" else "months"
        count = _count(m.group("n"))
        if count != int(count):
            continue  # "через 1.5 дня" is too vague to pretend precision
        yield _Found(m.start(), m.end(), "day", f"in {int(count)} {word}")


def _month_day(day: str, month: str, year: str | None) -> str:
    return f"{int(day)} {month} {year}" if year else f"{int(day)} {month}"


def _find_iso_dates(text: str) -> Iterator[_Found]:
    for m in _ISO_DATE.finditer(text):
        month = int(m.group("m"))
        if 1 <= month <= 12:
            phrase = _month_day(m.group("d"), _MONTHS_EN[month - 1], m.group("y"))
            yield _Found(m.start(), m.end(), "day", phrase)


def _find_named_month_dates(text: str) -> Iterator[_Found]:
    for pattern in (_DAY_MONTH_NAME, _MONTH_NAME_DAY):
        for m in pattern.finditer(text):
            if not 1 <= int(m.group("d")) <= 31:
                continue  # dateparser would read "32 марта" as March 2032
            phrase = _month_day(m.group("d"), m.group("m").lower(), m.group("y"))
            yield _Found(m.start(), m.end(), "day", phrase, _is_by(m))


def _find_numeric_dates(text: str) -> Iterator[_Found]:
    """``25.03``, ``25/03/2026``: day first, as the owner writes; the month becomes a word.

    dateparser reads "10.03" as 10:03, so the date is rewritten as "10 March"
    before it gets there.
    """
    for m in _NUMERIC_DATE.finditer(text):
        day, month = int(m.group("d")), int(m.group("m"))
        if not (1 <= day <= 31 and 1 <= month <= 12):
            continue
        year = m.group("y")
        if year and len(year) == 2:
            year = "20" + year
        phrase = _month_day(str(day), _MONTHS_EN[month - 1], year)
        yield _Found(m.start(), m.end(), "day", phrase, _is_by(m))


def _find_day_words(text: str) -> Iterator[_Found]:
    for m in _DAY_WORD.finditer(text):
        word = re.sub(r"\s+", " ", m.group("w").lower())
        yield _Found(m.start(), m.end(), "day", _DAY_WORDS[word], _is_by(m))


def _find_weekdays(text: str) -> Iterator[_Found]:
    for m in _WEEKDAY.finditer(text):
        word = m.group("w").lower()
        if word.startswith("сред") and not m.group("pre"):
            continue  # "среда" without "в" is as likely the environment as Wednesday
        if word.startswith(("выходн", "weekend", "the weekend")):
            weekday = "saturday"
        else:
            weekday = _WEEKDAYS[word[:3]]
        yield _Found(m.start(), m.end(), "day", weekday, _is_by(m))


def _hour_24(hour: int, part: str | None) -> int | None:
    """The 24-hour hour of "7 вечера", "10 pm", "2 ночи"; None if it makes no sense."""
    part = (part or "").lower().replace(".", "")
    if not part:
        return hour if hour <= 23 else None
    if not 1 <= hour <= 12:
        return None
    if part in ("am", "утра"):
        return 0 if hour == 12 else hour
    if part == "ночи":
        return 0 if hour == 12 else hour if hour <= 5 else hour + 12
    return hour if hour == 12 else hour + 12  # pm, дня, вечера


def _clock_from(match: re.Match[str]) -> _Found | None:
    groups = match.groupdict()
    if (groups.get("part") or "").lower() == "дня" and not _DAY_CLOCK_CUE.search(match.group()):
        return None  # "2 дня" is two days; only "в 2 дня" / "2 часа дня" is 14:00
    hour = _hour_24(int(groups["h"]), groups.get("part"))
    minute = int(groups.get("mi") or 0)
    if hour is None:
        return None
    return _Found(match.start(), match.end(), "clock", f"{hour:02d}:{minute:02d}", _is_by(match))


def _find_clocks(text: str) -> Iterator[_Found]:
    for pattern in (
        _CLOCK_COLON,
        _CLOCK_DOT,
        _CLOCK_HOUR_PART,
        _CLOCK_HOUR_UNIT,
        _CLOCK_BARE_HOUR,
    ):
        for m in pattern.finditer(text):
            found = _clock_from(m)
            if found is not None:
                yield found
    for m in _CLOCK_HOUR_AFTER_DAY.finditer(text):
        if _DAY_BEFORE.search(text, max(0, m.start() - 40), m.start()):
            found = _clock_from(m)
            if found is not None:
                yield found
    for m in _CLOCK_WORD.finditer(text):
        yield _Found(m.start(), m.end(), "clock", _CLOCK_WORDS[m.group("w").lower()])


def _find_vague_clocks(text: str) -> Iterator[_Found]:
    for m in _VAGUE_CLOCK.finditer(text):
        word = re.sub(r"\s+", " ", m.group("w").lower())
        yield _Found(m.start(), m.end(), "vague", _VAGUE_CLOCKS[word])


#: In claiming order: durations before clocks ("через 2 часа" is not 02:00), clocks before
#: numeric dates ("в 7.50" is a time), numeric dates before bare words.
_FINDERS = (
    _find_exact_durations,
    _find_day_durations,
    _find_iso_dates,
    _find_named_month_dates,
    _find_clocks,
    _find_numeric_dates,
    _find_day_words,
    _find_weekdays,
    _find_vague_clocks,
)
