"""When a message says something happens: one date, time, range or recurrence, with its span.

``extract_when(text, now, zone)`` reads Russian and English as people type it in
a chat - lowercase, typos ("послезавтро", "в срду"), loose times ("в пятницу 11
45", "полвосьмого", "8ish"), ranges ("с 3 по 17 августа", "jan 18-29"),
periods ("к концу недели", "в начале следующего месяца", "через две недели"),
and recurrences ("по вторникам в 19", "every other wednesday at 3pm") - and
resolves it against the message's own Telegram date in the owner's zone, never
the clock of the machine that runs it.

Why our own grammar and not dateparser: on the corpus dateparser's
``search_dates`` costs about 1 ms a message (the classifier's whole budget is
3 ms), misses most of the loose forms above and reads bare numbers as years
("в пятницу 11 45" became 2045). The grammar here is a few precompiled regexes
per kind and takes about 0.1 ms a message on the corpus (timed in the tests).

The conventions are those of ``tests/corpus/README.md``:

* a time without a date is its next occurrence after ``now``; a bare hour 1-6
  is afternoon; утром 09:00, днём / в обед 13:00, вечером 19:00, noon 12:00,
  EOD 23:59; written 00:00-03:59, "завтра" is the calendar day that has begun;
* a weekday is the nearest one strictly after today, "next"/"следующий" that
  weekday of the next Monday-Sunday week; a day of the month alone ("10-го")
  is the next one strictly after today; a date without a year is the next one
  not before today;
* a whole day starts at 00:00 (``has_time`` False); a range of days runs from
  00:00 of the first to 23:59 of the last; "до/к/by X" without a time is due at
  23:59 of X (``is_deadline``).

Whether the message is a task or an event is the caller's decision, and with
it the last of the README's rules: a *task* due on a day without a time is due
at 23:59 of it (:meth:`When.task_due`), an *event* starts at 00:00
(:meth:`When.event_start`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final

import attrs

from .date_parts import Clock, Part, Rule, scan
from .date_words import clean

__all__ = ["When", "extract_when"]

END_OF_DAY: Final = time(23, 59)
#: Parts that can anchor a moment: a day, a range of days, a week.
_DAY_KINDS: Final = frozenset({"day", "range", "week"})


@attrs.frozen(kw_only=True)
class When:
    """A moment (or period) a message names, resolved in the owner's zone.

    ``span`` is where the expression stands in the original text (start, end),
    so a caller can cut "завтра в 10" out of a title.
    """

    start: datetime
    end: datetime | None = None
    has_time: bool = False
    is_deadline: bool = False
    recurrence: str | None = None
    span: tuple[int, int] = (0, 0)
    #: False when only a time of day was named ("в 5", "вечером"): ``start`` is
    #: then its next occurrence, and a chain keeps an earlier message's day.
    has_day: bool = True

    def task_due(self) -> datetime:
        """When a task is due: its time, else 23:59 of its (last) day."""
        if self.has_time:
            return self.start
        return datetime.combine((self.end or self.start).date(), END_OF_DAY, self.start.tzinfo)

    def event_start(self) -> datetime:
        """When an event starts: its time, else 00:00 of its day ("до 1 декабря" included)."""
        if self.has_time:
            return self.start
        return datetime.combine(self.start.date(), time(0, 0), self.start.tzinfo)


def extract_when(text: str, now: datetime, zone: tzinfo) -> When | None:
    """The date, time, range or recurrence ``text`` names, or None.

    ``now`` is the message's aware Telegram date; the answer is in ``zone``.
    Of several expressions, a range of days wins, then a deadline ("купить
    подарки на 23 февраля до 20-го" is due on the 20th), then the first one.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (the message's Telegram date)")
    local = now.astimezone(zone)
    cleaned, table = clean(text)
    parts = scan(cleaned, local.replace(tzinfo=None))
    if not parts:
        return None
    when = _Resolver(cleaned, parts, local, zone).when()
    if when is None or table is None:
        return when
    return attrs.evolve(when, span=(table[when.span[0]], table[when.span[1]]))


class _Resolver:
    """Picks the parts that belong together and turns them into a :class:`When`."""

    def __init__(self, text: str, parts: list[Part], now: datetime, zone: tzinfo) -> None:
        self.t, self.now, self.zone = text, now, zone
        self.today = now.date()
        self.parts = parts

    def at(self, d: date, hm: tuple[int, int] | time) -> datetime:
        clock = hm if isinstance(hm, time) else time(*hm)
        return datetime.combine(d, clock, self.zone)

    def of(self, *kinds: str) -> list[Part]:
        return [p for p in self.parts if p.kind in kinds]

    def when(self) -> When | None:
        ranges, recurs = self.of("range"), self.of("recur")
        if recurs and not ranges:
            return self.recurring(recurs)
        days = self.combine_weeks(self.of(*_DAY_KINDS))
        day = min(days, key=lambda p: (-(p.kind == "range"), -p.deadline, p.start), default=None)
        times = (p for p in self.parts if p.kind in ("time", "trange", "moment") and not p.weak)
        anchor = day or next(times, None)
        if anchor is None:
            pod = next((p for p in self.of("pod") if not p.weak), None)
            if pod is None:
                return None
            return attrs.evolve(self.timed(None, pod, [pod]), has_day=False)
        if day is None and anchor.kind == "moment" and anchor.moment is not None:
            start = anchor.moment.replace(tzinfo=self.zone)
            return When(start=start, has_time=True, span=(anchor.start, anchor.end))
        timed = self.timed(day, anchor, [anchor])
        return timed if day is not None else attrs.evolve(timed, has_day=False)

    def combine_weeks(self, days: list[Part]) -> list[Part]:
        """ "next week wednesday", "in two weeks, friday": the weekday of that week."""
        weeks = [p for p in days if p.kind == "week"]
        weekdays = [p for p in days if p.weekday is not None and not p.next_week]
        if not (weeks and weekdays):
            return days
        week, wd = weeks[0], weekdays[0]
        assert week.day is not None and wd.weekday is not None
        monday = week.day - timedelta(days=week.day.weekday())
        merged = attrs.evolve(
            wd,
            kind="day",
            start=min(week.start, wd.start),
            end=max(week.end, wd.end),
            day=monday + timedelta(days=wd.weekday),
            deadline=week.deadline or wd.deadline,
        )
        return [merged] + [p for p in days if p is not week and p is not wd]

    def nearest(self, anchor: Part, kinds: Iterable[str]) -> Part | None:
        """The part of ``kinds`` closest to the anchor; weak ones only right beside it."""
        found = [
            p
            for p in self.parts
            if p.kind in kinds and p is not anchor and (not p.weak or self.beside(anchor, p))
        ]
        return min(
            found, key=lambda p: max(p.start - anchor.end, anchor.start - p.end), default=None
        )

    def beside(self, a: Part, b: Part) -> bool:
        gap = self.t[min(a.end, b.end) : max(a.start, b.start)]
        return len(gap) <= 4 and gap.strip(" ,") in ("", "в", "at", "@")

    def clock_of(self, anchor: Part) -> tuple[Part | None, Part | None, str | None]:
        """The time that goes with the anchor, the part of day that gave or tuned it, am/pm.

        A meal tunes an hour ("ужин в 8" is 20:00) and, beside a day, gives the
        time when nothing else does ("lunch with tom next thursday" is 13:00).
        """
        clock = anchor if anchor.kind in ("time", "trange") else None
        clock = clock or self.nearest(anchor, ("time", "trange"))
        pod = self.nearest(anchor if clock is None else clock, ("pod",))
        meal = self.nearest(anchor, ("meal",))
        hint = next((p.clock.half for p in (pod, meal) if p and p.clock and p.clock.half), None)
        if clock is None:
            return pod or (meal if anchor.kind in _DAY_KINDS else None), pod, None
        return clock, pod, hint

    def timed(self, day: Part | None, anchor: Part, used: list[Part]) -> When:
        clock_part, pod, hint = self.clock_of(anchor)
        if anchor.kind == "pod":
            clock_part, pod = anchor, anchor
        if day is not None and day.kind == "range":
            clock_part = pod = None  # a range of days keeps whole days
        before = self.nearest(anchor, ("before",))
        used += [p for p in (clock_part, pod, before) if p is not None and p.kind != "meal"]
        deadline = any(p.deadline for p in used)
        if clock_part is None or clock_part.clock is None:
            assert day is not None and day.day is not None
            d = day.day - (before.offset if before and before.offset else timedelta())
            if day.kind == "range" and day.end_day is not None:
                last = self.at(day.end_day, END_OF_DAY)
                return self.make(self.at(d, (0, 0)), last, False, deadline, used)
            return self.make(
                self.at(d, END_OF_DAY if deadline else (0, 0)), None, False, deadline, used
            )
        hm = clock_part.clock.resolve(hint)
        if day is not None and day.day is not None:
            start = self.at(day.day, hm)
        else:
            start = self.at(self.today, hm)
            start += timedelta(days=start <= self.now)
        if before is not None and before.offset is not None:
            start -= before.offset
        end: datetime | None = None
        if clock_part.end_clock is not None:
            end = self.at(start.date(), clock_part.end_clock.resolve(hint))
            end += timedelta(days=end <= start)
        return self.make(start, end, True, deadline, used)

    def make(
        self,
        start: datetime,
        end: datetime | None,
        has_time: bool,
        deadline: bool,
        used: list[Part],
    ) -> When:
        return When(
            start=start,
            end=end,
            has_time=has_time,
            is_deadline=deadline,
            span=self.span(used),
        )

    def span(self, used: list[Part]) -> tuple[int, int]:
        """The anchor's span, grown over the used parts that stand at most one word away."""
        start, end = used[0].start, used[0].end
        for p in sorted(used[1:], key=lambda p: min(abs(p.start - end), abs(start - p.end))):
            gap = self.t[min(end, p.end) : max(start, p.start)]
            if (p.end > start and p.start < end) or len(gap.split()) <= 1:
                start, end = min(start, p.start), max(end, p.end)
        return start, end

    def recurring(self, recurs: list[Part]) -> When:
        """A rule from its parts ("раз в две недели" + "по четвергам"), from its first time."""
        rule, anchor = recurs[0].rule, recurs[0]
        assert rule is not None
        for extra in recurs[1:]:
            assert extra.rule is not None
            rule = _merge(rule, extra.rule)
        used = list(recurs)
        day = self.nearest(anchor, ("day",))
        if day is not None and day.day is not None:
            if rule.freq == "YEARLY" and not rule.bymonth:
                rule = attrs.evolve(rule, bymonth=day.day.month, bymonthday=day.day.day)
                used.append(day)
            elif rule.freq == "MONTHLY" and not (rule.bymonthday or rule.byday):
                rule = attrs.evolve(rule, bymonthday=day.day.day)
                used.append(day)
            elif rule.freq == "WEEKLY" and not rule.byday and day.weekday is not None:
                rule = attrs.evolve(rule, byday=(day.weekday,))
                used.append(day)
        clock_part, pod, hint = self.clock_of(anchor)
        clock: Clock | None = clock_part.clock if clock_part else None
        if clock is None and rule.hint is not None:
            clock = rule.hint
        used += [p for p in (clock_part, pod) if p is not None and p.kind != "meal"]
        hm = clock.resolve(hint or (rule.hint.half if rule.hint else None)) if clock else (0, 0)
        return When(
            start=self.first(rule, hm),
            has_time=clock is not None,
            recurrence=rule.text(),
            span=self.span(used),
        )

    def first(self, rule: Rule, hm: tuple[int, int]) -> datetime:
        """The rule's first occurrence after now (today included, if still ahead)."""
        if rule.freq == "YEARLY" and rule.bymonth and rule.bymonthday:
            for year in range(self.today.year, self.today.year + 9):
                try:
                    found = self.at(date(year, rule.bymonth, rule.bymonthday), hm)
                except ValueError:
                    continue
                if found > self.now:
                    return found
        for k in range(400):
            d = self.today + timedelta(days=k)
            if _matches(rule, d) and self.at(d, hm) > self.now:
                return self.at(d, hm)
        return self.at(self.today, hm)  # pragma: no cover - every rule matches within a year


def _merge(a: Rule, b: Rule) -> Rule:
    """Two pieces of one rule: the finer frequency, the larger interval, every day named."""
    order = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")
    freq = a.freq if a.byday or a.bymonthday else b.freq
    if not (a.byday or a.bymonthday or b.byday or b.bymonthday):
        freq = max(a.freq, b.freq, key=order.index)
    return Rule(
        freq,
        max(a.interval, b.interval),
        tuple(sorted(set(a.byday) | set(b.byday))),
        a.nth or b.nth,
        a.bymonthday or b.bymonthday,
        a.bymonth or b.bymonth,
        a.hint or b.hint,
    )


def _matches(rule: Rule, d: date) -> bool:
    if rule.byday and d.weekday() not in rule.byday:
        return False
    if rule.nth > 0 and (d.day - 1) // 7 + 1 != rule.nth:
        return False
    if rule.nth < 0 and (d + timedelta(days=7)).month == d.month:
        return False
    if rule.bymonthday and d.day != rule.bymonthday:
        return False
    return not (rule.bymonth and d.month != rule.bymonth)
