"""People named in a message, in the nominative and capitalised, Russian and English.

"с Мариной" → Марина, "Косте" → Костя, "с Петром Ивановичем" → Пётр Иванович,
"с виктором палычем" → Виктор Палыч, "андрюхе" → Андрюха, "у алены" → Алёна:
Russian names are read by ``pymorphy3`` (the OpenCorpora dictionary), whose
grammemes ``Name``, ``Patr`` and ``Surn`` mark first names (diminutives
included), patronymics (colloquial "Палыч" too) and surnames, in every case.
The dictionary spells lemmas with ё, so "алены" comes back as Алёна.

Which words are names:

* a capitalised dictionary word with a ``Name`` reading, not at the start of a
  sentence: any such reading counts ("встреча с Верой");
* otherwise (lowercase, or first in a sentence) the ``Name`` readings must
  carry at least half of pymorphy's probability ("саше", "коле"), or the word
  must follow a word that calls for a person in that case: "с"/"со" + the
  instrumental, "у"/"для"/"от" + the genitive, "к" + the dative, a verb + the
  dative or accusative ("взять у семена дрель" is Семён, not seeds);
* a kinship word used as a name, by its lemma (:data:`KINSHIP`): "маме" →
  Мама, "к дяде вите" → Дядя Витя, "тёще" → Тёща. Collectives (родители, дети)
  and roles (юрист, сантехник) are not people.

Words pymorphy does not know but guesses a name for ("вкусвилл", "вебинар")
are not names. A patronymic or surname right after a name joins it and is
brought to the nominative in the name's gender ("Ирине Сергеевне" → Ирина
Сергеевна); so is a capitalised unknown word there ("Павел Сомов").

When a word reads as several names ("косте": Коста or Костя; "коле": Кола or
Коля), the reading in the case the context asks for wins, then one spelled
exactly as written (so "лене" is Лена, not Лёня), then the usual shape of a
Russian first name in ``-я`` and then ``-а`` (diminutives), then pymorphy's
probability.

English has no such dictionary here, so English names are taken only after
words that introduce a person (with, w/, sent, paid, call, text, to after a
transfer, "at Mike's") and skip a small list of words that are not names
(:data:`NOT_NAMES_EN`); "my sister" and "mom" are kinship words.

pymorphy3 loads its dictionary (about 0.2 s, 15 MB) on first use: :func:`morph`
is a cached getter, so importing this module costs nothing and a process loads
it once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Final

from superbrain_core.analyzer.classify.extract.numbers import find_numbers

if TYPE_CHECKING:  # pragma: no cover
    import pymorphy3  # type: ignore[import-untyped, unused-ignore]

__all__ = ["KINSHIP", "KINSHIP_EN", "NOT_NAMES_EN", "Person", "find_people", "morph", "nominative"]


def _words(text: str) -> tuple[str, ...]:
    """A word list written as prose: long lists stay readable that way."""
    return tuple(text.split())


#: Kinship lemmas that name a person the way a first name does ("позвонить маме").
KINSHIP: Final = frozenset(
    _words(
        """
        мама мамочка мамуля папа папочка папуля мать отец бабушка бабуля баба дедушка дедуля дед
        брат братишка сестра сестрёнка тёща тесть свекровь свёкор жена муж сын дочь дочка дядя тётя
        племянник племянница внук внучка крёстный крёстная кум кума зять невестка
        """
    )
)
#: Kinship words that take the name after them: "дядя Витя", "тётя Лена".
_TITLES: Final = frozenset({"дядя", "тётя", "баба", "дед"})
#: English kinship words, as the name they stand for.
KINSHIP_EN: Final = {
    **dict.fromkeys(("mom", "mommy", "mum", "mummy", "mother", "ma"), "Mom"),
    **dict.fromkeys(("dad", "daddy", "father", "pa"), "Dad"),
    **dict.fromkeys(("sister", "sis"), "Sister"),
    **dict.fromkeys(("brother", "bro"), "Brother"),
    **dict.fromkeys(("grandma", "granny", "grandmother", "nana"), "Grandma"),
    **dict.fromkeys(("grandpa", "grandfather"), "Grandpa"),
    "wife": "Wife",
    "husband": "Husband",
    "son": "Son",
    "daughter": "Daughter",
    "aunt": "Aunt",
    "uncle": "Uncle",
}
#: Words that follow "with", "for" or "to" in English but are not anybody's name.
NOT_NAMES_EN: Final = frozenset(
    _words(
        """
        a an the my your his her our their its me you him them us it this that these those some all
        any every everyone everybody someone somebody anyone anybody nobody no one two three each
        team clients client friends friend family kids children guys girls boys people colleagues
        coworkers boss manager doctor dentist lawyer landlord plumber cash card love care time
        regards thanks back for to on at in of and or but with by from up out over about again
        tomorrow today tonight next last lunch dinner breakfast coffee drinks work home email e-mail
        mail phone number tel mobile cell contact is
        electrician mechanic nanny tutor cleaner handyman realtor accountant vet barber
        hairdresser trainer coach driver courier contractor builder neighbor neighbour
        """
    )
)

_GRAMMEMES: Final = frozenset({"Name", "Patr", "Surn"})
#: Prepositions and the case of the person after them.
_PREPOSITION_CASE: Final = {
    "с": "ablt",
    "со": "ablt",
    "у": "gent",
    "для": "gent",
    "от": "gent",
    "без": "gent",
    "к": "datv",
    "ко": "datv",
    "про": "accs",
}
_FUNCTION_WORDS: Final = frozenset({"PRCL", "CONJ", "PREP", "NPRO", "ADVB", "INTJ", "PRED"})
_VERB_CASES: Final = frozenset({"datv", "accs"})
#: Share of pymorphy's probability the name readings need when nothing else says "person".
_NAME_SHARE: Final = 0.5
#: ... and when a verb or a list before it does.
_CUED_SHARE: Final = 0.2

_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*(?:'s|’s)?")
_BREAK = re.compile(r"[.!?\n:;]")  # between two words: a new sentence or clause
_LIST_JOIN = re.compile(r"^\s*(?:,|и|and|&)\s*$", re.IGNORECASE)

#: English words after which the next word is a person: "with anna", "sent jake $40".
_EN_CUES: Final = frozenset(
    _words(
        """
        with w/ sent paid pay text texted call called email emailed ask asked tell told meet met
        remind visit see lent gave venmo venmoed zelle zelled
        """
    )
)
_EN_TRANSFER: Final = re.compile(r"(?<!\w)(?:sent|transferred|paid|gave|lent|wired)(?!\w)", re.I)


@dataclass(frozen=True, slots=True)
class Person:
    """A person named in a text: ``text[start:end]`` names ``name`` (nominative)."""

    start: int
    end: int
    name: str


@cache
def morph() -> pymorphy3.MorphAnalyzer:
    """The Russian analyser, loaded on first use and kept for the life of the process."""
    import pymorphy3  # deferred: the dictionary loads in ~0.2 s, and only the rules need it

    # pymorphy3 announces every dictionary load at INFO: not news in a nightly log.
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)
    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=50_000)
def _parses(word: str) -> tuple[Any, ...]:
    return tuple(morph().parse(word))


def _is_cyrillic(word: str) -> bool:
    return any("а" <= c <= "я" or c == "ё" for c in word.lower())


def _capitalise(name: str) -> str:
    return " ".join(
        "-".join(part[:1].upper() + part[1:] for part in word.split("-")) for word in name.split()
    )


def _known_name_parses(word: str, grammeme: str = "Name") -> list[Any]:
    """Dictionary readings of ``word`` with ``grammeme``, singular (nobody is named "лол")."""
    return [
        p
        for p in _parses(word.lower())
        if grammeme in p.tag.grammemes and p.is_known and p.tag.number != "plur"
    ]


def _share(parses: list[Any]) -> float:
    return float(sum(p.score for p in parses))


def _best(parses: list[Any], word: str, case: str | None) -> Any:
    """The reading to use among several name readings of ``word`` (see the module doc)."""
    lower = word.lower()

    def rank(p: Any) -> tuple[bool, bool, bool, bool, bool, float]:
        lemma = p.normal_form
        return (
            case is None or p.tag.case == case,
            lemma == lower,  # written in the nominative already
            p.word == lower,
            lemma.endswith("я"),
            lemma.endswith("а"),
            float(p.score),
        )

    return max(parses, key=rank)


def _nominative_of(parse: Any) -> str:
    """The nominative singular of a reading, in its own gender ("игоревной" → игоревна)."""
    if "Name" in parse.tag.grammemes:
        return str(parse.normal_form)
    inflected = parse.inflect({"nomn", "sing"})
    return str(inflected.word if inflected is not None else parse.normal_form)


def nominative(word: str, case: str | None = None) -> str | None:
    """``word`` as a first name in the nominative, capitalised ("косте" → Костя), or None.

    ``case`` (a pymorphy case: ``datv``, ``ablt``, ...) prefers the reading in
    that case when the word has several. Kinship words count ("маме" → Мама).
    """
    parses = _known_name_parses(word)
    if parses:
        return _capitalise(_nominative_of(_best(parses, word, case)))
    kin = _kinship(word)
    return _capitalise(kin) if kin else None


def _kinship(word: str) -> str | None:
    for p in _parses(word.lower()):
        if p.normal_form in KINSHIP and p.tag.number != "plur" and p.is_known:
            return str(p.normal_form)
    return None


@dataclass(slots=True)
class _Token:
    start: int
    end: int
    text: str


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


def _cue_case(tokens: list[_Token], i: int, text: str) -> tuple[bool, str | None]:
    """Whether the word before ``tokens[i]`` calls for a person, and in which case."""
    if i == 0 or _BREAK.search(text[tokens[i - 1].end : tokens[i].start]):
        return False, None
    previous = tokens[i - 1].text.lower()
    if previous in _PREPOSITION_CASE:
        return True, _PREPOSITION_CASE[previous]
    if _is_cyrillic(previous):
        tags = {p.tag.POS for p in _parses(previous)[:2]}
        if tags & {"VERB", "INFN"}:
            return True, None
    return False, None


def _sentence_start(tokens: list[_Token], i: int, text: str) -> bool:
    return i == 0 or bool(_BREAK.search(text[tokens[i - 1].end : tokens[i].start]))


def _first_name(
    tokens: list[_Token], i: int, text: str, *, loose: bool, listed: bool
) -> str | None:
    """The nominative of ``tokens[i]`` if it names a person here (the rules in the module doc)."""
    word = tokens[i].text
    parses = _known_name_parses(word)
    if not parses:
        return None
    if word.islower() and _parses(word)[0].tag.POS in _FUNCTION_WORDS:
        return None  # "ли", "мая": the word is far more often something else
    cued, case = _cue_case(tokens, i, text)
    if case is not None:
        in_case = [p for p in parses if p.tag.case == case]
        if in_case:
            return _nominative_of(_best(in_case, word, case))
    share = _share(parses)
    capitalised = word[:1].isupper()
    if (capitalised and not _sentence_start(tokens, i, text)) or loose:
        accept = True
    elif (cued and case is None) or listed:
        accept = (share >= _CUED_SHARE and any(p.tag.case in _VERB_CASES for p in parses)) or (
            share >= _NAME_SHARE
        )
    else:
        accept = share >= _NAME_SHARE
    if not accept:
        return None
    return _nominative_of(_best(parses, word, None))


def _family_part(token: _Token, gender: str | None, *, after_capital: bool) -> str | None:
    """A patronymic or surname after a first name, in the nominative of the name's gender.

    After a capitalised first name, a capitalised word that is no first name is
    a surname even when it is also a common word ("Павел Сомов").
    """
    word = token.text
    for grammeme in ("Patr", "Surn"):
        parses = _known_name_parses(word, grammeme)
        if grammeme == "Surn" and not word[:1].isupper() and _share(parses) < _NAME_SHARE:
            continue
        if parses:
            fitting = [p for p in parses if gender is None or p.tag.gender == gender]
            parse = max(fitting or parses, key=lambda p: float(p.score))
            inflected = parse.inflect({"nomn", "sing", gender} if gender else {"nomn", "sing"})
            if inflected is None:
                inflected = parse.inflect({"nomn", "sing"})
            return str(inflected.word if inflected is not None else parse.normal_form)
    if word[:1].isupper() and _is_cyrillic(word):
        unknown = not any(p.is_known for p in _parses(word.lower()))
        if unknown or (after_capital and not _known_name_parses(word)):
            return word.lower()  # a surname as written
    return None


def _gender_of(name: str) -> str | None:
    parses = _known_name_parses(name)
    genders = {p.tag.gender for p in parses if p.normal_form == name}
    return genders.pop() if len(genders) == 1 else None


def _russian_people(text: str, *, loose: bool) -> Iterator[Person]:
    tokens = _tokens(text)
    i = 0
    last_end: int | None = None
    while i < len(tokens):
        token = tokens[i]
        if not _is_cyrillic(token.text) or len(token.text) < 2:
            i += 1
            continue
        listed = last_end is not None and bool(_LIST_JOIN.match(text[last_end : token.start]))
        kin = None
        name = _first_name(tokens, i, text, loose=loose, listed=listed)
        if name is None:
            kin = _kinship(token.text)
            if kin is None:
                i += 1
                continue
        start, end = token.start, token.end
        parts = [name or kin or ""]
        j = i + 1
        if kin in _TITLES and j < len(tokens) and _adjacent(text, tokens[j - 1], tokens[j]):
            following = _first_name(tokens, j, text, loose=True, listed=False)
            if following is not None:
                parts.append(following)
                end, j = tokens[j].end, j + 1
        elif name is not None:
            gender = _gender_of(name)
            while j < len(tokens) and len(parts) < 3 and _adjacent(text, tokens[j - 1], tokens[j]):
                family = _family_part(tokens[j], gender, after_capital=token.text[:1].isupper())
                if family is None:
                    break
                parts.append(family)
                end, j = tokens[j].end, j + 1
        yield Person(start, end, _capitalise(" ".join(parts)))
        last_end = end
        i = j


def _adjacent(text: str, a: _Token, b: _Token) -> bool:
    return text[a.end : b.start].strip() == ""


def _english_people(text: str, *, loose: bool) -> Iterator[Person]:
    tokens = _tokens(text)
    loose = loose and not _is_cyrillic(text)  # an English contact line: "plumber dave +44 ..."
    transfer = _EN_TRANSFER.search(text) is not None
    last_end: int | None = None
    for i, token in enumerate(tokens):
        word = token.text
        if not word.isascii() or (not word.isalpha() and "'" not in word and "’" not in word):
            continue
        bare = re.sub(r"(?:'s|’s)$", "", word).lower()
        previous = tokens[i - 1].text.lower() if i else ""
        gap = text[tokens[i - 1].end : token.start] if i else ""
        if previous == "w" and gap.startswith("/"):
            previous = "w/"
        cued = previous in _EN_CUES or (previous == "to" and transfer)
        possessive = bare != word.lower() and previous == "at"
        listed = last_end is not None and bool(_LIST_JOIN.match(text[last_end : token.start]))
        if previous == "my" and bare in KINSHIP_EN:
            cued = True
        if not (cued or possessive or listed or loose):
            continue
        if bare in KINSHIP_EN:
            name = KINSHIP_EN[bare]
        elif bare in NOT_NAMES_EN or len(bare) < 2 or _not_a_name_en(bare):
            continue
        else:
            name = bare.capitalize()
        last_end = token.end
        yield Person(token.start, token.start + len(bare), name)


def _not_a_name_en(word: str) -> bool:
    """Plural role nouns ("investors", "cleaners") and number words ("twenty") are nobody."""
    return word.endswith(("ers", "ors", "ists", "ants", "ents", "ians")) or bool(find_numbers(word))


def find_people(text: str, *, loose: bool = False) -> list[Person]:
    """Every person named in ``text``, in order, each once (compared without case).

    ``loose`` takes any dictionary name reading as a name, for a line that is
    known to name somebody (a contact: "контакт няни гули").
    """
    found = sorted(
        [*_russian_people(text, loose=loose), *_english_people(text, loose=loose)],
        key=lambda p: p.start,
    )
    seen: set[str] = set()
    result: list[Person] = []
    for person in found:
        key = person.name.casefold().replace("ё", "е")
        if key not in seen:
            seen.add(key)
            result.append(person)
    return result
