"""The offline rules classifier, case by case.

Every case pins the type and, where the message names one, the exact moment it
resolves to in Moscow, so a regression in date handling shows as a wrong
datetime rather than as a vague "some date". Unless a case says otherwise the
message was sent on Wednesday 2026-03-11 at 10:00 Moscow time (07:00 UTC).
"""

from __future__ import annotations

import time as time_module
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from superbrain_core.analyzer.classify import rules
from superbrain_core.analyzer.classify.rules import RulesClassifier
from superbrain_core.analyzer.classify.schema import (
    CONFIDENCE_THRESHOLD,
    ChainMessage,
    Classification,
    Classifier,
    ClassifierError,
    ClassifierInput,
    EventKind,
    ItemType,
)
from superbrain_core.models import FileStatus, RawFile

pytestmark = pytest.mark.anyio

MSK = ZoneInfo("Europe/Moscow")
SENT = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)  # Wednesday 10:00 in Moscow
CLASSIFIER = RulesClassifier()


def msk(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """A moment on the owner's wall clock; an event on a day without a time starts at 00:00."""
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def eod(month: int, day: int, year: int = 2026) -> datetime:
    """23:59 of a day: when a task named with a day and no time is due."""
    return datetime(year, month, day, 23, 59, tzinfo=MSK)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def make_input(
    text: str | None,
    *,
    at: datetime = SENT,
    replies: tuple[tuple[str | None, datetime], ...] = (),
    bot_replies: tuple[tuple[str, datetime], ...] = (),
    message_type: str = "text",
    files: tuple[RawFile, ...] = (),
    zone: tzinfo = MSK,
) -> ClassifierInput:
    """A root message (id 1) with user replies (ids 2..) and bot messages (ids 100..)."""
    chain = [ChainMessage(message_id=1, text=text, date=at)]
    chain += [
        ChainMessage(message_id=100 + i, text=t, date=d, from_bot=True, reply_to_message_id=1)
        for i, (t, d) in enumerate(bot_replies)
    ]
    chain += [
        ChainMessage(message_id=2 + i, text=t, date=d, reply_to_message_id=1)
        for i, (t, d) in enumerate(replies)
    ]
    chain.sort(key=lambda m: m.date)
    return ClassifierInput(
        chat_id=42,
        message_id=1,
        user_id=7,
        message_type=message_type,
        text=text,
        message_date=at,
        chain=tuple(chain),
        files=files,
        timezone=zone,
    )


def make_file(file_type: str, name: str | None = None) -> RawFile:
    return RawFile(
        id=1,
        chat_id=42,
        message_id=1,
        user_id=7,
        file_type=file_type,
        file_id="AgAD",
        file_unique_id="AQAD",
        file_name=name,
        mime_type=None,
        file_size=1024,
        file_path=None,
        file_hash=None,
        status=FileStatus.PENDING,
        download_reason=None,
        raw_metadata={},
        is_processed=False,
        processed_at=None,
        uploaded_at=SENT,
    )


async def classify(item: ClassifierInput) -> Classification:
    return await CLASSIFIER.classify(item)


@dataclass(frozen=True)
class Case:
    """One message and what the classifier must answer.

    ``when`` is ``starts_at`` for events and ``due_at`` for tasks (None: no date
    at all). ``sure`` True means confidence >= 0.8 and no question; False means
    below 0.8 with a question; None means the case does not pin it.
    """

    text: str | None
    type: ItemType
    when: datetime | None = None
    kind: EventKind | None = None
    amount: str | None = None
    currency: str | None = None
    sure: bool | None = True
    title: str | None = None
    question: str | None = None
    people: tuple[str, ...] | None = None
    at: datetime = SENT
    extra: dict[str, object] = field(default_factory=dict)


def check(result: Classification, case: Case) -> None:
    assert result.type is case.type, f"{case.text!r}: {result}"
    assert result.classifier == "rules"
    if case.type is ItemType.EVENT:
        assert (result.starts_at, result.due_at) == (case.when, None)
        assert result.event_kind is case.kind
    elif case.type is ItemType.TASK:
        assert (result.due_at, result.starts_at) == (case.when, None)
    else:
        assert (result.starts_at, result.due_at) == (None, None)
    for moment in (result.starts_at, result.due_at):
        assert moment is None or moment.utcoffset() is not None
    assert result.amount == (Decimal(case.amount) if case.amount else None)
    assert result.currency == case.currency
    if case.sure is True:
        assert result.confidence >= CONFIDENCE_THRESHOLD and not result.unsure, result
        assert result.question is None
    elif case.sure is False:
        assert result.confidence < CONFIDENCE_THRESHOLD, result
        assert result.needs_clarification and result.question
    if case.title is not None:
        assert result.title == case.title
    if case.question is not None:
        assert result.question == case.question
    if case.people is not None:
        assert result.people == case.people
    for name, value in case.extra.items():
        assert getattr(result, name) == value


T, E, N = ItemType.TASK, ItemType.EVENT, ItemType.NOTE
MEETING, REMINDER, DEADLINE, OTHER = (
    EventKind.MEETING,
    EventKind.REMINDER,
    EventKind.DEADLINE,
    EventKind.OTHER,
)

DATES_RU = [
    Case("завтра купить молоко", T, eod(3, 12), title="Купить молоко"),
    Case("послезавтра позвонить в банк", T, eod(3, 13)),
    # names come out in the nominative, however they were declined
    Case("в пятницу встреча с Петей", E, msk(3, 13), MEETING, people=("Петя",)),
    Case("через 2 часа позвонить врачу", T, msk(3, 11, 12), title="Позвонить врачу"),
    Case("через полчаса созвон", E, msk(3, 11, 10, 30), MEETING),
    Case("25.03 день рождения", E, msk(3, 25), OTHER, title="День рождения"),
    Case("25 марта оплатить налог", T, eod(3, 25)),
    Case("25-го марта в 19:30 концерт", E, msk(3, 25, 19, 30), OTHER),
    # 07:50 has passed at 10:00, so the train is tomorrow's
    Case("в 7.50 поезд", E, msk(3, 12, 7, 50), OTHER, title="Поезд"),
    Case("в 19:30 встреча", E, msk(3, 11, 19, 30), MEETING),
    Case("сегодня в 18:00 созвон", E, msk(3, 11, 18), MEETING),
    # a task for today is due by the end of today, not at the moment it was written
    Case("сегодня купить хлеб", T, eod(3, 11)),
    Case("завтра вечером кино", E, msk(3, 12, 19), OTHER),
    Case("в 3 дня встреча", E, msk(3, 11, 15), MEETING),
    Case("созвон в 7 вечера", E, msk(3, 11, 19), MEETING),
    Case("напомни завтра в 10 позвонить маме", E, msk(3, 12, 10), REMINDER, title="Позвонить маме"),
    # a date already past this year is next year's
    Case("10.03 сдать отчёт", T, eod(3, 10, year=2027)),
    # after "в", 10.03 is a time
    Case("в 10.03 позвонить Ивану", T, msk(3, 11, 10, 3), people=("Иван",)),
    # Wednesday said on a Wednesday is next week's
    Case("в среду в 15:00 созвон", E, msk(3, 18, 15), MEETING),
    Case("через неделю сдать проект", T, eod(3, 18)),
    Case("дедлайн по отчёту в пятницу", E, msk(3, 13), DEADLINE),
    Case("сдать отчёт до пятницы", T, eod(3, 13), title="Сдать отчёт"),
    # after "до", 20.03 is a date even though 20:03 would be a valid time
    Case("сдать отчёт до 20.03", T, eod(3, 20)),
    # a time range keeps its end; 10:00 said at 10:00 is no longer ahead, so it is tomorrow's
    Case(
        "созвон с 10 до 12",
        E,
        msk(3, 12, 10),
        MEETING,
        title="Созвон",
        extra={"ends_at": msk(3, 12, 12)},
    ),
    Case("поезд 25.03.2026 в 06:40", E, msk(3, 25, 6, 40), OTHER),
    Case("встреча в полдень", E, msk(3, 11, 12), MEETING),
    Case(
        "надо встретиться с Петей и Машей в четверг",
        E,
        msk(3, 12),
        MEETING,
        people=("Петя", "Маша"),
    ),
    Case("Задача: разобрать почту", T, None, title="Разобрать почту"),
    Case("купить молоко", T, None),
    # "среда" without a preposition is the (development) environment, not Wednesday
    Case("среда разработки настроена", N, None),
    Case("2 дня назад ходил в кино", N, None),
]

DATES_EN = [
    Case("tomorrow at 10am call with Bob", E, msk(3, 12, 10), MEETING, people=("Bob",)),
    Case("on Monday send the report", T, eod(3, 16), title="Send the report"),
    Case("today buy milk", T, eod(3, 11)),
    Case("meeting with Alice on Friday at 3pm", E, msk(3, 13, 15), MEETING, people=("Alice",)),
    Case("Remind me to call Bob in 30 minutes", E, msk(3, 11, 10, 30), REMINDER),
    Case("Deadline for the grant March 25", E, msk(3, 25), DEADLINE),
    Case("pay rent by Friday", T, eod(3, 13)),
    Case("Buy milk tomorrow", T, eod(3, 12), title="Buy milk"),
    Case("sync with the team at 16:45", E, msk(3, 11, 16, 45), MEETING),
    # an appointment with a dentist is a meeting (seeing someone), as the corpus counts it
    Case("dentist appointment on 2026-04-02 at 8:30", E, msk(4, 2, 8, 30), MEETING),
]

MONEY = [
    Case("потратил 1 500 ₽ на такси", ItemType.EXPENSE, amount="1500", currency="RUB"),
    Case("кофе 350р", ItemType.EXPENSE, amount="350", currency="RUB", title="Кофе"),
    Case("заплатил $12.50 за обед", ItemType.EXPENSE, amount="12.50", currency="USD"),
    Case("такси 1,500.50 руб.", ItemType.EXPENSE, amount="1500.50", currency="RUB"),
    Case("обед 1500,50 рублей", ItemType.EXPENSE, amount="1500.50", currency="RUB"),
    Case("чек из Ленты 2 345 р.", ItemType.EXPENSE, amount="2345", currency="RUB"),
    Case("spent 20 EUR on lunch", ItemType.EXPENSE, amount="20", currency="EUR"),
    Case("I paid 1,200 USD for the flight", ItemType.EXPENSE, amount="1200", currency="USD"),
    Case("€15 parking", ItemType.EXPENSE, amount="15", currency="EUR"),
    Case("билеты RUB 4200", ItemType.EXPENSE, amount="4200", currency="RUB"),
    Case("ремонт 15 тыс. руб", ItemType.EXPENSE, amount="15000", currency="RUB"),
    Case("такси 5к ₽", ItemType.EXPENSE, amount="5000", currency="RUB"),
    # no currency written: the owner lives in Moscow
    Case("купил 2 кофе за 300", ItemType.EXPENSE, amount="300", currency="RUB"),
    # a task verb makes it a task that carries the amount
    Case(
        "оплатить интернет 500 ₽ до пятницы",
        T,
        eod(3, 13),
        amount="500",
        currency="RUB",
    ),
    Case("купил", ItemType.EXPENSE, sure=False, question="Сколько потратил?"),
]

CONTACTS_AND_LINKS = [
    Case(
        "Иван Петров +7 999 123-45-67",
        ItemType.CONTACT,
        title="Иван Петров",
        people=("Иван Петров",),
        extra={"phone": "+79991234567"},
    ),
    Case("Сантехник 8 (916) 555-12-34", ItemType.CONTACT, extra={"phone": "+79165551234"}),
    Case(
        "Bob Smith bob.smith@example.com",
        ItemType.CONTACT,
        people=("Bob Smith",),
        extra={"email": "bob.smith@example.com"},
    ),
    Case("@ivan_petrov", ItemType.CONTACT, extra={"username": "ivan_petrov"}),
    Case("John +44 20 7946 0958", ItemType.CONTACT, extra={"phone": "+442079460958"}),
    # a phone inside a task stays a task, with the phone kept
    Case("позвонить Ивану +79991234567 завтра", T, eod(3, 12), extra={"phone": "+79991234567"}),
    Case(
        "https://example.com/article интересная статья",
        ItemType.LINK,
        title="Интересная статья",
        extra={"url": "https://example.com/article"},
    ),
    Case("https://habr.com/ru/articles/123/", ItemType.LINK, title="habr.com"),
]

NOTES_AND_ODDITIES = [
    # a hashtag files it as a note on purpose; a note keeps its date words
    Case(
        "сегодня был хороший день #жизнь",
        N,
        title="Сегодня был хороший день",
        extra={"tags": ("жизнь",)},
    ),
    Case("Идея для статьи про дроны и их батареи", N),
    Case("привет", ItemType.NONE),
    Case("👍🎉", ItemType.NONE),
    Case("", ItemType.NONE),
    Case(None, ItemType.NONE),
    Case("   \n\t ", ItemType.NONE),
    Case("\x00\x00купить\x00 молоко", T, title="Купить молоко"),
    Case("\u202e\u200b", ItemType.NONE),
    Case("32 марта", N, sure=False),
    Case("в 25:99", N),
]

AMBIGUOUS = [
    Case("встреча", E, None, MEETING, sure=False, question="Когда встреча?"),
    Case("напомни позвонить маме", E, None, REMINDER, sure=False, question="Когда напомнить?"),
    Case("позвонить", T, sure=False, question="Что именно?"),
    Case(
        "купить торт на встречу в пятницу",
        T,
        eod(3, 13),
        sure=False,
        question="Это задача или встреча?",
    ),
    Case("завтра в 10", E, msk(3, 12, 10), OTHER, sure=False),
    Case("Петя", N, sure=False),
    # "next week" without a day is the Monday of the next calendar week (the corpus's rule)
    Case("встреча на следующей неделе", E, msk(3, 16), MEETING),
]

# 21:30 UTC on 10 March is already 00:30 on 11 March in Moscow.
AFTER_MIDNIGHT = utc(3, 10, 21, 30)
BEFORE_MIDNIGHT = utc(3, 10, 20, 59)  # 23:59 on 10 March in Moscow

# Written between 00:00 and 03:59 the owner has not slept yet: "завтра" is the
# calendar day that has just begun, and so is a weekday naming it (the corpus's rule).
NEAR_MIDNIGHT = [
    Case("завтра встреча", E, msk(3, 11), MEETING, at=AFTER_MIDNIGHT),
    Case("в 19:30 созвон", E, msk(3, 11, 19, 30), MEETING, at=AFTER_MIDNIGHT),
    Case("в 00:10 позвонить маме", T, msk(3, 12, 0, 10), at=AFTER_MIDNIGHT),
    Case("в 00:45 позвонить маме", T, msk(3, 11, 0, 45), at=AFTER_MIDNIGHT),
    Case("сегодня в 23:00 созвон", E, msk(3, 11, 23), MEETING, at=AFTER_MIDNIGHT),
    Case("завтра в 10 встреча", E, msk(3, 11, 10), MEETING, at=BEFORE_MIDNIGHT),
    Case("tomorrow meeting", E, msk(3, 11), MEETING, at=BEFORE_MIDNIGHT),
    # Thursday 21:30 UTC is Friday 00:30 in Moscow: "в пятницу" is the Friday just begun
    # (read on the UTC day it would be Thursday's "next Friday", the 20th)
    Case("в пятницу встреча", E, msk(3, 13), MEETING, at=utc(3, 12, 21, 30)),
    # Moscow keeps +03:00 all year: summer and winter resolve alike
    Case("завтра в 10 встреча", E, msk(7, 16, 10), MEETING, at=utc(7, 15, 7)),
    Case("завтра в 10 встреча", E, msk(1, 16, 10), MEETING, at=utc(1, 15, 7)),
]


def cases(**tables: list[Case]) -> list[object]:
    """Parameters with ASCII ids (pytest escapes Cyrillic ids): ``dates_ru-3``."""
    return [
        pytest.param(case, id=f"{name}-{index}")
        for name, table in tables.items()
        for index, case in enumerate(table)
    ]


@pytest.mark.parametrize(
    "case",
    cases(
        dates_ru=DATES_RU,
        dates_en=DATES_EN,
        money=MONEY,
        contacts_links=CONTACTS_AND_LINKS,
        odd=NOTES_AND_ODDITIES,
        ambiguous=AMBIGUOUS,
    ),
)
async def test_single_message(case: Case) -> None:
    check(await classify(make_input(case.text, at=case.at)), case)


@pytest.mark.parametrize("case", cases(midnight=NEAR_MIDNIGHT))
async def test_relative_dates_use_the_moscow_day_not_the_utc_day(case: Case) -> None:
    result = await classify(make_input(case.text, at=case.at))
    check(result, case)
    moment = result.starts_at or result.due_at
    assert moment is not None and moment.utcoffset() == timedelta(hours=3)


async def test_the_owners_zone_is_honoured_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Saturday 28 March 23:30 UTC is Sunday 00:30 in Berlin; clocks go forward that night.
    # Said after midnight, "завтра" is the Sunday just begun, after the change.
    result = await classify(make_input("завтра в 10 встреча", at=utc(3, 28, 23, 30), zone=berlin))
    assert result.starts_at == datetime(2026, 3, 29, 10, 0, tzinfo=berlin)
    assert result.starts_at.utcoffset() == timedelta(hours=2)


async def test_the_machine_zone_does_not_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(time_module, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    item = make_input("завтра в 10 встреча", at=AFTER_MIDNIGHT)
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time_module.tzset()
    try:
        in_la = await classify(item)
    finally:
        monkeypatch.undo()
        time_module.tzset()
    # 00:30 in Moscow ("завтра" is the day just begun), whatever Los Angeles says
    assert in_la.starts_at == msk(3, 11, 10)


# --------------------------------------------------------------------------- chains

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class ChainCase:
    text: str
    replies: tuple[tuple[str, datetime], ...]
    expected: Case


CHAINS = [
    ChainCase(
        "обсудить бюджет с Петей",
        (("это не задача, это встреча в пятницу", SENT + HOUR),),
        Case(None, E, msk(3, 13), MEETING, title="Обсудить бюджет с Петей"),
    ),
    ChainCase(
        "купить кофе 300 ₽",
        (("нет, это расход", SENT + HOUR),),
        Case(None, ItemType.EXPENSE, amount="300", currency="RUB"),
    ),
    ChainCase(
        "купил кофе",
        (("нет, это расход 250 ₽", SENT + HOUR),),
        Case(None, ItemType.EXPENSE, amount="250", currency="RUB"),
    ),
    ChainCase(
        "Buy new headphones",
        (("not a task, it's a note", SENT + HOUR),),
        Case(None, N, title="Buy new headphones"),
    ),
    # the reply's "завтра" is counted from the reply, sent a day after the root
    # (counted from the root it would be the 12th)
    ChainCase(
        "встреча с Петей",
        (("завтра в 10", utc(3, 12, 7, 0)),),
        Case(None, E, msk(3, 13, 10), MEETING),
    ),
    # sent at 00:30 the reply's "завтра" is the day just begun, as in a lone message
    ChainCase(
        "встреча с Петей",
        (("завтра в 10", utc(3, 11, 21, 30)),),
        Case(None, E, msk(3, 12, 10), MEETING),
    ),
    # a newer day keeps the older time
    ChainCase(
        "встреча с Петей завтра в 19:30",
        (("перенеси на послезавтра", SENT + 24 * HOUR),),
        Case(None, E, msk(3, 14, 19, 30), MEETING),
    ),
    # a newer time keeps the older day
    ChainCase(
        "встреча с Петей завтра в 19:30",
        (("давай в 15:00", SENT + HOUR),),
        Case(None, E, msk(3, 12, 15), MEETING),
    ),
    # within one reply, the last word stands
    ChainCase(
        "обзор рынка",
        (("это заметка, хотя нет, это задача на пятницу", SENT + HOUR),),
        Case(None, T, eod(3, 13)),
    ),
    ChainCase(
        "отчёт",
        (("задача", SENT + HOUR), ("на завтра", SENT + 2 * HOUR)),
        Case(None, T, eod(3, 12), title="Отчёт"),
    ),
    # a type named and then denied is dropped again
    ChainCase(
        "позвонить Ивану",
        (("это встреча", SENT + HOUR), ("нет, не встреча, а задача", SENT + 2 * HOUR)),
        Case(None, T, None),
    ),
    # a type denied and then named again is restored
    ChainCase(
        "позвонить Ивану",
        (("это не задача", SENT + HOUR), ("всё-таки это задача", SENT + 2 * HOUR)),
        Case(None, T, None),
    ),
    # ruled out without naming the right type: not a task, and the owner is asked
    ChainCase(
        "позвонить Ивану",
        (("это не задача", SENT + HOUR),),
        Case(None, N, sure=False),
    ),
    # the correction wins even over a file
    ChainCase(
        "",
        (("это расход 1 200 ₽", SENT + HOUR),),
        Case(None, ItemType.EXPENSE, amount="1200", currency="RUB"),
    ),
]


@pytest.mark.parametrize("chain", [pytest.param(c, id=f"chain-{i}") for i, c in enumerate(CHAINS)])
async def test_replies_correct_the_root(chain: ChainCase) -> None:
    check(await classify(make_input(chain.text, replies=chain.replies)), chain.expected)


async def test_bot_messages_in_the_chain_are_not_the_owners_words() -> None:
    item = make_input(
        "встреча с Петей",
        bot_replies=(("Это задача или заметка? Когда встреча? через 2 часа", SENT + HOUR),),
        replies=(("в пятницу в 15", SENT + 2 * HOUR),),
    )
    result = await classify(item)
    check(result, Case(None, E, msk(3, 13, 15), MEETING, title="Встреча с Петей"))
    assert "Когда встреча" not in (result.summary or "")


async def test_the_summary_holds_the_whole_chain() -> None:
    item = make_input("созвон", replies=(("в пятницу в 15", SENT + HOUR),))
    result = await classify(item)
    assert result.summary == "созвон\nв пятницу в 15"


async def test_a_reply_that_takes_the_message_back_files_nothing() -> None:
    for text, reply in (
        ("завтра в 8", "забей, случайно отправил"),
        ("1500", "нет, это не мне, промахнулась чатом"),
        ("call mom", "never mind"),
    ):
        result = await classify(make_input(text, replies=((reply, SENT + HOUR),)))
        assert result.type is ItemType.NONE, (text, reply)
    # "не забудь" is no dismissal (it makes a reminder of it)
    kept = await classify(make_input("купить молоко", replies=(("не забудь", SENT + HOUR),)))
    assert kept.type is not ItemType.NONE


async def test_a_reply_correcting_a_time_part_by_part() -> None:
    """What follows "а"/"лучше" stands; a bare hour answering "во сколько" is read
    as a lone message's would be (1-6 is afternoon), on the root's day."""
    later = (("не 5, а 6 вечера", SENT + HOUR),)
    assert (await classify(make_input("ужин с Петей в субботу в 5", replies=later))).starts_at == (
        msk(3, 14, 18)
    )
    asked = make_input(
        "в четверг надо заехать к нотариусу",
        bot_replies=(("Во сколько заехать к нотариусу?", SENT + HOUR),),
        replies=(("в 15 30", SENT + 2 * HOUR),),
    )
    assert (await classify(asked)).due_at == msk(3, 12, 15, 30)
    five = make_input("завтра созвон с Петей", replies=(("в 5", SENT + HOUR),))
    assert (await classify(five)).starts_at == msk(3, 12, 17)


# --------------------------------------------------------------------------- files and types


@pytest.mark.parametrize(
    ("message_type", "caption", "files", "expected_type", "title"),
    [
        ("photo", None, (make_file("photo"),), ItemType.FILE, "Фото"),
        ("document", "Счёт за март", (make_file("document", "invoice.pdf"),), "file", None),
        ("document", None, (make_file("document", "invoice.pdf"),), ItemType.FILE, "invoice.pdf"),
        ("photo", "купить такой же завтра", (make_file("photo"),), ItemType.FILE, None),
        # A receipt with its sum is an expense (the amount leaves the title).
        ("photo", "Чек из кафе 1 350 ₽", (make_file("photo"),), ItemType.EXPENSE, "Чек из кафе"),
        ("document", "Ужин 1 200 руб", (make_file("document"),), ItemType.EXPENSE, "Ужин"),
        ("voice", None, (), ItemType.FILE, "Голосовое сообщение"),
        ("sticker", None, (make_file("sticker"),), ItemType.NONE, None),
        ("service:new_chat_members", None, (), ItemType.NONE, None),
        ("service:pinned_message", "встреча завтра", (), ItemType.NONE, None),
        ("contact", "Иван Петров +79991234567", (), ItemType.CONTACT, "Иван Петров"),
        ("location", None, (), ItemType.NOTE, "Геопозиция"),
    ],
)
async def test_message_types(
    message_type: str,
    caption: str | None,
    files: tuple[RawFile, ...],
    expected_type: str,
    title: str | None,
) -> None:
    result = await classify(make_input(caption, message_type=message_type, files=files))
    assert result.type == ItemType(expected_type)
    assert result.title == (title or caption if result.type is not ItemType.NONE else None)
    assert not result.unsure


# --------------------------------------------------------------------------- odd input


async def test_very_long_text_is_cut_for_title_and_summary() -> None:
    text = "очень длинная мысль " * 20_000
    start = time_module.perf_counter()
    result = await classify(make_input(text))
    assert time_module.perf_counter() - start < 1.0
    assert result.type is ItemType.NOTE
    assert result.title is not None and len(result.title) <= 80
    assert result.title.endswith("…")
    assert result.summary is not None and len(result.summary) <= 1000


async def test_a_naive_message_date_is_taken_as_utc() -> None:
    item = make_input("завтра встреча", at=AFTER_MIDNIGHT.replace(tzinfo=None))
    # 21:30 UTC is 00:30 in Moscow (were it taken as Moscow time, it would be the 12th)
    assert (await classify(item)).starts_at == msk(3, 11)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        st.none(),
        st.text(),
        st.text(alphabet="завтра в 10:30 ₽$€ +7 999 @#.,-/:0123456789 встреча купить напомни"),
    ),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 365 * 3),
)
def test_any_text_yields_a_valid_answer(text: str | None, minutes: int) -> None:
    item = make_input(text, at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes))
    result = CLASSIFIER.classify_sync(item)
    assert 0.0 <= result.confidence <= 1.0
    assert result.type in ItemType
    if result.confidence < CONFIDENCE_THRESHOLD:
        assert result.needs_clarification and result.question
    if result.question is not None:
        assert result.needs_clarification and len(result.question) <= 40
    assert result.title is None or len(result.title) <= 80
    assert Classification.from_json(result.to_json()) == result


# --------------------------------------------------------------------------- the protocol


async def test_it_is_a_classifier_and_closes() -> None:
    classifier = RulesClassifier(languages=["ru", "en"])
    assert isinstance(classifier, Classifier)
    assert (classifier.name, classifier.version) == ("rules", "1.1")
    result = await classifier.classify(make_input("встреча завтра"))
    assert (result.classifier, result.classifier_version) == ("rules", "1.1")
    await classifier.aclose()


async def test_a_bug_in_the_rules_is_a_permanent_classifier_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(chain: object) -> object:
        raise IndexError("boom")

    monkeypatch.setattr(rules, "_decide", broken)
    with pytest.raises(ClassifierError, match="boom") as info:
        await classify(make_input("купить молоко"))
    assert info.value.retryable is False


async def test_a_day_without_a_time_is_a_whole_day_in_a_chain_too() -> None:
    """The chain's merge follows the lone message's convention: 00:00 / 23:59."""
    event = make_input("встреча с Петей", replies=(("в пятницу", SENT + HOUR),))
    task = make_input("отчёт", replies=(("это задача на пятницу", SENT + HOUR),))
    assert (await classify(event)).starts_at == msk(3, 13)
    assert (await classify(task)).due_at == eod(3, 13)
    with pytest.raises(TypeError):
        RulesClassifier(default_time=time(12, 30))  # type: ignore[call-arg]


async def test_concurrent_calls_agree_with_sequential_ones() -> None:
    texts = [c.text for c in DATES_RU + DATES_EN + MONEY] * 3
    items = [make_input(t) for t in texts]
    expected = [CLASSIFIER.classify_sync(i) for i in items]
    results: list[Classification | None] = [None] * len(items)

    async def one(index: int) -> None:
        results[index] = await CLASSIFIER.classify(items[index])

    async with anyio.create_task_group() as group:
        for index in range(len(items)):
            group.start_soon(one, index)
    assert results == expected


# --------------------------------------------------------------------------- kinds of message

KINDS = [
    # a note labelled as one stays a note, however task-like or dated the rest reads
    Case("на заметку: в аптеке по вторникам скидка", N),
    Case("Запомнить: ключи от дачи у соседки", N),
    Case("note to self: never take the early train again", N),
    # a URL to read later is a link, also as a bare domain with a path
    Case("почитать потом https://example.org/long-read", ItemType.LINK),
    Case("docs.example.org/guide/intro глянуть", ItemType.LINK),
    # a bare infinitive is a to-do, whoever comes first
    Case("разобрать антресоль", T, sure=None),
    Case("с Ниной Петровной обсудить ремонт", T, sure=None),
    Case("в 5 вечера зайти на почту", T, msk(3, 11, 17), sure=None),
    # a recurring chore is a reminder event; recurring sport stays "other"
    # (said on a Wednesday at 10:00: the first time is today at 17:00)
    Case(
        "по средам в 17 забирать Тиму из школы",
        E,
        msk(3, 11, 17),
        REMINDER,
        sure=None,
        extra={"recurrence": "FREQ=WEEKLY;BYDAY=WE"},
    ),
    Case("по пятницам в 19 бассейн", E, msk(3, 13, 19), OTHER, sure=None),
    # an event's kind from its noun: appointments and meals with someone are meetings
    Case("в пятницу в 10 к стоматологу", E, msk(3, 13, 10), MEETING, sure=None),
    Case("обед с Олегом завтра в 13", E, msk(3, 12, 13), MEETING, sure=None),
    Case("через две недели истекает страховка", E, msk(3, 25), DEADLINE, sure=None),
    # small talk is nothing to file
    Case("хаха ну да", ItemType.NONE, sure=None),
    Case("ну чё как там", ItemType.NONE, sure=None),
    Case("lol nvm", ItemType.NONE, sure=None),
]


@pytest.mark.parametrize("case", cases(kinds=KINDS))
async def test_kinds_of_message(case: Case) -> None:
    check(await classify(make_input(case.text, at=case.at)), case)


async def test_a_yes_confirms_the_type_the_bot_asked_about() -> None:
    asked = make_input(
        "500",
        bot_replies=(("500 ₽ — это расход? На что?", SENT + HOUR),),
        replies=(("да, такси", SENT + 2 * HOUR),),
    )
    check(await classify(asked), Case(None, ItemType.EXPENSE, amount="500", currency="RUB"))
    sum_only = make_input(
        "ужин 45",
        bot_replies=(("45 ₽?", SENT + HOUR),),
        replies=(("евро конечно, мы же в риме", SENT + 2 * HOUR),),
    )
    check(await classify(sum_only), Case(None, ItemType.EXPENSE, amount="45", currency="EUR"))
    # "нет" is no confirmation
    denied = make_input(
        "500",
        bot_replies=(("500 ₽ — это расход?", SENT + HOUR),),
        replies=(("нет, да и неважно", SENT + 2 * HOUR),),
    )
    assert (await classify(denied)).type is not ItemType.EXPENSE


async def test_a_secret_named_in_one_message_and_given_in_another_is_masked() -> None:
    result = await classify(
        make_input(
            "4590",
            bot_replies=(("Что это за число?", SENT + HOUR),),
            replies=(("пин от домофона на даче", SENT + 2 * HOUR),),
        )
    )
    assert result.type is N and result.sensitive
    assert "4590" not in str(result.to_json())


async def test_replies_name_a_destination_an_hour_or_half_of_the_day() -> None:
    note = make_input(
        "купить дом у моря", replies=(("нет, это просто мечта, в заметки", SENT + HOUR),)
    )
    assert (await classify(note)).type is N
    channel = make_input(
        "@design_weekly", replies=(("нет это канал, сохрани как ссылку", SENT + HOUR),)
    )
    link = await classify(channel)
    assert (link.type, link.url) == (ItemType.LINK, "https://t.me/design_weekly")
    moved = make_input(
        "встреча с Кириллом в среду в 10",
        replies=(("перенесли на четверг", SENT + HOUR), ("и на 11", SENT + 2 * HOUR)),
    )
    assert (await classify(moved)).starts_at == msk(3, 12, 11)
    evening = make_input("в пятницу в 7 тренировка", replies=(("вечера конечно", SENT + HOUR),))
    assert (await classify(evening)).starts_at == msk(3, 13, 19)
