"""Output fields: titles, summaries and the people named in a chain."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from superbrain_core.analyzer.classify.extract import people as people_reader
from superbrain_core.analyzer.classify.rules.chain import _strip_contact_words
from superbrain_core.analyzer.classify.rules.grammar import (
    _CAPITALISED,
    _FILLER,
    _LETTER_OR_DIGIT,
    _WORD,
    EVENT_LABELS,
    FILE_LABELS,
    SUMMARY_LIMIT,
    TITLE_LIMIT,
    _is_name,
)
from superbrain_core.analyzer.classify.rules.values import _Chain, _Facts
from superbrain_core.analyzer.classify.schema import (
    EventKind,
    ItemType,
)

# --------------------------------------------------------------------------- output fields


def _cut_text(facts: _Facts, kinds: set[str]) -> str:
    """The message with the spans of the given kinds removed, for titles."""
    text = facts.text
    for start, end, what in sorted(facts.cut, reverse=True):
        if what in kinds or what == "correction":
            text = text[:start] + " " + text[end:]
    return text


_TITLE_CUTS: Final[dict[ItemType, set[str]]] = {
    ItemType.LINK: {"date", "url", "tag"},
    ItemType.CONTACT: {"date", "contact", "username", "tag"},
    ItemType.EXPENSE: {"date", "amount", "tag"},
    ItemType.NOTE: {"tag"},  # in a note the date is part of what was said
}


def _title(chain: _Chain, item_type: ItemType, kind: EventKind | None) -> str | None:
    """A short title: the root's words without dates, tokens and "надо"-style filler."""
    if item_type is ItemType.NONE:
        return None
    if item_type is ItemType.FILE:
        return _shorten(chain.file_title or "Файл", TITLE_LIMIT)
    if item_type is ItemType.CONTACT:
        name = _contact_person(chain) or _contact_name(chain)
        if name:
            return name
    cuts = _TITLE_CUTS.get(item_type, {"date", "tag"})
    for facts in chain.messages:  # the root, unless it was only a date or a token
        text = _tidy(_FILLER.sub("", _tidy(_cut_text(facts, cuts))))
        if _LETTER_OR_DIGIT.search(text):
            return _shorten(text[0].upper() + text[1:], TITLE_LIMIT)
    return _fallback_title(chain, item_type, kind)


def _fallback_title(chain: _Chain, item_type: ItemType, kind: EventKind | None) -> str | None:
    messages = chain.messages
    if item_type is ItemType.LINK and (url := _first(m.urls for m in messages)):
        return _domain(url)
    if item_type is ItemType.CONTACT:
        return (
            _last(m.phones for m in messages)
            or _last(m.emails for m in messages)
            or ("@" + u if (u := _last(m.usernames for m in messages)) else None)
        )
    if item_type is ItemType.EVENT:
        return EVENT_LABELS[kind or EventKind.OTHER]
    if item_type is ItemType.EXPENSE:
        return "Расход"
    text = _tidy(chain.root.text)
    if text:
        return _shorten(text, TITLE_LIMIT)
    return FILE_LABELS.get(chain.message_type)  # a location without words


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return text.strip(" ,.;:-—–")


def _domain(url: str) -> str:
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.I)
    return host.split("/", 1)[0].split("?", 1)[0] or url


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-—–") + "…"


def _summary(chain: _Chain) -> str | None:
    text = "\n".join(m.text for m in chain.messages if m.text)
    return _shorten(text, SUMMARY_LIMIT) if text else None


def _contact_person(chain: _Chain) -> str | None:
    """The person a contact belongs to: the first name beside the details, in the nominative.

    Any dictionary reading of a name counts here (a contact line is known to name
    somebody: "контакт няни гули"); a surname right after it joins it ("Bob Smith").
    """
    for facts in reversed(chain.messages):  # "да, Ольга Смирнова" completes "Ольга"
        leftover = _strip_contact_words(_cut_text(facts, {"contact", "username", "url", "tag"}))
        found = people_reader.find_people(leftover, loose=True)
        if found:
            name, end = found[0].name, found[0].end
            for person in found[1:3]:
                if leftover[end : person.start].strip() or " " in name:
                    break
                name, end = f"{name} {person.name}", person.end
            return name
    return None


def _contact_name(chain: _Chain) -> str | None:
    """The name beside contact details: capitalised words, else up to three leftover words."""
    for facts in chain.messages:
        leftover = _strip_contact_words(_cut_text(facts, {"contact", "username", "url", "tag"}))
        words = _WORD.findall(leftover)
        capitalised = [w for w in words if _CAPITALISED.match(w) and _is_name(w)]
        if capitalised:
            return " ".join(capitalised[:3])
        if 0 < len(words) <= 3:
            return " ".join(words)
    return None


def _first(groups: Iterable[list[str]]) -> str | None:
    return next((g[0] for g in groups if g), None)


def _last(groups: Iterable[list[str]]) -> str | None:
    found = None
    for group in groups:
        if group:
            found = group[0]
    return found


def _fullest(names: tuple[str, ...]) -> tuple[str, ...]:
    """Names with a shorter mention of a fuller one dropped: "Саша", "Саша Круглова"."""
    folded = [n.casefold() for n in names]
    return tuple(
        name
        for name, fold in zip(names, folded, strict=True)
        if not any(other != fold and other.startswith(fold + " ") for other in folded)
    )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Distinct values in first-seen order, compared without case."""
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            result.append(value)
    return tuple(result)
