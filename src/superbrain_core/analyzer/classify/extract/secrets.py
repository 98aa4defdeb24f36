"""Secrets in a message, and the message with them masked.

The owner keeps passwords, PINs, card numbers and door codes in the bot like
any other note. Such a note is filed with ``sensitive=True`` and its secret is
masked (:data:`MASK`) in everything derived from it, the title and summary
shown in the nightly digest included; the raw message stays as it was.

What is a secret (:func:`scan`):

* a value after a cue word: passwords (пароль, pass, password, pwd), PINs and
  PUKs, CVV/CVC, door, gate and safe codes ("код домофона", "код калитки", "door
  code"), one-time codes ("код из смс", "код подтверждения", OTP, 2FA), bank
  code words ("кодовое слово — ромашка"), API keys and tokens, seed phrases;
  "от госуслуг", "is", ":" between the cue and the value are skipped;
* a login/password pair near a device or account word ("роутер admin / Qwerty_77");
* a card number: 13 to 19 digits, grouped or not, that pass the Luhn check;
* an API key by its well-known prefix (``sk-``, ``ghp_``, ``xoxb-``, ``AKIA``, ``AIza``).

A cue without a value still makes the message sensitive when the secret is in
a picture ("пароль от wifi на роутере, сфоткал наклейку"). Medical facts,
allergies and sizes are not secrets, and nothing here guesses at them.
A dictated password ("пароль мама тире один девять пять восемь") is masked
from the word before the first dictation or number word to the end of its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from superbrain_core.analyzer.classify.extract.numbers import find_numbers

__all__ = ["MASK", "Secret", "SecretScan", "has_cue", "lone_value", "luhn", "mask", "scan"]

#: What a secret is replaced with in titles and summaries.
MASK: Final = "••••"

_F = re.IGNORECASE
_CUES: Final = {
    "codeword": r"(?:кодов\w+|секретн\w+|контрольн\w+)\s+(?:слов\w*|вопрос\w*)"
    r"|code\s*word|security\s+(?:word|question|answer)|secret\s+(?:word|answer)",
    "seed": r"seed(?:\s+phrase)?|сид[\s-]?фраз\w*|мнемони\w*|recovery\s+phrase|secret\s+phrase",
    "api_key": r"api[\s_-]?key|(?:api|апи)[\s-]?ключ\w*|ключ\w*\s+(?:от\s+)?(?:api|апи)"
    r"|access\s+token|secret\s+key|токен\w*|token",
    "otp": r"код\w*\s+(?:из|с)\s+(?:смс|sms)|код\w*\s+подтвержден\w*|verification\s+code"
    r"|one[\s-]time\s+(?:code|password)|otp|2fa|одноразов\w+\s+(?:код|парол)\w*|sms\s+code",
    "door": r"код\w*\s+(?:от\s+)?(?:домофон|подъезд|двер|калитк|ворот|сейф|замк|сигнализац"
    r"|шлагбаум|квартир|офис|ячейк|входа?|банкомат)\w*"
    r"|(?:door|gate|safe|alarm|lock|entry|building|garage)\s+code|(?:домофон|шлагбаум)\w*\s+код\w*",
    "pin": r"пин(?:[\s-]?код\w*)?|pin(?:\s*code)?|пук|puk|cvv2?|cvc2?",
    "password": r"парол\w*|пасс?(?!\w)|pass(?:word|code)?|passwd|pwd|пасворд",
}
_CUE = re.compile(
    r"(?<![\w-])(?:" + "|".join(f"(?P<{k}>{v})" for k, v in _CUES.items()) + r")(?![\w-])", _F
)
#: The words between a cue and its value: "от новой карты", "is", ":".
_FILLER = re.compile(
    r"^(?:[\s:=—–-]|(?:is|are|was|for|to|of|the|my|от|для|на|в|это|будет)(?!\w))*", _F
)
_TOKEN = re.compile(r"\S+")
_DIGIT_GROUP = re.compile(r"\d+(?:[ -]\d+)*")
_CARD = re.compile(r"(?<![\d+])(?:\d[ -]?){12,18}\d(?!\d)")
_PAIR = re.compile(r"(?<!\S)(?P<login>[^\s/]{3,})\s*/\s*(?P<secret>[^\s/]{4,})(?!\S)")
_PAIR_CONTEXT = re.compile(
    r"(?<!\w)(?:роутер\w*|router|admin|логин\w*|login|учётк\w*|учетк\w*|аккаунт\w*|account"
    r"|wi-?fi|вай-?фай\w*|вайфа\w*|сервер\w*|server|ssh|vpn)(?!\w)",
    _F,
)
_KEY_PREFIX = re.compile(
    r"(?<![\w-])(?:(?:sk|pk|rk)-[\w-]{16,}|gh[pousr]_\w{20,}|xox[abposr]-[\w-]{10,}"
    r"|AKIA[0-9A-Z]{16}|AIza[\w-]{30,})"
)
#: The secret is in a picture, not in the words.
_PICTURE = re.compile(
    r"(?<!\w)(?:с?фотк\w*|сфотографир\w*|фото\w*|снимок|скрин\w*|наклейк\w*|photo\w*|pic"
    r"|picture|screenshot|sticker|label)(?!\w)",
    _F,
)
#: Words of a dictated password: "мама тире один девять".
_DICTATION = re.compile(
    r"(?<!\w)(?:тире|дефис|точка|собака|подч[её]ркивани\w*|восклицательн\w*|решётк\w*|решетк\w*"
    r"|dash|hyphen|underscore|exclamation|dot|at\s+sign)(?!\w)",
    _F,
)
_LINE_END = re.compile(r"[\n;]|,\s*(?=\D)|(?<=\S)\.\s")
_WINDOW = 80


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret value: ``text[start:end]``, of ``kind`` (pin, password, card, ...)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class SecretScan:
    """What :func:`scan` found: the values, and whether the message is sensitive."""

    secrets: tuple[Secret, ...]
    sensitive: bool


def luhn(digits: str) -> bool:
    """The Luhn check of a card number (digits only)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _looks_secret(token: str) -> bool:
    """A password-like token: a digit, a symbol inside it, or mixed case."""
    core = token.strip(".,;!?()«»\"'")
    if len(core) < 3 or ("@" in core and "." in core.split("@")[-1]):
        return False  # an e-mail is the login, not the secret
    has_digit = any(c.isdigit() for c in core)
    has_symbol = any(not c.isalnum() for c in core[1:-1]) or core[-1:] in "!#$%&*_"
    mixed = any(c.isupper() for c in core[1:]) and any(c.islower() for c in core)
    return has_digit or has_symbol or mixed


def _window(text: str, start: int) -> tuple[int, int]:
    """From ``start`` to the end of the clause (at most :data:`_WINDOW` characters)."""
    end = min(len(text), start + _WINDOW)
    stop = _LINE_END.search(text, start, end)
    return start, stop.start() if stop else end


def _value_after(text: str, kind: str, start: int, next_cue: int) -> Secret | None:
    lo, hi = _window(text, start)
    hi = min(hi, next_cue)
    skipped = _FILLER.match(text, lo, hi)
    lo = skipped.end() if skipped else lo
    if lo >= hi:
        return None
    if kind in ("seed", "codeword"):
        rest = text[lo:hi]
        separator = re.search(r"[:—–=]|\s-\s", rest)
        if separator is not None:
            lo += separator.end()
        elif kind == "codeword":
            tokens = list(_TOKEN.finditer(text, lo, hi))
            if not tokens:
                return None
            lo = tokens[-1].start()
        value = text[lo:hi].strip()
        if not value:
            return None
        lo = text.index(value, lo)
        return Secret(lo, lo + len(value), kind)
    if kind in ("pin", "door", "otp"):
        for token in _TOKEN.finditer(text, lo, hi):
            if any(c.isdigit() for c in token.group()):
                group = _DIGIT_GROUP.match(text, token.start(), hi)
                end = token.end()
                if group is not None and group.end() > end:
                    end = group.end()
                return Secret(token.start(), end, kind)
    for token in _TOKEN.finditer(text, lo, hi):
        if _looks_secret(token.group()):
            core_end = token.end() - (len(token.group()) - len(token.group().rstrip(".,;")))
            return Secret(token.start(), core_end, kind)
    return _dictated(text, kind, lo, hi)


def _dictated(text: str, kind: str, lo: int, hi: int) -> Secret | None:
    """A password read out: from the word before the first dictation or number word."""
    line_end = text.find("\n", lo)
    hi = len(text) if line_end < 0 else line_end
    marks = [m.start() for m in _DICTATION.finditer(text, lo, hi)]
    marks += [n.start + lo for n in find_numbers(text[lo:hi]) if n.spoken]
    if not marks:
        return None
    first = min(marks)
    words = list(_TOKEN.finditer(text, lo, first))
    start = words[-1].start() if words else first
    return Secret(start, hi, kind)


def _cued(text: str) -> Iterator[tuple[str, int, int]]:
    for match in _CUE.finditer(text):
        kind = next(k for k, v in match.groupdict().items() if v)
        yield kind, match.start(), match.end()


def scan(text: str) -> SecretScan:
    """The secrets in ``text`` and whether the message holds one (see the module doc)."""
    found: list[Secret] = []
    cues = list(_cued(text))
    for index, (kind, _, end) in enumerate(cues):
        next_cue = cues[index + 1][1] if index + 1 < len(cues) else len(text)
        secret = _value_after(text, kind, end, next_cue)
        if secret is not None:
            found.append(secret)
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn(digits):
            found.append(Secret(match.start(), match.end(), "card"))
    if _PAIR_CONTEXT.search(text):
        for match in _PAIR.finditer(text):
            if _looks_secret(match.group("secret")) and not match.group("login").isdigit():
                found.append(Secret(match.start("secret"), match.end("secret"), "password"))
    for match in _KEY_PREFIX.finditer(text):
        found.append(Secret(match.start(), match.end(), "api_key"))
    secrets = _merged(found)
    sensitive = bool(secrets) or bool(cues and _PICTURE.search(text))
    return SecretScan(secrets, sensitive)


def _merged(found: list[Secret]) -> tuple[Secret, ...]:
    """Spans in order, overlapping ones joined."""
    merged: list[Secret] = []
    for secret in sorted(found, key=lambda s: (s.start, -s.end)):
        if merged and secret.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Secret(last.start, max(last.end, secret.end), last.kind)
            continue
        merged.append(secret)
    return tuple(merged)


def mask(text: str, secrets: tuple[Secret, ...] | list[Secret]) -> str:
    """``text`` with every secret replaced by :data:`MASK`."""
    for secret in sorted(secrets, key=lambda s: s.start, reverse=True):
        text = text[: secret.start] + MASK + text[secret.end :]
    return text


def has_cue(text: str) -> bool:
    """Whether ``text`` names a kind of secret ("пин от домофона", "пароль от wifi")."""
    return _CUE.search(text) is not None


def lone_value(text: str) -> bool:
    """Whether ``text`` is a single value that may be a secret named elsewhere in the
    chain ("1234" answered with "пин от домофона"): a number of 3 to 12 digits or a
    password-like token, and nothing else."""
    token = text.strip()
    if not token or any(c.isspace() for c in token):
        return False
    return (token.isdigit() and 3 <= len(token) <= 12) or _looks_secret(token)
