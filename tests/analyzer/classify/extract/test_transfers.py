"""Money sent to somebody."""

from __future__ import annotations

import pytest

from superbrain_core.analyzer.classify.extract.transfers import find_transfer


@pytest.mark.parametrize(
    ("text", "amount", "currency", "person"),
    [
        ("скинула Вере 900 за билеты", "900", "RUB", "Вера"),
        ("перевёл антону 2 тыс", "2000", "RUB", "Антон"),
        ("вернула диме долг 1200", "1200", "RUB", "Дима"),
        ("перевод Павлу Андреевичу 7000 за ремонт", "7000", "RUB", "Павел Андреевич"),
        ("сестре перевела три тысячи", "3000", "RUB", "Сестра"),
        ("сбп пете 350", "350", "RUB", "Петя"),
        ("sent mike $30 for gas", "30", "USD", "Mike"),
        ("paid emma back forty bucks", "40", "USD", "Emma"),
        ("transferred 60 eur to my brother", "60", "EUR", "Brother"),
    ],
)
def test_a_transfer_has_its_sum_and_person(
    text: str, amount: str, currency: str, person: str
) -> None:
    transfer = find_transfer(text)
    assert transfer is not None
    assert (str(transfer.money.amount), transfer.money.code) == (amount, currency)
    assert transfer.person is not None and transfer.person.name == person


def test_a_transfer_without_a_person_still_has_its_sum() -> None:
    transfer = find_transfer("перевела 4500")
    assert transfer is not None and str(transfer.money.amount) == "4500"
    assert transfer.person is None


@pytest.mark.parametrize(
    "text",
    [
        "вернул книгу Пете",  # no sum: not money
        "скинь мне 500",  # asking to be paid: a task, not a transfer
        "позвонить Оле",
        "",
    ],
)
def test_not_a_transfer(text: str) -> None:
    assert find_transfer(text) is None
