"""The structured tables as the owner reads them: an agenda by day, monthly spending.

Times are stored in UTC; the owner's day is a day on their clock
(``SUPERBRAIN_TIMEZONE``, Moscow by default), so an event at 23:30 UTC belongs to
the next Moscow day. Sums are kept per currency (no conversion is ever guessed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from superbrain_core.models import JSONDict
from superbrain_core.storage.base import Store

_PAGE = 1000


async def all_records(store: Store, table: str) -> list[JSONDict]:
    """Every row of a structured table, by id."""
    rows: list[JSONDict] = []
    after = 0
    while True:
        page = await store.list_records(table, after_id=after, limit=_PAGE)
        rows.extend(page)
        if len(page) < _PAGE:
            return rows
        after = int(page[-1]["id"])


def local_time(value: Any, zone: ZoneInfo) -> datetime | None:
    """A stored time (ISO text or datetime, UTC) on the owner's clock."""
    if value is None or value == "":
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.utcoffset() is None:
        return None
    return when.astimezone(zone)


@attrs.frozen
class AgendaDay:
    day: date | None
    """``None`` for events without a date."""
    events: tuple[JSONDict, ...]


def agenda(events: Iterable[JSONDict], zone: ZoneInfo) -> list[AgendaDay]:
    """Events by the owner's day, days in order, each day's events by start; undated last."""
    days: dict[date | None, list[tuple[datetime | None, JSONDict]]] = defaultdict(list)
    for event in events:
        start = local_time(event.get("starts_at"), zone)
        days[start.date() if start else None].append((start, event))
    dated = sorted(d for d in days if d is not None)
    ordered: list[date | None] = [*dated, *([None] if None in days else [])]
    return [
        AgendaDay(
            day,
            tuple(e for _, e in sorted(days[day], key=lambda p: (p[0] is None, p[0] or 0, 0))),
        )
        for day in ordered
    ]


@attrs.frozen
class MonthTotal:
    month: str
    """``YYYY-MM`` on the owner's clock."""
    currency: str
    total: Decimal
    count: int


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None and value != "" else None
    except InvalidOperation:
        return None


def monthly_totals(expenses: Iterable[JSONDict], zone: ZoneInfo) -> list[MonthTotal]:
    """Spending per month and currency, months in order. Rows without an amount are
    skipped; a missing currency counts as ``?``; a missing date as month ``?``."""
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for row in expenses:
        amount = _amount(row.get("amount"))
        if amount is None:
            continue
        when = local_time(row.get("spent_at"), zone)
        month = when.strftime("%Y-%m") if when else "?"
        sums[(month, str(row.get("currency") or "?"))].append(amount)
    return [
        MonthTotal(month, currency, sum(values, Decimal(0)), len(values))
        for (month, currency), values in sorted(sums.items())
    ]


@attrs.frozen
class Bar:
    """One bar of the monthly chart, in the chart's own units (0..height)."""

    label: str
    value: Decimal
    x: int
    height: int


def chart_bars(
    totals: Iterable[MonthTotal], currency: str, *, height: int = 120, step: int = 48
) -> list[Bar]:
    """Bars for one currency's monthly totals, scaled so the largest fills ``height``."""
    chosen = [t for t in totals if t.currency == currency]
    top = max((t.total for t in chosen), default=Decimal(0))
    return [
        Bar(
            t.month,
            t.total,
            i * step,
            int(t.total / top * height) if top > 0 else 0,
        )
        for i, t in enumerate(chosen)
    ]


def main_currency(totals: Iterable[MonthTotal]) -> str | None:
    """The currency with the most expenses (the one the chart shows)."""
    counts: dict[str, int] = defaultdict(int)
    for t in totals:
        counts[t.currency] += t.count
    return max(counts, key=lambda c: counts[c]) if counts else None
