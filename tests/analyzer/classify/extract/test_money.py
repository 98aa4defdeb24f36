"""Sums of money and their currencies."""

from __future__ import annotations

import pytest

from superbrain_core.analyzer.classify.extract.money import (
    choose,
    currency_code,
    find_money,
    priced_item,
)


def sums(text: str) -> list[tuple[str, str | None, bool]]:
    return [(str(m.amount), m.currency, m.sure) for m in find_money(text)]


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("обед 640 ₽", "640", "RUB"),
        ("обед 640₽", "640", "RUB"),
        ("штраф 1 500 р.", "1500", "RUB"),
        ("парковка 200р", "200", "RUB"),
        ("подписка 299 руб/мес", "299", "RUB"),
        ("ремонт 12 тысяч рублей", "12000", "RUB"),
        ("такси двести рублей", "200", "RUB"),
        ("RUB 900 за билеты", "900", "RUB"),
        ("$25 for a cab", "25", "USD"),
        ("book 12.99 usd", "12.99", "USD"),
        ("сорок баксов", "40", "USD"),
        ("thirty bucks", "30", "USD"),
        ("three hundred dollars", "300", "USD"),
        ("5 долларов", "5", "USD"),
        ("€45", "45", "EUR"),
        ("музей 12 евро", "12", "EUR"),
        ("coffee 3.80 eur", "3.8", "EUR"),
    ],
)
def test_currencies_before_and_after(text: str, amount: str, currency: str) -> None:
    (money,) = find_money(text)
    assert (str(money.amount), money.currency, money.code, money.sure) == (
        amount,
        currency,
        currency,
        True,
    )


def test_a_scale_makes_a_sum_sure_and_roubles_by_default() -> None:
    (money,) = find_money("ремонт 25к")
    assert (str(money.amount), money.currency, money.code, money.sure) == (
        "25000",
        None,
        "RUB",
        True,
    )


def test_a_bare_number_is_found_but_not_sure() -> None:
    assert sums("купил 3 кофе") == [("3", None, False)]


def test_r_before_a_hyphen_is_not_roubles() -> None:
    assert sums("в 5 р-не") == [("5", None, False)]


def test_the_total_and_what_was_taken_back() -> None:
    found = find_money("кофе 300 булка 200 итого 500")
    assert str(choose(found).amount) == "500"  # type: ignore[union-attr]
    found = find_money("не 700 а 900")
    assert [m.denied for m in found] == [True, False]
    assert str(choose(found).amount) == "900"  # type: ignore[union-attr]
    assert choose([]) is None


@pytest.mark.parametrize(
    ("word", "code"),
    [("руб", "RUB"), ("₽", "RUB"), ("bucks", "USD"), ("евро", "EUR"), ("долларов", "USD")],
)
def test_currency_words(word: str, code: str) -> None:
    assert currency_code(word) == code


def test_not_a_currency() -> None:
    assert currency_code("кофе") is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("парикмахер 1800", "1800"),
        ("овощи 1 240", "1240"),
        ("химчистка шестьсот", "600"),
        ("каршеринг триста сорок", "340"),
        ("полтинник за воду", "50"),
        ("cinema 900", "900"),
        ("сапоги 7 300 😬", "7300"),
    ],
)
def test_a_short_line_naming_a_thing_and_its_price(text: str, amount: str) -> None:
    money = priced_item(text)
    assert money is not None and str(money.amount) == amount and money.code == "RUB"


@pytest.mark.parametrize(
    "text",
    [
        "кв 118",  # an address
        "рейс 2455",  # a flight
        "iphone 16",  # a model, and too small for a price
        "33 ноября",  # a number before words: not a price line
        "комната 12 и 14",  # two numbers
        "очень длинная строка про то что стоило бы записать 2500",  # too long
        "шесть",  # nothing named
    ],
)
def test_not_a_price_line(text: str) -> None:
    assert priced_item(text) is None
