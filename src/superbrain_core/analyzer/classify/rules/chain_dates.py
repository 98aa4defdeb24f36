"""A clarified chain's date: each owner message read by :mod:`.extract.dates`, merged.

The owner corrects a date part by part: a newer day keeps an older time
("перенеси на пятницу" keeps 19:30), a newer time alone keeps the older day
("давай в 15:00", "в 5" answering "во сколько?"), a part of day alone tunes
the hour ("вечера конечно"), a duration ("через 2 часа") names the whole
moment. Each message is resolved against its own Telegram date, so "завтра"
in a reply sent a day later means the day after the reply. The bot's own
messages are never read: its questions repeat dates the owner may be correcting.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Final

import attrs

from superbrain_core.analyzer.classify.extract.dates import When, extract_when
from superbrain_core.analyzer.classify.rules.reading import _clean
from superbrain_core.analyzer.classify.schema import ClassifierInput

__all__ = ["chain_when"]

#: Where a reply's own correction starts: "не 5, а 6", "лучше 23-го", "not 3 but 4".
_INSTEAD: Final = re.compile(
    r"(?:\bне\b[^,.!?\n]{0,40},?\s*а|\bnot\b[^,.!?\n]{0,40},?\s*but|"
    r"\b(?:лучше|вернее|точнее|instead|rather))\b",
    re.IGNORECASE,
)


def chain_when(item: ClassifierInput) -> When | None:
    """The date the chain settles on, or None when no owner message names one."""
    day: date | None = None
    clock: time | None = None
    latest: When | None = None
    for message in item.chain:
        if message.from_bot or not message.text:
            continue
        now = message.date if message.date.tzinfo is not None else message.date.replace(tzinfo=UTC)
        text = _clean(message.text)
        when = None
        corrected = _INSTEAD.search(text)
        if corrected is not None:  # "не 5, а 6 вечера": what comes after "а" stands
            rest = text[corrected.end() :].strip()
            # "а 6 вечера" stands for "а в 6 вечера": a bare number there is a time
            for phrase in (rest, f"в {rest}"):
                when = when or extract_when(phrase, now, item.timezone)
        if when is None:
            when = extract_when(text, now, item.timezone)
        if when is None and (bare := _BARE_HOUR.fullmatch(text)) is not None:
            when = extract_when(f"в {bare['t']}", now, item.timezone)  # "и на 11"
        if when is None and clock is not None and (part := _PART_OF_DAY.search(text)):
            clock = _tuned(clock, part.group().lower())  # "вечера конечно" after "в 7"
            continue
        if when is None:
            continue
        local = when.start.astimezone(item.timezone)
        if when.has_day:
            day = local.date()
            if when.has_time:
                clock = local.time()
        elif when.has_time:
            clock = local.time()
            if day is None:
                day = local.date()
        latest = when if latest is None or when.end or when.recurrence else _keep(latest, when)
    if latest is None or day is None:
        return None
    start = datetime.combine(day, clock or time(0, 0), item.timezone)
    end = latest.end
    if end is not None and end <= start:
        end = None  # an end that belonged to the day the owner has moved away from
    return attrs.evolve(
        latest,
        start=start,
        end=end,
        has_time=clock is not None,
        has_day=True,
    )


#: A reply that is only an hour: "и на 11", "на 9:30".
_BARE_HOUR: Final = re.compile(
    r"\s*(?:и|а|ну|тогда|давай)?\s*(?:на|к)\s+(?P<t>\d{1,2}(?:[:.]\d{2})?)\s*[.!]?\s*",
    re.IGNORECASE,
)
#: A reply that names only the half of the day: "вечера конечно", "pm".
_PART_OF_DAY: Final = re.compile(r"(?<!\w)(?:утра|дня|вечера|ночи|am|pm)(?!\w)", re.IGNORECASE)


def _tuned(clock: time, part: str) -> time:
    """An hour said without its half of the day, moved into the half a reply names."""
    hour = clock.hour % 12
    if part in ("дня", "вечера", "pm") or (part == "ночи" and hour >= 6):
        hour += 12
    return clock.replace(hour=hour)


def _keep(older: When, newer: When) -> When:
    """A newer plain date keeps the older one's end and rule; its own deadline wins."""
    return attrs.evolve(older, is_deadline=newer.is_deadline or older.is_deadline)
