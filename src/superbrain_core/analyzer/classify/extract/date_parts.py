"""The pieces of a date in a cleaned text: days, ranges, clock times, periods, recurrences.

Why pieces first and one answer later (in :mod:`.dates`): people write a moment
in scattered words - "в пятницу 11 45", "dentist in two weeks, friday 10:30",
"каждую пятницу в 18 00" - and which words belong together is easier to decide
once every candidate is known. Each pattern below recognises one *kind* of
expression and turns it into a :class:`Part` already resolved against the
message's day; :mod:`.dates` then picks and combines them.

Patterns run from the most specific to the least, and a span taken by one is
never read again: "с 10 по 14 ноября" is a range before "14 ноября" can be a
date and "10" an hour. Clock times written without a preposition ("11 45",
"14-30", a bare "11") are *weak*: they count only right next to a day.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Final

import attrs

from . import date_grammar as gram
from .date_words import (
    AMBIGUOUS_ABBREVIATIONS,
    COUNTS,
    EN_HOURS,
    GENITIVE_HOURS,
    HOURS,
    MINUTES,
    MONTHS,
    NTH,
    RELATIVE_DAYS,
    WEEKDAY_PLURALS,
    WEEKDAYS,
)

__all__ = ["Clock", "Part", "Rule", "scan"]

DAY_CODES: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: A message with more date pieces than this is a timetable, not a message; reading on
#: would only cost time (the overlap checks grow with the square of the count).
MAX_PARTS: Final = 48
DEADLINE_WORDS: Final = frozenset({"до", "к", "ко", "by", "until", "till", "before"})


@attrs.frozen
class Clock:
    """A time as written: the hour before the 24-hour reading, which needs the context."""

    hour: int
    minute: int = 0
    half: str | None = None  # am, pm, night (ночи), day (дня), or None
    literal: bool = False  # "06:40", "19": the hour is already unambiguous

    def resolve(self, hint: str | None = None) -> tuple[int, int]:
        """The 24-hour time; ``hint`` is the context's am/pm ("вечером", "dinner")."""
        h, half = self.hour % 24, self.half
        if half is None and not self.literal:
            half = hint
        if half == "am":
            h = 0 if h == 12 else h
        elif half == "pm":
            h = h + 12 if h < 12 else h
        elif half == "night":
            h = 0 if h == 12 else h + 12 if h >= 9 else h
        elif half == "day" or (half is None and not self.literal):
            h = h + 12 if 1 <= h <= 6 else h
        return h, self.minute


@attrs.frozen
class Rule:
    """An RFC 5545 recurrence, the parts the corpus uses."""

    freq: str
    interval: int = 1
    byday: tuple[int, ...] = ()
    nth: int = 0  # with one byday: 2 = second, -1 = last of the month
    bymonthday: int | None = None
    bymonth: int | None = None
    hint: Clock | None = None  # "каждое утро": a time of day that comes with the rule

    def text(self) -> str:
        days = ",".join(f"{self.nth or ''}{DAY_CODES[d]}" for d in sorted(self.byday))
        parts = [f"FREQ={self.freq}"]
        parts += [f"INTERVAL={self.interval}"] if self.interval > 1 else []
        parts += [f"BYMONTH={self.bymonth}"] if self.bymonth else []
        parts += [f"BYMONTHDAY={self.bymonthday}"] if self.bymonthday else []
        parts += [f"BYDAY={days}"] if days else []
        return ";".join(parts)


@attrs.frozen
class Part:
    """One recognised expression, resolved as far as it can be on its own.

    ``kind``: day, range (of days), week (a day that names a week: "next week",
    "через 2 недели"), time, trange (of times), moment (now plus minutes), pod (a
    part of the day: "вечером"), meal ("lunch"), recur, before ("за день до").
    """

    kind: str
    start: int
    end: int
    day: date | None = None
    end_day: date | None = None
    weekday: int | None = None
    clock: Clock | None = None
    end_clock: Clock | None = None
    moment: datetime | None = None
    deadline: bool = False
    weak: bool = False
    next_week: bool = False
    rule: Rule | None = None
    offset: timedelta | None = None


POD_CLOCKS: Final = {"am": Clock(9, 0, "am"), "day": Clock(13, 0, "day"), "pm": Clock(19, 0, "pm")}
#: A meal names a time of day when no clock does ("lunch with tom next thursday" = 13:00),
#: and dinner makes a bare hour an evening one ("dinner w/ anna at 8" = 20:00).
MEALS: Final = (
    (("lunch", "обед", "пообед"), Clock(13, 0)),
    (("dinner", "ужин", "поужин", "supper"), Clock(19, 0, "pm")),
    (("breakfast", "завтрак"), Clock(9, 0, "am")),
    (("brunch", "бранч"), Clock(12, 0, None, True)),
)
QUARTER_HOURS: Final = frozenset({"00", "15", "30", "45"})
QUARTERS: Final = {"четверти": 15, "пятнадцати": 15, "двадцати": 20, "двадцати пяти": 25} | {
    "десяти": 10,
    "пяти": 5,
}


def _int(s: str | None, words: dict[str, int] = COUNTS, default: int = 1) -> int:
    if s is None:
        return default
    return int(s) if s.isdigit() else words.get(" ".join(s.split()), default)


def _ymd(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def not_before(month: int, day: int, today: date) -> date | None:
    """The date with that month and day that is not before today (next year if past)."""
    for year in range(today.year, today.year + 8):
        found = _ymd(year, month, day)
        if found is not None and found >= today:
            return found
    return None


def day_after(day: int, base: date) -> date | None:
    """The next day of the month ``day`` strictly after ``base``."""
    for k in range(14):
        y, m = divmod(base.month - 1 + k, 12)
        found = _ymd(base.year + y, m + 1, day)
        if found is not None and found > base:
            return found
    return None


def month_shift(d: date, months: int, day: int | None = None) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    last = calendar.monthrange(d.year + y, m + 1)[1]
    return date(d.year + y, m + 1, min(day or d.day, last))


def weekday_after(weekday: int, base: date) -> date:
    return base + timedelta(days=(weekday - base.weekday() - 1) % 7 + 1)


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def week_friday(d: date) -> date:
    """Friday of d's Monday-Sunday week; on the weekend itself, that Sunday."""
    return monday(d) + timedelta(days=6 if d.weekday() >= 5 else 4)


class _Scan:
    """One pass over one cleaned text; ``base`` is the day relative words count from."""

    def __init__(self, text: str, now: datetime) -> None:
        self.t, self.now, self.today = text, now, now.date()
        # Written 00:00-03:59, the night still belongs to the day before ("завтра" = today).
        self.base = self.today - timedelta(days=1) if now.hour < 4 else self.today
        self.parts: list[Part] = []
        self.taken: list[tuple[int, int]] = []

    def run(
        self, rx: re.Pattern[str], read: Callable[[re.Match[str]], list[Part] | Part | None]
    ) -> None:
        at = 0
        while len(self.parts) < MAX_PARTS and (m := rx.search(self.t, at)) is not None:
            start, end = m.span()
            covering = [b for a, b in self.taken if a <= start < b]
            if covering or not self.free(start, end):
                # A match over what is taken may hide a shorter one ("jan 12 10am":
                # "12 10am" is refused, "10am" is not): look again just after the
                # taken words, or one character on.
                at = max(covering) if covering else start + 1
                continue
            found = read(m)
            for part in found if isinstance(found, list) else [found] if found else []:
                self.parts.append(part)
                self.taken.append((part.start, part.end))
            at = max(end, start + 1)

    def free(self, start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in self.taken)

    def lead(self, start: int) -> tuple[int, bool]:
        """Where a part starts once its preposition is counted in, and whether it is "до"/"by"."""
        m = gram.LEAD.search(self.t, max(0, start - 16), start)
        if m is None or not self.free(m.start(), start):
            return start, False
        return m.start(), m["w"].split()[0] in DEADLINE_WORDS | {"не"}

    def day(
        self,
        m: re.Match[str],
        d: date | None,
        kind: str = "day",
        *,
        end_day: date | None = None,
        weekday: int | None = None,
        next_week: bool = False,
    ) -> Part | None:
        if d is None:
            return None
        start, deadline = self.lead(m.start())
        return Part(
            kind,
            start,
            m.end(),
            day=d,
            end_day=end_day,
            weekday=weekday,
            next_week=next_week,
            deadline=deadline,
        )

    # Recurrence ---------------------------------------------------------------
    def nth(self, m: re.Match[str]) -> Part:
        rule = Rule("MONTHLY", byday=(WEEKDAYS[m["wd"]],), nth=NTH[m["n"]])
        return Part("recur", m.start(), m.end(), rule=rule)

    def mday(self, m: re.Match[str]) -> Part:
        return Part(
            "recur", m.start(), m.end(), rule=Rule("MONTHLY", bymonthday=int(m["d"] or m["d2"]))
        )

    def periodic(self, m: re.Match[str]) -> Part:
        g = m.lastgroup or "d"
        freq = {"m": "MONTHLY", "y": "YEARLY", "d": "DAILY", "am": "DAILY", "pm": "DAILY"}.get(
            g, "WEEKLY"
        )
        byday = {"wk": (0, 1, 2, 3, 4), "we": (5, 6)}.get(g, ())
        rule = Rule(freq, 2 if g == "i2" else 1, byday, hint=POD_CLOCKS.get(g))
        return Part("recur", m.start(), m.end(), rule=rule)

    def every_weekday(self, m: re.Match[str]) -> Part:
        words = re.findall(rf"{gram.WDPL}|{gram.WD}", m["pl"] or m["pl2"] or m["list"])
        days = tuple(sorted({WEEKDAY_PLURALS.get(w, WEEKDAYS.get(w, 0)) for w in words}))
        return Part("recur", m.start(), m.end(), rule=Rule("WEEKLY", 2 if m["other"] else 1, days))

    def weekday_list(self, m: re.Match[str]) -> Part | None:
        days = {WEEKDAYS[w] for w in re.findall(gram.WD, m["list"])}
        return (
            Part("recur", m.start(), m.end(), rule=Rule("WEEKLY", byday=tuple(sorted(days))))
            if len(days) > 1
            else None
        )

    # Ranges -------------------------------------------------------------------
    def date_range(self, m: re.Match[str]) -> Part | None:
        g = m.groupdict()
        if "pre" in g and not g["pre"] and g["sep"] != "-":
            return None  # "5 до 10 декабря" without "с" is not a range
        if g.get("sep") == "and" and g.get("pre") != "between":
            return None
        m2 = MONTHS[(g["m2"] or g["m1"]).rstrip(".")]
        m1 = MONTHS[g["m1"].rstrip(".")] if g["m1"] else m2
        if g.get("y"):
            first, last = _ymd(int(g["y"]), m1, int(g["d1"])), _ymd(int(g["y"]), m2, int(g["d2"]))
        else:
            first = not_before(m1, int(g["d1"]), self.today)
            last = None if first is None else not_before(m2, int(g["d2"]), first)
        return None if first is None or last is None else self.day(m, first, "range", end_day=last)

    def num_range(self, m: re.Match[str]) -> Part | None:
        first = not_before(int(m["am"]), int(m["a"]), self.today)
        last = None if first is None else not_before(int(m["bm"]), int(m["b"]), first)
        return None if first is None or last is None else self.day(m, first, "range", end_day=last)

    def dom_range(self, m: re.Match[str]) -> Part | None:
        first = day_after(int(m["d1"]), self.base)
        last = None if first is None else day_after(int(m["d2"]), first - timedelta(days=1))
        return None if first is None or last is None else self.day(m, first, "range", end_day=last)

    def weekday_range(self, m: re.Match[str]) -> Part | None:
        w1, w2 = (WEEKDAYS[x] for x in (m["w1"] or m["w3"], m["w2"] or m["w4"]))
        if (m["w3"] or "") in AMBIGUOUS_ABBREVIATIONS and m["w4"] in AMBIGUOUS_ABBREVIATIONS:
            return None
        first = weekday_after(w1, self.base)
        return self.day(m, first, "range", end_day=first + timedelta(days=(w2 - w1) % 7))

    def time_range(self, m: re.Match[str]) -> Part | None:
        h1, h2 = int(m["h1"] or m["h3"]), int(m["h2"] or m["h4"])
        x1, x2 = _half(m["x1"] or m["x3"]), _half(m["x2"] or m["x4"])
        m1, m2 = m["m1"] or m["m3"], m["m2"] or m["m4"]
        if m["h3"] and not (m1 and m2) and not x2:
            return None  # "7-11" alone is not a time range; "2-4pm" and "14:00-15:30" are
        if x1 is None and x2 in ("am", "pm"):
            x1 = x2 if h1 <= h2 or h2 == 12 else "am"
        lit1, lit2 = _literal(m["h1"] or m["h3"]), _literal(m["h2"] or m["h4"])
        c1, c2 = Clock(h1, int(m1 or 0), x1, lit1), Clock(h2, int(m2 or 0), x2, lit2)
        return Part("trange", m.start(), m.end(), clock=c1, end_clock=c2)

    # Periods ------------------------------------------------------------------
    def week_end(self, m: re.Match[str]) -> Part:
        nxt = (m["rel"] or "") in ("следующей", "след", "след.", "будущей", "next")
        friday = week_friday(self.today + timedelta(days=7 * nxt))
        deadline = (m["pre"] or "") in DEADLINE_WORDS or m[0].startswith("концу") or m[0] == "eow"
        return Part("day", m.start(), m.end(), day=friday, deadline=deadline)

    def week(self, m: re.Match[str]) -> Part | None:
        if m["this"]:
            return self.day(m, week_friday(self.today))
        if m["next"]:
            start = monday(self.today) + timedelta(days=7)
            return self.day(m, start, "week")
        sat = monday(self.today) + timedelta(days=5 + 7 * bool(m["n1"] or m["n2"]))
        return self.day(m, max(sat, self.today), "range", end_day=sat + timedelta(days=1))

    def month_part(self, m: re.Match[str]) -> Part:
        part, what = m["part"], m["what"].rstrip(".")
        nxt = (m["rel"] or "").rstrip(".") in ("следующего", "след", "будущего", "next")
        which = 0 if part.startswith(("нач", "beg", "sta", "ear")) else 2 if part[0] in "кe" else 1
        first_of_month = self.today.replace(day=1)
        if what in ("года", "year"):
            start = date(self.today.year + nxt, (1, 7, 12)[which], 1)
            d = start.replace(day=31) if which == 2 else start
            if d < self.today:
                d = d.replace(year=d.year + 1)
        else:
            if what in ("месяца", "month"):
                start = month_shift(first_of_month, nxt, 1)
            else:
                start = not_before(MONTHS[what], 1, first_of_month) or first_of_month
            last = calendar.monthrange(start.year, start.month)[1]
            d = start.replace(day=(1, 15, last)[which])
            if d < self.today:  # the start of this month has passed: the next one's
                later = month_shift(start, 1, 1)
                d = later.replace(
                    day=(1, 15, calendar.monthrange(later.year, later.month)[1])[which]
                )
        deadline = (m["pre"] or "") in DEADLINE_WORDS
        return Part("day", m.start(), m.end(), day=d, deadline=deadline)

    def offset(self, m: re.Match[str]) -> Part | None:
        """ "через 20 минут" is a moment; "через 3 дня", "in two weeks" a day (a week's day)."""
        unit = m["u"] or "мин"
        if (
            m["half"]
            or m["ninety"]
            or (unit[0] in "мmчh" and not unit.startswith(("мес", "month")))
        ):
            minutes = 30 if m["half"] else 90 if m["ninety"] else _int(m["n"])
            minutes *= 1 if unit[0] in "мm" else 60
            moment = self.now.replace(second=0, microsecond=0) + timedelta(minutes=minutes)
            return Part("moment", m.start(), m.end(), moment=moment)
        n = _int(m["n"])
        if unit.startswith(("мес", "month")):
            return self.day(m, month_shift(self.today, n))
        if unit.startswith(("год", "лет", "year")):
            return self.day(m, month_shift(self.today, 12 * n))
        weeks = unit.startswith(("нед", "week", "wk"))
        target = self.today + timedelta(days=n * (7 if weeks else 1))
        return self.day(m, target, "week" if weeks else "day")

    def before(self, m: re.Match[str]) -> Part:
        unit = m["u"] or m["u2"] or "день"
        n = _int(m["n"] or m["n2"])
        hours = unit.startswith(("час", "hour"))
        days = n * (7 if unit.startswith(("нед", "week")) else 1)
        step = timedelta(hours=n) if hours else timedelta(days=days)
        return Part("before", m.start(), m.end(), offset=step)

    # Days ---------------------------------------------------------------------
    def date(self, m: re.Match[str]) -> Part | None:
        if m["iy"]:
            return self.day(m, _ymd(int(m["iy"]), int(m["im"]), int(m["id"])))
        month, d, y = (m["m"], m["d"], m["y"]) if m["m"] else (m["m2"], m["d2"], m["y2"])
        number = MONTHS[month.rstrip(".")]
        if y:
            return self.day(m, _ymd(int(y), number, int(d)))
        return self.day(m, not_before(number, int(d), self.today))

    def num_date(self, m: re.Match[str]) -> Part | None:
        a, b, y = int(m["a"]), int(m["b"]), m["y"]
        if m["sep"] == ".":
            if gram.AT.search(self.t, 0, m.start()) or (len(m["b"]) < 2 and not y):
                return None  # "в 10.03" is a time; "1.5" is not a date
            a, b = b, a
        if not 1 <= a <= 12:
            return None
        if y:
            return self.day(m, _ymd(int(y) + (2000 if len(y) == 2 else 0), a, b))
        return self.day(m, not_before(a, b, self.today))

    def dom(self, m: re.Match[str]) -> Part | None:
        return self.day(m, day_after(int(m["d"] or m["d2"]), self.base))

    def relative(self, m: re.Match[str]) -> list[Part] | Part | None:
        if m["tonight"]:
            return [
                Part("day", m.start(), m.end(), day=self.today),
                Part("pod", m.start(), m.end(), clock=POD_CLOCKS["pm"]),
            ]
        n = 2 if m["dat"] else RELATIVE_DAYS[m["w"]]
        return self.day(m, (self.base if n else self.today) + timedelta(days=n))

    def weekday(self, m: re.Match[str]) -> Part | None:
        form, pre, nxt = m["wd"], m["pre"], m["next"]
        if form == "среде" and gram.AT.search(self.t, 0, m.start("wd")):
            return None  # "в среде" is an environment, not a Wednesday
        # "среда" alone is as often an environment ("среда разработки") as Wednesday
        if (form in AMBIGUOUS_ABBREVIATIONS or form == "среда") and not (pre or nxt):
            after, before = (
                gram.WD_CONTEXT.match(self.t, m.end()),
                gram.WD_BEFORE.search(self.t, 0, m.start()),
            )
            if not (after or before):
                return None
        wd = WEEKDAYS[form]
        if nxt:
            return self.day(
                m, monday(self.base) + timedelta(days=7 + wd), weekday=wd, next_week=True
            )
        return self.day(m, weekday_after(wd, self.base), weekday=wd)

    # Times --------------------------------------------------------------------
    def word_time(self, m: re.Match[str]) -> Part | None:
        x = _half(m["x"])
        if m["eod"] or m["midnight"]:
            clock = Clock(23, 59, None, True)
        elif m["noon"]:
            clock = Clock(12, 0, None, True)
        elif m["gen"] or m["qgen"]:
            hour = GENITIVE_HOURS[m["gen"] or m["qgen"]] - 1 or 12
            clock = Clock(hour, 30 if m["gen"] else 15, x)
        elif m["q"]:
            q = int(m["q"]) if m["q"].isdigit() else QUARTERS[" ".join(m["q"].split())]
            hour = _int(m["qh"], HOURS, 0)
            if not (1 <= hour <= 12 and 0 < q < 60):
                return None
            clock = Clock(hour - 1 or 12, 60 - q, x)
        else:
            hour = _int(m["eh"], EN_HOURS, 0)
            k = m["k"]
            minutes = 30 if k == "half" else 15 if k == "quarter" else int(k)
            if not (1 <= hour <= 12 and 0 < minutes < 60):
                return None
            if m["rel"] in ("to", "till"):
                hour, minutes = hour - 1 or 12, 60 - minutes
            clock = Clock(hour, minutes, x)
        return self.time(m, clock, m["pre"])

    def said_hour(self, m: re.Match[str]) -> Part | None:
        if self.t[max(0, m.start() - 4) : m.start()].endswith("раз "):
            return None  # "раз в час" is how often, not when
        minute = MINUTES.get(" ".join((m["mi"] or "").split()), 0)
        return self.time(m, Clock(HOURS[m["h"]], minute, _half(m["x"])), m["pre"])

    def clock(self, m: re.Match[str]) -> Part | None:
        if m["h"] is not None:
            pre, sep = m["pre"], m["sep"]
            if sep == "." and not pre and int(m["mi"]) <= 12:
                return None  # day.month that is no date ("31.11"); a time needs "в" ("в 10.03")
            if sep in " -" and m["mi"][1] not in "05":
                return None
            h = m["h"]
            # "11 45", "21 00" stand alone; "2 30" or "7-15" only beside a day.
            weak = pre is None and sep in " -" and (len(h) < 2 or m["mi"] not in QUARTER_HOURS)
            return self.time(m, Clock(int(h), int(m["mi"]), _half(m["x"]), _literal(h)), pre, weak)
        if m["ch"] is not None:
            return self.time(
                m, Clock(int(m["ch"]), int(m["cmi"]), None, _literal(m["ch"])), m["cpre"]
            )
        if m["ah"] is not None:
            return self.time(m, Clock(int(m["ah"]), 0, _half(m["ax"])), m["apre"])
        if m["ih"] is not None:
            return self.time(m, Clock(int(m["ih"]), 0, None, _literal(m["ih"])), m["ipre"])
        if m["hh"] is not None:
            h = int(m["hh"])
            return self.time(m, Clock(h % 24, 0, _half(m["hx"]), _literal(m["hh"])), m["hpre"])
        return self.time(m, Clock(int(m["bh"]), 0, None, _literal(m["bh"])), None, weak=True)

    def time(self, m: re.Match[str], clock: Clock, pre: str | None, weak: bool = False) -> Part:
        return Part(
            "time", m.start(), m.end(), clock=clock, deadline=pre in DEADLINE_WORDS, weak=weak
        )

    def pod(self, m: re.Match[str]) -> Part | None:
        if m["meal"]:
            if gram.PURPOSE.search(self.t, max(0, m.start() - 5), m.start()):
                return None  # "продукты на ужин" is what for, not when
            clock = next(c for words, c in MEALS if m["meal"].startswith(words))
            return Part("meal", m.start(), m.end(), clock=clock)
        g = m.lastgroup or "day"
        if g == "weak":
            w = m["weak"]
            g = "am" if w[0] in "mу" else "pm" if w[0] in "eв" else "day"
            return Part("pod", m.start(), m.end(), clock=POD_CLOCKS[g], weak=True)
        return Part("pod", m.start(), m.end(), clock=POD_CLOCKS[g])


def _half(word: str | None) -> str | None:
    if not word:
        return None
    return {"a": "am", "у": "am", "p": "pm", "в": "pm", "н": "night", "д": "day"}[word[0]]


def _literal(hour: str) -> bool:
    """ "06", "0", "19": an hour that needs no am/pm guess."""
    return hour.startswith("0") or int(hour) >= 13


def scan(text: str, now: datetime) -> list[Part]:
    """Every date piece in a cleaned text, resolved against ``now`` (the owner's wall clock)."""
    s = _Scan(text, now)
    steps: list[tuple[re.Pattern[str], Callable[[re.Match[str]], list[Part] | Part | None]]] = [
        (gram.RX_NTH, s.nth),
        (gram.RX_MDAY, s.mday),
        (gram.RX_PERIODIC, s.periodic),
        (gram.RX_EVERY_WD, s.every_weekday),
        (gram.RX_WD_LIST, s.weekday_list),
        (gram.RX_BEFORE, s.before),
        (gram.RX_DRANGE, s.date_range),
        (gram.RX_DRANGE_MD, s.date_range),
        (gram.RX_DRANGE_NUM, s.num_range),
        (gram.RX_DRANGE_DOM, s.dom_range),
        (gram.RX_WRANGE, s.weekday_range),
        (gram.RX_TRANGE, s.time_range),
        (gram.RX_WEEK_END, s.week_end),
        (gram.RX_WEEK, s.week),
        (gram.RX_MONTH_PART, s.month_part),
        (gram.RX_IN, s.offset),
        (gram.RX_DATE, s.date),
        (gram.RX_NUM_DATE, s.num_date),
        (gram.RX_DOM, s.dom),
        (gram.RX_REL, s.relative),
        (gram.RX_WD, s.weekday),
        (gram.RX_WORD_TIME, s.word_time),
        (gram.RX_SAID_HOUR, s.said_hour),
        (gram.RX_CLOCK, s.clock),
        (gram.RX_POD, s.pod),
    ]
    for rx, read in steps:
        s.run(rx, read)
    return sorted(s.parts, key=lambda p: p.start)
