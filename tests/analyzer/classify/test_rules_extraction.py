"""The extraction layer inside the rules classifier: sums, transfers, people, secrets.

Also the ``sensitive`` field of the contract: optional, False by default, so a
classification stored before it existed still reads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from superbrain_core.analyzer.classify.extract.secrets import MASK
from superbrain_core.analyzer.classify.rules import RulesClassifier
from superbrain_core.analyzer.classify.schema import (
    ChainMessage,
    Classification,
    ClassifierInput,
    ItemType,
    json_schema,
)

SENT = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)  # Wednesday 10:00 in Moscow
CLASSIFIER = RulesClassifier()


def classify(text: str, *replies: str) -> Classification:
    chain = [ChainMessage(message_id=1, text=text, date=SENT)]
    chain += [
        ChainMessage(message_id=2 + i, text=t, date=SENT, reply_to_message_id=1)
        for i, t in enumerate(replies)
    ]
    item = ClassifierInput(
        chat_id=1,
        message_id=1,
        user_id=1,
        message_type="text",
        text=text,
        message_date=SENT,
        chain=tuple(chain),
        timezone=ZoneInfo("Europe/Moscow"),
    )
    return CLASSIFIER.classify_sync(item)


# --------------------------------------------------------------------------- the contract


def test_sensitive_is_optional_and_false_by_default() -> None:
    c = Classification(type="note", confidence=0.9, classifier="x", classifier_version="1")
    assert c.sensitive is False
    data = c.to_json()
    assert data["sensitive"] is False
    del data["sensitive"]  # written before the field existed
    assert Classification.from_json(data) == c
    flagged = Classification.from_json({**data, "sensitive": True})
    assert flagged.sensitive is True
    assert Classification.from_json(flagged.to_json()) == flagged


def test_the_json_schema_lists_sensitive() -> None:
    schema = json_schema()
    assert schema["properties"]["sensitive"] == {"type": "boolean"}
    assert "sensitive" in schema["required"]


# --------------------------------------------------------------------------- sums


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("химчистка 1 450", "1450", "RUB"),
        ("каршеринг триста сорок", "340", "RUB"),
        ("кофейня 4,5к", "4500", "RUB"),
        ("отдал за ремонт две с половиной тысячи", "2500", "RUB"),
        ("парковка 15.000", "15000", "RUB"),
        ("cab home thirty bucks", "30", "USD"),
        ("потратил на подарки три тысячи рублей", "3000", "RUB"),
        ("обувь 9 800 ₽", "9800", "RUB"),
        ("gym 3k", "3000", "RUB"),
    ],
)
def test_expenses_get_their_sum(text: str, amount: str, currency: str) -> None:
    result = classify(text)
    assert result.type is ItemType.EXPENSE, result
    assert (result.amount, result.currency) == (Decimal(amount), currency)


def test_a_corrected_sum_in_a_reply_wins() -> None:
    result = classify("скинул вове 900", "не 900 а 1100")
    assert (result.type, result.amount, result.people) == (
        ItemType.EXPENSE,
        Decimal(1100),
        ("Вова",),
    )


def test_a_number_beside_a_meeting_is_no_price() -> None:
    result = classify("встреча в переговорке 305")
    assert result.type is ItemType.EVENT and result.amount is None


# --------------------------------------------------------------------------- transfers


@pytest.mark.parametrize(
    ("text", "amount", "currency", "people"),
    [
        ("скинула Лене 800 за торт", "800", "RUB", ("Лена",)),
        ("перевёл папе 15к", "15000", "RUB", ("Папа",)),
        ("вернул Грише 2000", "2000", "RUB", ("Гриша",)),
        ("sent tom $15 for pizza", "15", "USD", ("Tom",)),
    ],
)
def test_a_transfer_is_an_expense_with_the_person(
    text: str, amount: str, currency: str, people: tuple[str, ...]
) -> None:
    result = classify(text)
    assert result.type is ItemType.EXPENSE, result
    assert (result.amount, result.currency, result.people) == (Decimal(amount), currency, people)


def test_asking_to_be_paid_is_a_task() -> None:
    assert classify("Рома: скинь 300 за пиццу").type is ItemType.TASK


# --------------------------------------------------------------------------- people


@pytest.mark.parametrize(
    ("text", "people"),
    [
        ("в четверг ужин с Викторией Олеговной", ("Виктория Олеговна",)),
        ("позвонить косте завтра", ("Костя",)),
        ("созвон с ильёй и мариной в 12", ("Илья", "Марина")),
    ],
)
def test_people_are_nominative_everywhere(text: str, people: tuple[str, ...]) -> None:
    assert classify(text).people == people


def test_a_reply_that_completes_a_name_replaces_it() -> None:
    result = classify("обед с Олей в пятницу", "с Олей Петровой")
    assert result.people == ("Оля Петрова",)


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "text",
    [
        "пароль от госпочты Qw3rty!x",
        "пин от карты 5173",
        "код от сейфа 90210",
        "wifi pass: greenHouse_88",
    ],
)
def test_a_secret_is_a_sensitive_note_with_the_secret_masked(text: str) -> None:
    result = classify(text)
    assert (result.type, result.sensitive) == (ItemType.NOTE, True)
    shown = f"{result.title}\n{result.summary}"
    assert MASK in shown
    for secret in ("Qw3rty!x", "5173", "90210", "greenHouse_88"):
        assert secret not in str(result.to_json())


def test_a_photo_of_a_secret_is_a_sensitive_note_not_a_file() -> None:
    result = classify("пароль от вайфая, сфоткал роутер")
    assert (result.type, result.sensitive) == (ItemType.NOTE, True)


def test_ordinary_messages_are_not_sensitive() -> None:
    for text in ("купить молоко", "у Ани аллергия на кошек", "поменять пароль до пятницы"):
        assert classify(text).sensitive is False, text
