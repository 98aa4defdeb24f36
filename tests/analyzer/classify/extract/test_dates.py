"""Dates and times in messages: ``extract_when`` kind by kind, then against the corpus.

Unless a case says otherwise the message was sent on Wednesday 2027-03-10 at
10:00 Moscow time, a day outside the corpus months, and the sentences are our
own: the corpus is only used for the figures at the end.
"""

from __future__ import annotations

import json
import time as time_module
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from superbrain_core.analyzer.classify.extract.date_words import WEEKDAYS, mend_word
from superbrain_core.analyzer.classify.extract.dates import When, extract_when

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2027, 3, 10, 10, 0, tzinfo=MSK)  # a Wednesday
CORPUS = Path(__file__).parents[4] / "tests" / "corpus" / "messages.jsonl"


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2027) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def when(text: str, now: datetime = NOW) -> When:
    found = extract_when(text, now, MSK)
    assert found is not None, text
    return found


def check(text: str, start: datetime, end: datetime | None, has_time: bool, due: bool) -> None:
    got = when(text)
    assert (got.start, got.end, got.has_time, got.is_deadline) == (start, end, has_time, due)
    assert got.recurrence is None


# (text, start, end, has_time, is_deadline)
RANGES = [
    ("отпуск с 12 по 20 июля", at(7, 12), at(7, 20, 23, 59), False, False),
    ("командировка 14–16 апреля", at(4, 14), at(4, 16, 23, 59), False, False),
    ("с 28 марта по 2 апреля на даче", at(3, 28), at(4, 2, 23, 59), False, False),
    ("каникулы с 20 декабря по 10 января", at(12, 20), at(1, 10, 23, 59, 2028), False, False),
    ("с 5 по 9 числа сборы", at(4, 5), at(4, 9, 23, 59), False, False),
    ("from monday to wednesday in berlin", at(3, 15), at(3, 17, 23, 59), False, False),
    ("со вторника по четверг курсы", at(3, 16), at(3, 18, 23, 59), False, False),
    ("mar 22-25 conference", at(3, 22), at(3, 25, 23, 59), False, False),
    ("from apr 30 to may 3 trip", at(4, 30), at(5, 3, 23, 59), False, False),
    ("на выходных на дачу", at(3, 13), at(3, 14, 23, 59), False, False),
    ("с 14 до 15:30 созвон", at(3, 10, 14), at(3, 10, 15, 30), True, False),
    ("завтра с 10 до 12 совещание", at(3, 11, 10), at(3, 11, 12), True, False),
    ("between 2 and 4pm", at(3, 10, 14), at(3, 10, 16), True, False),
    ("14:00-15:30 demo", at(3, 10, 14), at(3, 10, 15, 30), True, False),
    ("18 марта с 9 утра до 6 вечера", at(3, 18, 9), at(3, 18, 18), True, False),
]
PERIODS = [
    ("к концу недели прислать смету", at(3, 12, 23, 59), None, False, True),
    ("в конце недели созвон", at(3, 12), None, False, False),
    ("book travel by the end of next week", at(3, 19, 23, 59), None, False, True),
    ("на этой неделе заехать в сервис", at(3, 12), None, False, False),
    ("на следующей неделе", at(3, 15), None, False, False),
    ("next week wednesday", at(3, 17), None, False, False),
    ("в начале следующего месяца", at(4, 1), None, False, False),
    ("в начале месяца", at(4, 1), None, False, False),  # the 1st of March has passed
    ("в середине апреля", at(4, 15), None, False, False),
    ("в конце месяца", at(3, 31), None, False, False),
    ("до конца месяца", at(3, 31, 23, 59), None, False, True),
    ("mid-may trip", at(5, 15), None, False, False),
    ("через две недели ревизия", at(3, 24), None, False, False),
    ("in two weeks", at(3, 24), None, False, False),
    ("через 3 дня", at(3, 13), None, False, False),
    ("через неделю в пятницу", at(3, 19), None, False, False),
    ("через месяц", at(4, 10), None, False, False),
    ("in a couple of days", at(3, 12), None, False, False),
    ("через полчаса", at(3, 10, 10, 30), None, True, False),
    ("через полтора часа выезд", at(3, 10, 11, 30), None, True, False),
    ("через 2 часа", at(3, 10, 12), None, True, False),
    ("in 45 minutes standup", at(3, 10, 10, 45), None, True, False),
    ("до 20-го сдать", at(3, 20, 23, 59), None, False, True),
    ("до 5-го", at(4, 5, 23, 59), None, False, True),
    ("распечатать к понедельнику", at(3, 15, 23, 59), None, False, True),
    ("не позднее 15 апреля", at(4, 15, 23, 59), None, False, True),
    ("за день до поездки 25 марта собрать вещи", at(3, 24), None, False, False),
    ("накануне 1 апреля купить торт", at(3, 31), None, False, False),
]
LOOSE_TIMES = [
    ("в пятницу 11 45 созвон", at(3, 12, 11, 45), None, True, False),
    ("к 9 в налоговую", at(3, 11, 9), None, True, True),  # 09:00 has passed: tomorrow
    ("полвосьмого выйти", at(3, 11, 7, 30), None, True, False),
    ("в пол седьмого тренировка", at(3, 10, 18, 30), None, True, False),
    ("в половине девятого", at(3, 11, 8, 30), None, True, False),
    ("без четверти 5 забрать", at(3, 10, 16, 45), None, True, False),
    ("без десяти шесть", at(3, 10, 17, 50), None, True, False),
    ("в 8 вечера кино", at(3, 10, 20), None, True, False),
    ("в 5 встреча", at(3, 10, 17), None, True, False),
    ("в 11 совещание", at(3, 10, 11), None, True, False),
    ("19.30 кино", at(3, 10, 19, 30), None, True, False),
    ("в 10.45 звонок", at(3, 10, 10, 45), None, True, False),
    ("7pm movie", at(3, 10, 19), None, True, False),
    ("noon lunch", at(3, 10, 12), None, True, False),
    ("в полдень", at(3, 10, 12), None, True, False),
    ("в 930 планерка", at(3, 11, 9, 30), None, True, False),
    ("в 1430 созвон", at(3, 10, 14, 30), None, True, False),
    ("14-30 нотариус", at(3, 10, 14, 30), None, True, False),
    ("21 00 сбор", at(3, 10, 21), None, True, False),
    ("в шесть вечера", at(3, 10, 18), None, True, False),
    ("в десять тридцать", at(3, 10, 10, 30), None, True, False),
    ("at like ten thirty", at(3, 10, 10, 30), None, True, False),
    ("half past 7", at(3, 11, 7, 30), None, True, False),
    ("quarter to 5", at(3, 10, 16, 45), None, True, False),
    ("8ish", at(3, 11, 8), None, True, False),
    ("в 2 ночи", at(3, 11, 2), None, True, False),
    ("в 3 дня", at(3, 10, 15), None, True, False),
    ("в 06:40 поезд", at(3, 11, 6, 40), None, True, False),
    ("утром позвонить", at(3, 11, 9), None, True, False),
    ("днём заехать", at(3, 10, 13), None, True, False),
    ("вечером позвонить", at(3, 10, 19), None, True, False),
    ("ужин в 8", at(3, 10, 20), None, True, False),
    ("до конца дня", at(3, 10, 23, 59), None, True, True),
    ("this afternoon review", at(3, 10, 13), None, True, False),
]
TYPOS = [
    ("послезавтро в 10", at(3, 12, 10), None, True, False),
    ("в понедельнек к врачу", at(3, 15), None, False, False),
    ("севодня вечером", at(3, 10, 19), None, True, False),
    ("завтро утром", at(3, 11, 9), None, True, False),
    ("в четверк в 12", at(3, 11, 12), None, True, False),
    ("в срду в 15", at(3, 17, 15), None, True, False),
    ("в субота в 10", at(3, 13, 10), None, True, False),
    ("вторнек", at(3, 16), None, False, False),
    ("tommorow 10am", at(3, 11, 10), None, True, False),
    ("thursdy meeting", at(3, 11), None, False, False),
    ("wendsday 3pm", at(3, 17, 15), None, True, False),
]
ENGLISH = [
    ("dentist 4/2 at 1pm", at(4, 2, 13), None, True, False),
    ("12/1 9am dentist", at(12, 1, 9), None, True, False),
    ("5/14 at 2:30pm", at(5, 14, 14, 30), None, True, False),
    ("on the 15th pay rent", at(3, 15), None, False, False),
    ("finish by the 20th", at(3, 20, 23, 59), None, False, True),
    ("rent due 1st of april", at(4, 1), None, False, False),
    ("jan 12 10am board", at(1, 12, 10, year=2028), None, True, False),
    ("next thursday call", at(3, 18), None, False, False),
    ("this friday dinner at 8", at(3, 12, 20), None, True, False),
    ("lunch with kate friday", at(3, 12, 13), None, True, False),
    ("tomorrow 9am gym", at(3, 11, 9), None, True, False),
    ("tomorrow noon", at(3, 11, 12), None, True, False),
    ("tonight party", at(3, 10, 19), None, True, False),
    ("meet at 6:15 tonight", at(3, 10, 18, 15), None, True, False),
    ("tmrw at 4", at(3, 11, 16), None, True, False),
    ("friday evening drinks", at(3, 12, 19), None, True, False),
    ("wed 11:30 sync", at(3, 17, 11, 30), None, True, False),
    ("sat 11 haircut", at(3, 13, 11), None, True, False),
    ("send it by friday eod", at(3, 12, 23, 59), None, True, True),
    ("need it done by end of week", at(3, 12, 23, 59), None, False, True),
    ("in 3 weeks on monday", at(3, 29), None, False, False),
]
RUSSIAN = [
    ("запись 8.12 в 17:30", at(12, 8, 17, 30), None, True, False),
    ("до 3.01 продлить", at(1, 3, 23, 59, 2028), None, False, True),
    ("свадьба 15 мая 2027 г.", at(5, 15), None, False, False),
    ("др 3 янв", at(1, 3, 0, 0, 2028), None, False, False),
    ("12 марта собрание", at(3, 12), None, False, False),
    ("10 марта сегодня же", at(3, 10), None, False, False),  # not before today: today
    ("9 марта годовщина", at(3, 9, 0, 0, 2028), None, False, False),
    ("10-го оплатить", at(4, 10), None, False, False),  # strictly after today
    ("11-го оплатить", at(3, 11), None, False, False),
    ("25-е число", at(3, 25), None, False, False),
    ("31 в 23 00 у родителей", at(3, 31, 23), None, True, False),
    ("в следующий вторник в 15", at(3, 16, 15), None, True, False),
    ("в следующую среду", at(3, 17), None, False, False),
    ("в среду", at(3, 17), None, False, False),  # a weekday strictly after today
    ("в пт созвон", at(3, 12), None, False, False),
    ("в вс на футбол", at(3, 14), None, False, False),
    ("во вт в 10", at(3, 16, 10), None, True, False),
    ("чт 14-30 нотариус", at(3, 11, 14, 30), None, True, False),
    ("mon 10am standup", at(3, 15, 10), None, True, False),
    ("в субботу где-то в пол двенадцатого", at(3, 13, 11, 30), None, True, False),
    ("отправить акт до четверга", at(3, 11, 23, 59), None, False, True),
    ("сдать отчёт завтра до 12", at(3, 11, 12), None, True, True),
]


@pytest.mark.parametrize(("text", "start", "end", "has_time", "due"), RANGES)
def test_ranges_of_days_and_of_times(
    text: str, start: datetime, end: datetime | None, has_time: bool, due: bool
) -> None:
    check(text, start, end, has_time, due)


@pytest.mark.parametrize(("text", "start", "end", "has_time", "due"), PERIODS)
def test_periods_offsets_and_deadlines(
    text: str, start: datetime, end: datetime | None, has_time: bool, due: bool
) -> None:
    check(text, start, end, has_time, due)


@pytest.mark.parametrize(("text", "start", "end", "has_time", "due"), LOOSE_TIMES)
def test_loose_times(
    text: str, start: datetime, end: datetime | None, has_time: bool, due: bool
) -> None:
    check(text, start, end, has_time, due)


@pytest.mark.parametrize(("text", "start", "end", "has_time", "due"), TYPOS)
def test_misspelt_date_words(
    text: str, start: datetime, end: datetime | None, has_time: bool, due: bool
) -> None:
    check(text, start, end, has_time, due)


@pytest.mark.parametrize(("text", "start", "end", "has_time", "due"), ENGLISH)
def test_english_dates(
    text: str, start: datetime, end: datetime | None, has_time: bool, due: bool
) -> None:
    check(text, start, end, has_time, due)


@pytest.mark.parametrize(("text", "start", "end", "has_time", "due"), RUSSIAN)
def test_russian_dates_and_weekdays(
    text: str, start: datetime, end: datetime | None, has_time: bool, due: bool
) -> None:
    check(text, start, end, has_time, due)


@pytest.mark.parametrize(
    ("text", "start", "rule", "has_time"),
    [
        ("по вторникам в 19 йога", at(3, 16, 19), "FREQ=WEEKLY;BYDAY=TU", True),
        ("по средам в 19 хор", at(3, 10, 19), "FREQ=WEEKLY;BYDAY=WE", True),  # today, ahead
        ("по средам в 9 хор", at(3, 17, 9), "FREQ=WEEKLY;BYDAY=WE", True),  # today, passed
        ("каждый день в 8 зарядка", at(3, 11, 8), "FREQ=DAILY", True),
        ("ежедневно в 21 витамины", at(3, 10, 21), "FREQ=DAILY", True),
        ("каждое утро медитация", at(3, 11, 9), "FREQ=DAILY", True),
        ("каждую пятницу отчёт", at(3, 12), "FREQ=WEEKLY;BYDAY=FR", False),
        ("every monday 10:00 sync", at(3, 15, 10), "FREQ=WEEKLY;BYDAY=MO", True),
        ("mondays 10am yoga", at(3, 15, 10), "FREQ=WEEKLY;BYDAY=MO", True),
        ("раз в месяц 5-го оплата", at(4, 5), "FREQ=MONTHLY;BYMONTHDAY=5", False),
        ("каждое 10-е число платёж", at(4, 10), "FREQ=MONTHLY;BYMONTHDAY=10", False),
        ("по будням в 7 подъём", at(3, 11, 7), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", True),
        ("по выходным с утра пробежка", at(3, 13, 9), "FREQ=WEEKLY;BYDAY=SA,SU", True),
        ("каждый вторник и четверг в 20", at(3, 11, 20), "FREQ=WEEKLY;BYDAY=TU,TH", True),
        ("пн ср пт бассейн в 7", at(3, 12, 7), "FREQ=WEEKLY;BYDAY=MO,WE,FR", True),
        ("every other friday", at(3, 12), "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", False),
        ("раз в две недели по средам в 18", at(3, 10, 18), "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", True),
        ("last sunday of the month", at(3, 28), "FREQ=MONTHLY;BYDAY=-1SU", False),
        ("в последнюю пятницу месяца", at(3, 26), "FREQ=MONTHLY;BYDAY=-1FR", False),
        ("every 3rd thursday of the month at 7pm", at(3, 18, 19), "FREQ=MONTHLY;BYDAY=3TH", True),
        ("каждый год 8 марта", at(3, 8, 0, 0, 2028), "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8", False),
    ],
)
def test_recurrences_start_at_their_first_occurrence(
    text: str, start: datetime, rule: str, has_time: bool
) -> None:
    got = when(text)
    assert (got.start, got.recurrence, got.has_time, got.end) == (start, rule, has_time, None)


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("созвон с Мариной завтра в 10 по зуму", "завтра в 10"),
        ("Созвон в ПЯТНИЦУ 11 45", "в ПЯТНИЦУ 11 45"),
        ("встреча послезавтро в 10", "послезавтро в 10"),
        ("стрижка в срду в 15 у Оли", "в срду в 15"),  # a mended word of another length
        ("завтр в 11 бранч", "завтр в 11"),
        ("отпуск с 12 по 20 июля если что", "с 12 по 20 июля"),
        ("сдать отчёт до пятницы", "до пятницы"),
        ("по вторникам в 19 бассейн", "по вторникам в 19"),
        ("lunch with tom next thursday", "next thursday"),
        ("dentist in two weeks, friday 10:30", "in two weeks, friday 10:30"),
    ],
)
def test_span_covers_the_expression_in_the_original_text(text: str, expression: str) -> None:
    got = when(text)
    assert text[got.span[0] : got.span[1]] == expression


@pytest.mark.parametrize(
    "text",
    [
        "",
        "купить молоко",
        "ок спасибо",
        "кинул Пете 1500 за пиццу",
        "такси 450",
        "coffee 3.80 eur",
        "lunch 14.50 eur",
        "код от домофона 2580",
        "Вася +7 916 123-45-67",
        "сантехник 8 (903) 555-12-34",
        "почта ivan.petrov@mail.ru",
        "https://example.com/2024/05/12/post почитать",
        "в 3 раза дешевле",
        "у меня 2 билета в 5 ряду",
        "комната 3 на 4",
        "пароль qwerty2024",
        "карта 4276 1234 5678 9012",
        "доброе утро",
        "good morning",
        "we sat down at the table",
        "the sun is bright",
        "среди друзей",
        "четверо детей",
        "завтрак в отеле",
        "в среде разработки",
        "версия 5.1 вышла",
        "скидка 10-15%",
        "счёт 2:1",
        "в 2026 году",
        "продам за 3к",
    ],
)
def test_no_date_in_ordinary_text(text: str) -> None:
    assert extract_when(text, NOW, MSK) is None


@pytest.mark.parametrize(
    ("typo", "weekday_or_word"),
    [
        ("севодня", "сегодня"),
        ("завтро", "завтра"),
        ("послезавтро", "послезавтра"),
        ("понедельнек", 0),
        ("четверк", 3),
        ("срду", 2),
        ("пятнеца", 4),
        ("субота", 5),
        ("сентебря", "сентября"),
        ("следущий", "следующий"),
    ],
)
def test_typos_are_mended_to_the_date_word(typo: str, weekday_or_word: str | int) -> None:
    mended = mend_word(typo)
    assert mended is not None
    assert (WEEKDAYS[mended] if isinstance(weekday_or_word, int) else mended) == weekday_or_word


@pytest.mark.parametrize(
    "word",
    [
        "среди",
        "средь",
        "четверо",
        "четверка",
        "четверть",
        "завтрак",
        "завтраки",
        "пятно",
        "пятерочке",
        "вторичное",
        "сегодняшний",
        "завтрашний",
        "средний",
        "воскресный",
        "следователь",
        "октава",
        "декада",
        "маршрут",
        "мартышка",
        "сутра",
        "вечерок",
        "money",
        "monkey",
        "sundae",
        "fridge",
        "toast",
        "tonic",
        "mother",
        "sunny",
        "saturn",
        "mondo",
        "today",
        "tomorrow",
    ],
)
def test_ordinary_words_are_never_taken_for_typos(word: str) -> None:
    assert mend_word(word) is None


def test_the_message_date_is_read_in_the_owners_zone() -> None:
    sent = datetime(2027, 3, 10, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
    got = extract_when("завтра в 10", sent, MSK)
    assert got is not None
    assert got.start == at(3, 11, 10)
    assert got.start.tzinfo is MSK
    berlin = ZoneInfo("Europe/Berlin")
    late = datetime(2027, 3, 11, 1, 30, tzinfo=UTC)  # 04:30 in Moscow, 02:30 in Berlin
    assert when("завтра", late).start == at(3, 12)
    in_berlin = extract_when("завтра", late, berlin)  # still the night of the 10th there
    assert in_berlin is not None
    assert in_berlin.start == datetime(2027, 3, 11, 0, 0, tzinfo=berlin)


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        extract_when("завтра", datetime(2027, 3, 10, 10, 0), MSK)


def test_the_night_belongs_to_the_day_before() -> None:
    night = at(3, 11, 1, 20)  # Thursday 01:20: "завтра" is the Thursday that has begun
    assert when("завтра в 10 планерка", night).start == at(3, 11, 10)
    assert when("сегодня в 10", night).start == at(3, 11, 10)
    assert when("послезавтра", night).start == at(3, 12)


def test_on_the_weekend_this_week_ends_on_sunday() -> None:
    sunday = at(3, 14, 12)
    assert when("к концу недели", sunday).start == at(3, 14, 23, 59)
    assert when("на выходных", sunday).end == at(3, 14, 23, 59)
    friday = at(3, 12, 18)
    assert when("в пятницу", friday).start == at(3, 19)  # a week on, not today
    assert when("next friday", friday).start == at(3, 19)


def test_the_caller_files_a_whole_day_as_a_task_or_an_event() -> None:
    day = when("в пятницу забрать посылку")
    assert (day.event_start(), day.task_due()) == (at(3, 12), at(3, 12, 23, 59))
    deadline = when("налог до 1 апреля")
    assert (deadline.event_start(), deadline.task_due()) == (at(4, 1), at(4, 1, 23, 59))
    weekend = when("на выходных поменять резину")
    assert weekend.task_due() == at(3, 14, 23, 59)
    timed = when("завтра в 10")
    assert timed.event_start() == timed.task_due() == at(3, 11, 10)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("завтра в 10 11:45 срду пн-пт -./ с по до 1 2 3 abc ё"),
        max_size=60,
    )
)
def test_any_text_gives_a_sane_answer(text: str) -> None:
    got = extract_when(text, NOW, MSK)
    if got is not None:
        assert 0 <= got.span[0] <= got.span[1] <= len(text)
        assert got.start.tzinfo is MSK
        assert got.end is None or got.end >= got.start


# --- the corpus -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    items: int
    filed: int  # start as the caller files it (task 23:59 / event 00:00) + ends_at + RRULE
    strict: int  # the same, with ``start`` itself equal to the labelled moment

    def line(self, split: str) -> str:
        return (
            f"{split}: {self.filed}/{self.items} = {self.filed / self.items:.1%} filed, "
            f"{self.strict}/{self.items} = {self.strict / self.items:.1%} strict start"
        )


def _corpus() -> list[dict[str, object]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def _score(split: str) -> Score:
    """How many dated corpus lines of ``split`` come out right.

    A line counts when the moment matches ``starts_at``/``due_at`` to the minute
    (a whole day filed as the label's type files it: a task at 23:59, an event
    at 00:00, as the README says), ``ends_at`` matches and the RRULE has the same
    parts. ``strict`` also wants ``start`` itself to be the labelled moment.
    """
    items = filed = strict = 0
    for line in _corpus():
        expect = line["expect"]
        assert isinstance(expect, dict)
        if line["split"] != split or not {"starts_at", "due_at", "ends_at"} & expect.keys():
            continue
        items += 1
        sent = datetime.fromisoformat(str(line["date"]))
        got = extract_when(str(line["text"]), sent, MSK)
        if got is None:
            continue
        wanted = datetime.fromisoformat(expect.get("starts_at") or expect["due_at"])
        moment = got.task_due() if expect["type"] == "task" else got.event_start()
        ok = moment == wanted
        if "ends_at" in expect:
            ok = ok and got.end == datetime.fromisoformat(expect["ends_at"])
        if "recurrence" in expect:
            parts = set((got.recurrence or "").split(";"))
            ok = ok and parts == set(expect["recurrence"].split(";"))
        filed += ok
        strict += ok and got.start == wanted
    return Score(items, filed, strict)


def test_corpus_tune_lines_resolve_to_their_labels() -> None:
    """The floor is what the extractor reached on ``tune`` (145 of 146, 132 strict).

    The one miss is "на больничном до пятницы", a state lasting until Friday that
    the README files as a range from today: the extractor reads "до пятницы" as a
    deadline, and telling the two apart is the caller's (it knows the event kind).
    """
    score = _score("tune")
    print(score.line("tune"))
    assert score.items >= 140
    assert score.filed / score.items >= 0.99, score.line("tune")
    assert score.strict / score.items >= 0.90, score.line("tune")


def test_corpus_holdout_figure_is_reported() -> None:
    """Holdout lines were never looked at while building the extractor; only reported."""
    score = _score("holdout")
    print(score.line("holdout"))
    assert score.items >= 40
    assert score.filed / score.items >= 0.8, score.line("holdout")


def test_no_typo_is_mended_in_corpus_texts_without_dates() -> None:
    import re

    for line in _corpus():
        expect = line["expect"]
        assert isinstance(expect, dict)
        if {"starts_at", "due_at", "ends_at", "recurrence"} & expect.keys():
            continue
        words = re.findall(r"[a-zа-я]{4,}", str(line["text"]).lower().replace("ё", "е"))
        assert [w for w in words if mend_word(w)] == [], line["id"]


def test_extraction_is_fast_enough_for_the_classifier() -> None:
    """The classifier must file 300 messages a second; dates get well under 1 ms of it."""
    lines = [(str(x["text"]), datetime.fromisoformat(str(x["date"]))) for x in _corpus()]
    for text, sent in lines:  # warm the typo cache, as a long-running batch would be
        extract_when(text, sent, MSK)
    started = time_module.perf_counter()
    for _ in range(3):
        for text, sent in lines:
            extract_when(text, sent, MSK)
    per_message = (time_module.perf_counter() - started) / (3 * len(lines))
    print(f"extract_when: {per_message * 1e6:.0f} µs per corpus message")
    assert per_message < 0.001
