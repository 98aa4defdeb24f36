"""The classification contract, the placement values derived from it, and the Russian digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from superbrain_core.analyzer.batch import BatchOptions
from superbrain_core.analyzer.classify.schema import (
    SCHEMA_VERSION,
    Classification,
    ItemType,
    json_schema,
)
from superbrain_core.analyzer.digest import MAX_QUESTIONS, Question, plural, render_digest

MSK = ZoneInfo("Europe/Moscow")


def full() -> Classification:
    return Classification(
        type="expense",
        confidence=0.85,
        classifier="rules",
        classifier_version="1",
        title="Обед",
        starts_at=datetime(2026, 3, 11, 0, 30, tzinfo=MSK),
        people=["Олег"],
        tags=("еда",),
        amount="1 500,50",
        currency="RUB",
        question="Это расход?",
    )


def test_to_json_and_back_is_lossless() -> None:
    c = full()
    data = c.to_json()
    assert data["amount"] == "1500.50" and data["type"] == "expense"
    assert data["starts_at"] == "2026-03-11T00:30:00+03:00"
    assert Classification.from_json(data) == c
    assert c.amount == Decimal("1500.50") and c.people == ("Олег",)


def test_json_schema_lists_every_field_and_matches_to_json() -> None:
    schema = json_schema()
    assert set(schema["required"]) == set(full().to_json())
    assert schema["properties"]["type"]["enum"] == [t.value for t in ItemType]
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"confidence": 1.2}, "between 0 and 1"),
        ({"confidence": -0.1}, "between 0 and 1"),
        ({"type": "meeting"}, "meeting"),
        ({"starts_at": datetime(2026, 3, 11, 0, 30)}, "timezone-aware"),
        ({"currency": "руб"}, "ISO 4217"),
        ({"amount": "много"}, "amount must be a number"),
    ],
)
def test_invalid_classifications_are_rejected(changes: dict[str, object], message: str) -> None:
    values = {"type": "note", "confidence": 0.9, "classifier": "x", "classifier_version": "1"}
    values.update(changes)
    with pytest.raises(ValueError, match=message):
        Classification(**values)  # type: ignore[arg-type]


def test_from_json_rejects_unknown_fields_and_bad_dates() -> None:
    data = full().to_json()
    with pytest.raises(ValueError, match="unknown classification fields: colour"):
        Classification.from_json({**data, "colour": "red"})
    with pytest.raises(ValueError, match="not an ISO-8601"):
        Classification.from_json({**data, "due_at": "завтра"})


@pytest.mark.parametrize(
    ("confidence", "flag", "unsure"), [(0.79, False, True), (0.8, False, False), (0.95, True, True)]
)
def test_unsure_below_threshold_or_when_flagged(
    confidence: float, flag: bool, unsure: bool
) -> None:
    c = Classification(
        type="task",
        confidence=confidence,
        classifier="x",
        classifier_version="1",
        needs_clarification=flag,
    )
    assert c.unsure is unsure


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "сообщение"),
        (2, "сообщения"),
        (4, "сообщения"),
        (5, "сообщений"),
        (11, "сообщений"),
        (12, "сообщений"),
        (21, "сообщение"),
        (22, "сообщения"),
        (111, "сообщений"),
    ],
)
def test_russian_plurals(n: int, word: str) -> None:
    assert plural(n, "сообщение", "сообщения", "сообщений") == word


def test_digest_is_short_and_asks_the_questions() -> None:
    questions = [Question(1, i, f"Дело {i}", "Когда?", 0.5) for i in range(MAX_QUESTIONS + 3)]
    text = render_digest(
        started_at=datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
        timezone=MSK,
        messages=21,
        routed={"tasks": 5, "notes": 14, "events": 2, "links": 0},
        moved=1,
        failed=2,
        quarantined=0,
        questions=questions,
    )
    lines = text.splitlines()
    assert lines[0] == "Разбор 26.11 03:00: 21 сообщение."
    assert lines[1] == "Заметки 14 · Задачи 5 · События 2"
    assert "Переложено после уточнений: 1." in lines
    assert "Не удалось разобрать: 2, попробую в следующий раз." in lines
    assert "1. «Дело 0» — Когда?" in lines
    assert f"{MAX_QUESTIONS + 1}. «Дело {MAX_QUESTIONS}» — Когда?" not in text
    assert lines[-1] == "…и ещё 3 вопроса."


def test_questions_sent_on_their_own_are_counted_not_repeated() -> None:
    listed = [Question(1, n, f"пункт {n}", f"вопрос {n}?", 0.5) for n in range(1, 10)]
    text = render_digest(
        started_at=datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
        timezone=MSK,
        messages=15,
        routed={"notes": 15},
        moved=0,
        failed=0,
        quarantined=0,
        questions=listed,
        asked=15,
        asked_separately=3,
    )
    lines = text.splitlines()
    assert "Ниже 3 вопроса: ответьте на каждый, и я переложу." in lines
    assert sum(line.startswith(("1. ", "9. ")) for line in lines) == 2
    # 15 asked, 3 of them apart, 9 listed here: 3 more exist beyond the bounded list.
    assert lines[-1] == "…и ещё 3 вопроса."


def test_an_empty_run_says_so() -> None:
    text = render_digest(
        started_at=datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
        timezone=MSK,
        messages=0,
        routed={},
        moved=0,
        failed=0,
        quarantined=0,
        questions=[],
    )
    assert text == "Разбор 26.11 03:00: новых сообщений нет."


@given(st.integers(min_value=1, max_value=60))
def test_retry_delay_doubles_and_is_capped(attempts: int) -> None:
    options = BatchOptions(retry_base=timedelta(minutes=30), retry_cap=timedelta(hours=24))
    delay = options.retry_delay(attempts)
    assert timedelta(minutes=30) <= delay <= timedelta(hours=24)
    if attempts <= 6:  # 30 min × 2^5 = 16 h; from the 7th attempt on the cap applies
        assert delay == timedelta(minutes=30) * 2 ** (attempts - 1)
    else:
        assert delay == timedelta(hours=24)
