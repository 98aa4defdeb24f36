"""Reading one text: cleaning it and taking out its tokens, corrections and date."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, tzinfo

from superbrain_core.analyzer.classify.extract import money as money_reader
from superbrain_core.analyzer.classify.extract import secrets as secret_reader
from superbrain_core.analyzer.classify.rules.grammar import (
    _BARE_URL,
    _CONTROL,
    _DISMISSAL,
    _EMAIL,
    _HASHTAG,
    _NEGATIVE_CORRECTION,
    _PHONE,
    _POSITIVE_CORRECTION,
    _SPACES,
    _TYPE_PREFIX,
    _TYPE_WORDS,
    _URL,
    _URL_TRAILING,
    _USERNAME,
    ANALYSE_LIMIT,
)
from superbrain_core.analyzer.classify.rules.values import _Correction, _Facts
from superbrain_core.analyzer.classify.rules.when import _find_when
from superbrain_core.analyzer.classify.schema import ItemType

# --------------------------------------------------------------------------- reading one text


def _local(moment: datetime, zone: tzinfo) -> datetime:
    """The owner's naive wall-clock time of ``moment`` (naive input is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def _clean(text: str | None) -> str:
    """Text safe to analyse: NFC, no control characters, single spaces, capped in length."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text[: ANALYSE_LIMIT * 2])
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    if len(text) > ANALYSE_LIMIT:  # cut between words, so no half word is read
        text = text[:ANALYSE_LIMIT].rsplit(None, 1)[0]
    return text.strip()


def _read_message(raw: str | None, base: datetime, *, is_root: bool) -> _Facts:
    text = _clean(raw)
    found = secret_reader.scan(text)
    if found.secrets:  # masked before anything else reads it: no title can show it
        text = secret_reader.mask(text, found.secrets)
    facts = _Facts(text=text, base=base, sensitive=found.sensitive)
    work = facts.text
    work = _take_tokens(facts, work)
    work = _take_corrections(facts, work, is_root=is_root)
    facts.rest = work
    facts.when = _find_when(facts, work)
    plain = facts.text
    for start, end, what in facts.cut:
        if what != "amount":
            plain = _blank(plain, start, end)
    facts.plain = plain
    return facts


def _blank(text: str, start: int, end: int) -> str:
    """``text`` with ``[start, end)`` replaced by spaces: offsets stay valid for later passes."""
    return text[:start] + " " * (end - start) + text[end:]


def _take_tokens(facts: _Facts, work: str) -> str:
    """Record URLs, e-mails, phones, usernames, hashtags and amounts, blanking each."""
    for match in list(_URL.finditer(work)):
        url = match.group().rstrip(_URL_TRAILING)
        facts.urls.append(url)
        facts.cut.append((match.start(), match.start() + len(url), "url"))
        work = _blank(work, match.start(), match.start() + len(url))
    for match in list(_BARE_URL.finditer(work)):
        url = match.group().rstrip(_URL_TRAILING)
        facts.urls.append("https://" + url)
        facts.cut.append((match.start(), match.start() + len(url), "url"))
        work = _blank(work, match.start(), match.start() + len(url))
    for match in list(_EMAIL.finditer(work)):
        facts.emails.append(match.group())
        facts.cut.append((match.start(), match.end(), "contact"))
        work = _blank(work, match.start(), match.end())
    for match in list(_PHONE.finditer(work)):
        phone = _normalise_phone(match.group())
        if phone is None:
            continue
        facts.phones.append(phone)
        facts.cut.append((match.start(), match.end(), "contact"))
        work = _blank(work, match.start(), match.end())
    for match in list(_USERNAME.finditer(work)):
        facts.usernames.append(match.group(1))
        facts.cut.append((match.start(), match.end(), "username"))
        work = _blank(work, match.start(), match.end())
    for match in list(_HASHTAG.finditer(work)):
        facts.tags.append(match.group(1))
        facts.cut.append((match.start(), match.end(), "tag"))
        work = _blank(work, match.start(), match.end())
    for money in money_reader.find_money(work):
        if not (money.sure or money.total):
            continue  # a bare number may be a time or a date: read after the dates
        facts.amounts.append(money)
        facts.cut.append((money.start, money.end, "amount"))
        work = _blank(work, money.start, money.end)
    return work


def _normalise_phone(raw: str) -> str | None:
    """E.164-ish: ``+79991234567``; a Russian leading 8 becomes +7. None if not a phone."""
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("8") and len(digits) == 11:
        digits = "7" + digits[1:]
    if not 10 <= len(digits) <= 15:
        return None
    return "+" + digits


def _take_corrections(facts: _Facts, work: str, *, is_root: bool) -> str:
    """Find type words that correct the guess; blank them so they are not read as keywords.

    Only replies correct ("это встреча", "нет, это расход", "not a task"); the
    root may only name its type as a prefix ("Задача: ...").
    """
    for match in list(_NEGATIVE_CORRECTION.finditer(work)):
        facts.negative.add(_type_word(match).type)
        facts.cut.append((match.start(), match.end(), "correction"))
        work = _blank(work, match.start(), match.end())
    if not is_root and _DISMISSAL.search(work):
        facts.positive.append(_Correction(ItemType.NONE, None))
    pattern = _TYPE_PREFIX if is_root else _POSITIVE_CORRECTION
    for match in list(pattern.finditer(work)):
        facts.positive.append(_type_word(match))
        facts.cut.append((match.start(), match.end(), "correction"))
        work = _blank(work, match.start(), match.end())
    return work


def _type_word(match: re.Match[str]) -> _Correction:
    for index, (_, item_type, kind) in enumerate(_TYPE_WORDS):
        if match.group(f"t{index}") is not None:
            return _Correction(item_type, kind)
    raise AssertionError("a type word matched without a group")  # pragma: no cover
