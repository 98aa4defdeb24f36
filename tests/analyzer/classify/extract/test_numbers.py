"""Numbers as people write them: digits in every local habit, shorthand and words."""

from __future__ import annotations

from decimal import Decimal

import pytest

from superbrain_core.analyzer.classify.extract.numbers import (
    find_numbers,
    parse_digits,
    plain,
    spoken_value,
)


def values(text: str) -> list[str]:
    return [str(n.value) for n in find_numbers(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1500", "1500"),
        ("1 500", "1500"),
        ("12\u00a0300", "12300"),
        ("15.000", "15000"),
        ("1,500", "1500"),
        ("1,500.50", "1500.5"),
        ("1.500,50", "1500.5"),
        ("2 345,60", "2345.6"),
        ("9.99", "9.99"),
        ("7,5", "7.5"),
    ],
)
def test_digits_in_every_habit(text: str, expected: str) -> None:
    assert values(text) == [expected]
    assert parse_digits(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4к", "4000"),
        ("12k", "12000"),
        ("2.5к", "2500"),
        ("4,8к", "4800"),
        ("7 тыс", "7000"),
        ("30 тыс.", "30000"),
        ("3 тысячи", "3000"),
        ("5 млн", "5000000"),
        ("1 млрд", "1000000000"),
        ("3 grand", "3000"),
    ],
)
def test_a_written_scale_multiplies_and_marks_the_number(text: str, expected: str) -> None:
    (number,) = find_numbers(text)
    assert (str(number.value), number.scaled, number.spoken) == (expected, True, False)
    assert text[number.start : number.end] == text


def test_a_single_letter_scale_must_touch_the_digits() -> None:
    # "к" after a space is the preposition: "20 к пятнице" is twenty, by Friday.
    assert values("20 к пятнице") == ["20"]
    assert values("вес 3кг") == ["3"]


@pytest.mark.parametrize(
    ("text", "expected", "scaled"),
    [
        ("четыре тысячи", "4000", True),
        ("пятью тысячами", "5000", True),
        ("двухсот", "200", False),
        ("шестьсот сорок", "640", False),
        ("полторы тысячи", "1500", True),
        ("полтора миллиона", "1500000", True),
        ("три с половиной тысячи", "3500", True),
        ("тыщу", "1000", True),
        ("два косаря", "2000", True),
        ("полтинник", "50", False),
        ("сотку", "100", False),
        ("семь восемьсот", "7800", False),
        ("thirty", "30", False),
        ("two hundred and forty", "240", False),
        ("five thousand", "5000", True),
        ("a hundred", "100", False),
        ("two and a half thousand", "2500", True),
    ],
)
def test_numbers_in_words(text: str, expected: str, scaled: bool) -> None:
    (number,) = find_numbers(text)
    assert (str(number.value), number.spoken, number.scaled) == (expected, True, scaled)


def test_spans_point_at_the_words() -> None:
    text = "отдал сорок пять за кофе"
    (number,) = find_numbers(text)
    assert text[number.start : number.end] == "сорок пять"


def test_a_number_read_out_in_groups_is_not_joined_into_thousands() -> None:
    # A phone read out: 905 123 45 67 - four numbers, not 905123.
    found = find_numbers("девятьсот пять сто двадцать три сорок пять шестьдесят семь")
    assert [str(n.value) for n in found] == ["905", "123", "45", "67"]


def test_several_numbers_in_one_text_come_in_order() -> None:
    assert values("3 кофе по 250 и торт за две тысячи") == ["3", "250", "2000"]


def test_half_alone_and_unknown_words() -> None:
    assert spoken_value(["<one-and-half>"], "ru") == [(Decimal("1.5"), False)]
    assert values("ничего тут нет") == []
    assert values("") == []


def test_plain_drops_trailing_zeros_without_an_exponent() -> None:
    assert str(plain(Decimal("1500.0"))) == "1500"
    assert str(plain(Decimal("6230.50"))) == "6230.5"
    assert str(plain(Decimal("1E+3"))) == "1000"
    assert str(plain(Decimal(10) ** 40)) == "1" + "0" * 40
