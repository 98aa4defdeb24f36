"""Secrets are found and masked; ordinary notes are left alone."""

from __future__ import annotations

import pytest

from superbrain_core.analyzer.classify.extract.secrets import MASK, luhn, mask, scan


def masked(text: str) -> str:
    found = scan(text)
    assert found.sensitive, text
    return mask(text, found.secrets)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("пароль от почты Kx7#mPq9", f"пароль от почты {MASK}"),
        ("пин карты сбер 7391", f"пин карты сбер {MASK}"),
        ("пин-код 0000 пук 12345678", f"пин-код {MASK} пук {MASK}"),
        ("cvc 481", f"cvc {MASK}"),
        ("код подъезда 17В4419", f"код подъезда {MASK}"),
        ("код от ворот на парковке 3309", f"код от ворот на парковке {MASK}"),
        ("код из смс 228 114", f"код из смс {MASK}"),
        ("door code is 4417", f"door code is {MASK}"),
        ("wifi password: SunnyDays_24", f"wifi password: {MASK}"),
        ("кодовое слово — василёк", f"кодовое слово — {MASK}"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123", f"token {MASK}"),
        ("seed phrase: one two three four", f"seed phrase: {MASK}"),
        ("камера admin / Adm1n_pass", f"камера admin / {MASK}"),
        ("карта 4111 1111 1111 1111 на всякий", f"карта {MASK} на всякий"),
    ],
)
def test_secrets_are_masked(text: str, expected: str) -> None:
    assert masked(text) == expected


def test_an_api_key_by_its_prefix_needs_no_cue() -> None:
    assert masked("вот sk-live-abcdEFGH12345678ijkl") == f"вот {MASK}"


def test_a_secret_in_a_picture_is_sensitive_with_nothing_to_mask() -> None:
    found = scan("пароль от роутера на фото")
    assert found.sensitive and found.secrets == ()


def test_a_dictated_password_is_masked_from_its_first_word() -> None:
    assert masked("пароль от почты котик тире два ноль") == f"пароль от почты {MASK}"


@pytest.mark.parametrize(
    "text",
    [
        "поменять пароль до пятницы",  # a to-do about a password, no password in it
        "дресс-код на свадьбу: чёрный",
        "промокод на скидку",
        "у Лены аллергия на арахис",
        "размер обуви 42",
        "телефон +7 916 555 44 33",
        "заказ 4111111111111112",  # fails the Luhn check
    ],
)
def test_not_secrets(text: str) -> None:
    assert not scan(text).sensitive


def test_luhn() -> None:
    assert luhn("4111111111111111")
    assert not luhn("4111111111111112")
