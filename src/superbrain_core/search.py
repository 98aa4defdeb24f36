"""Full-text search: what a searchable word is, how it is stemmed, and how a hit looks.

Every backend indexes the same *terms*: the text is folded (Latin and Cyrillic
upper case to lower case, ``ё`` to ``е``), cut into runs of Latin letters,
Cyrillic letters and ASCII digits, and each run is stemmed with Snowball:

* a run with a digit is kept as it is (``2024``, ``15ого``: numbers are not words);
* a run of Latin letters only goes through the English stemmer (``meetings`` → ``meet``);
* anything else (Cyrillic, or Cyrillic mixed with Latin) through the Russian one
  (``встречу``, ``встречи`` → ``встреч``).

NUL is dropped before cutting (``na\\0me`` is ``name``): Postgres cannot store
it, so capture there removes it from text columns, and SQLite, which keeps it,
must read the text the same way or a word with a NUL inside would be found on
one backend only. Everything else (punctuation, emoji, other scripts, lone
surrogates) separates words and never reaches a stemmer, so odd text cannot
make indexing fail. There are no stop words: "не" and "the" are searchable, and both backends
agree on that without shipping word lists.

The rule is written twice, here for SQLite (PyStemmer) and in
``sql/0005_search.sql`` for Postgres (a text search configuration over
Snowball dictionaries without stop words), because a Postgres trigger cannot
call Python and SQLite has no stemmer. The folding table is generated here and pasted into the
SQL; ``tests/unit/test_search_text.py`` fails if the two drift apart. The
Snowball versions differ slightly (PyStemmer ships a newer one), so a rare word
may stem differently on the two backends; the search on each backend is
consistent with its own index either way.

A query means "every term": a message matches when its newest version's text
and its files' names together contain each query term. Query syntax characters
(quotes, ``*``, ``NEAR``, ``OR``) are ordinary separators or words, so user
input can never be a syntax error. One exception: a word written with a minus
in front (``-молоко``, at the start of the query or after a space) reads as
"without this word" in every search engine, and searching for it instead would
return exactly what was asked to leave out; excluding is not supported (the
Postgres search function has no way to say it), so such a query is refused
with :class:`SearchQueryError` on every backend alike. A hyphen inside a word
(``Wi-Fi``, ``что-то``) or a dash between words (``встреча - завтра``) is a
separator as before. Snippets are computed here from the stored text, so they
are the same on every backend, and so is their one safety rule: a secret in
the text (a password, PIN, card number, door or one-time code, found by the
analyzer's secrets reader, :mod:`superbrain_core.analyzer.classify.extract.secrets`)
is masked before the snippet is cut, so a search never shows it, whichever
word was searched for (the secret itself included).
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from typing import Literal

import attrs
import Stemmer  # type: ignore[import-not-found]  # PyStemmer ships no type hints

from superbrain_core.errors import SuperbrainError

#: Longer runs (base64, hashes, URLs glued together) are not words anyone types.
MAX_TERM_CHARS = 100
#: A query with more words than this is refused rather than run as a slow scan.
MAX_QUERY_TERMS = 32
#: Results per call; also PostgREST's default cap on a function's rows.
MAX_LIMIT = 1000
#: Characters of context in a snippet.
SNIPPET_CHARS = 160

MatchedIn = Literal["message", "file"]


class SearchQueryError(SuperbrainError, ValueError):
    """The query cannot be searched (no searchable word, too many words, a bad limit)."""


def _upper_table() -> tuple[str, str]:
    """Upper → lower for ASCII and the Cyrillic block (``Ё`` straight to ``е``).

    An explicit table rather than ``lower()``: Postgres lowercases Cyrillic only
    in a UTF-8 locale (a database with ``C`` collation leaves ``ВСТРЕЧА`` as it
    is), so the SQL applies this table wherever upper case is left over.
    """
    pairs = {chr(c): chr(c).lower() for c in range(ord("A"), ord("Z") + 1)}
    for code in range(0x0400, 0x0500):
        upper = chr(code)
        lower = upper.lower()
        if lower != upper and len(lower) == 1:
            pairs[upper] = lower
    pairs["Ё"] = "е"
    return "".join(pairs), "".join(pairs.values())


UPPER_FROM, UPPER_TO = _upper_table()
#: The whole folding: upper case down, and ``ё`` to ``е``.
FOLD_FROM, FOLD_TO = UPPER_FROM + "ё", UPPER_TO + "е"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)
#: Letters of the Cyrillic block (U+0482..U+0489 are signs and combining marks).
CYRILLIC_LETTERS = "\u0400-\u0481\u048a-\u04ff"
_WORD = re.compile(f"[0-9a-z{CYRILLIC_LETTERS}]+")
#: The same runs cut from text not yet folded: folding maps every letter of this
#: class into :data:`_WORD`'s and touches nothing outside it, so the runs are the
#: same ones, and each distinct spelling is folded and stemmed once (``str.translate``
#: over a whole Cyrillic text was most of the indexing time).
_UNFOLDED_WORD = re.compile(f"[0-9A-Za-z{CYRILLIC_LETTERS}]+")
_DIGIT = re.compile("[0-9]")
_LATIN = re.compile("[a-z]+")
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")
#: A word with minus signs straight before it, at the start, after a space or an
#: opening quote or bracket.
_NEGATED = re.compile(rf"(?:^|[\s\"'(\[«])-+([0-9A-Za-z{CYRILLIC_LETTERS}]+)")


#: Words whose terms each thread remembers (about 10 MB at most); past it, it starts over.
_TERM_CACHE = 100_000


class _Stemmers(threading.local):
    """PyStemmer objects are not safe to share between threads; one pair per thread,
    with the terms of words already seen, keyed by the word as written (text repeats
    its words: indexing a bulk import folds and stems each distinct word once
    instead of every occurrence)."""

    def __init__(self) -> None:
        self.english = Stemmer.Stemmer("english")
        self.russian = Stemmer.Stemmer("russian")
        self.terms: dict[str, str] = {}


_stemmers = _Stemmers()


def fold(text: str) -> str:
    """``text`` with the folding applied; same length, so offsets carry over."""
    return text.translate(_FOLD)


def without_nul(text: str) -> str:
    """``text`` without NUL, as a Postgres text column holds it (see the module docstring)."""
    return text.replace("\x00", "") if "\x00" in text else text


def stem_word(word: str) -> str:
    """The term for one folded word (see the module docstring for the rule)."""
    if _DIGIT.search(word):
        return word
    if _LATIN.fullmatch(word):
        return str(_stemmers.english.stemWord(word))
    return str(_stemmers.russian.stemWord(word))


def terms(text: str | None) -> list[str]:
    """The index terms of ``text``, in order, repeats kept (empty for no text)."""
    if not text:
        return []
    words = _UNFOLDED_WORD.findall(without_nul(text))
    known = _stemmers.terms
    try:
        return [known[word] for word in words]  # every word seen before: the usual case
    except KeyError:
        pass
    found = []
    for word in words:
        term = known.get(word)
        if term is None:
            if len(word) > MAX_TERM_CHARS:
                continue
            term = stem_word(fold(word))
            if len(known) >= _TERM_CACHE:
                known.clear()
            known[word] = term
        found.append(term)
    return found


def index_text(text: str | None) -> str:
    """``terms`` joined by spaces: what the SQLite full-text table stores."""
    return " ".join(terms(text))


def query_terms(query: str) -> tuple[str, ...]:
    """The distinct terms of a query, in order; a :class:`SearchQueryError` if none.

    Every term must occur in a message for it to match. A word with a leading
    ``-`` (``-молоко``: "without молоко" elsewhere) is refused, not searched for.
    """
    negated = _NEGATED.search(without_nul(query))
    if negated is not None:
        word = negated.group(1)[:40]
        raise SearchQueryError(
            f"'-{word}': excluding words is not supported; a search finds messages that"
            f" contain every word of the query. Leave the word out, or drop the '-' to"
            f" search for {word!r}"
        )
    found = tuple(dict.fromkeys(terms(query)))
    if not found:
        shown = query if len(query) <= 60 else query[:57] + "…"
        raise SearchQueryError(
            f"nothing to search for in {shown!r}: a query needs at least one word"
            " of Latin or Cyrillic letters or digits"
        )
    if len(found) > MAX_QUERY_TERMS:
        raise SearchQueryError(
            f"the query has {len(found)} different words; at most {MAX_QUERY_TERMS} are searched"
        )
    return found


def prepare(
    query: str, limit: int, since: datetime | None, until: datetime | None
) -> tuple[str, ...]:
    """Check a search call's arguments the same way on every backend; the query's terms.

    Raises :class:`SearchQueryError` before any backend is asked, so bad input
    never reaches SQL.
    """
    if not isinstance(query, str):
        raise SearchQueryError(f"the query must be text, got {type(query).__name__}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise SearchQueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise SearchQueryError(f"{name} has no time zone: pass an aware datetime")
    return query_terms(query)


@attrs.frozen
class Snippet:
    """A stretch of text around the first match; ``highlights`` are ``(start, end)``
    offsets of matching words in ``text``."""

    text: str
    highlights: tuple[tuple[int, int], ...] = ()


def snippet(text: str | None, wanted: frozenset[str], *, width: int = SNIPPET_CHARS) -> Snippet:
    """The part of ``text`` to show for a hit, with the words whose term is wanted marked.

    Whitespace and control characters become single spaces first (a snippet is
    one line). The window starts a little before the first matching word, at a
    word boundary, and ``…`` marks cut ends.
    """
    clean = _SPACE.sub(" ", without_nul(text or "")).strip()
    if not clean:
        return Snippet("")
    matches = [
        (m.start(), m.end())
        for m in _WORD.finditer(fold(clean))
        if len(m.group()) <= MAX_TERM_CHARS and stem_word(m.group()) in wanted
    ]
    start = 0
    if matches and len(clean) > width:
        start = max(0, matches[0][0] - width // 3)
        if start > 0:
            space = clean.find(" ", start, matches[0][0])
            start = space + 1 if space != -1 else start
    end = min(len(clean), start + width)
    if end < len(clean):
        space = clean.rfind(" ", start, end)
        if space > start + width // 2:
            end = space
    # ``start`` is 0 or just after a space, so only the right end may need trimming.
    segment = clean[start:end].rstrip()
    prefix = "…" if start > 0 else ""
    shown = prefix + segment + ("…" if end < len(clean) else "")
    shift = len(prefix) - start
    highlights = tuple(
        (a + shift, b + shift) for a, b in matches if a >= start and b <= start + len(segment)
    )
    return Snippet(shown, highlights)


@attrs.frozen
class SearchHit:
    """One message that matches a query, shown with its newest version.

    ``date`` is Telegram's date of the message (UTC; an edit keeps it).
    ``matched_in`` is ``message`` when the text alone holds every query term and
    ``file`` otherwise (a file name holds some or all of them); the snippet is
    cut from that text or from the first file name that matches. ``destination``
    and ``record_id`` say where the analyzer filed the message now: its current
    ``routing_log`` entry, or for a clarification that has none of its own, the
    entry of the earliest stored message of its chain (what it is filed under);
    ``None`` before it has been analyzed. ``file_names`` are shown without NUL,
    as Postgres stores them, so a hit is the same on every backend.
    """

    chat_id: int
    message_id: int
    date: datetime
    message_type: str
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    matched_in: MatchedIn
    source: str
    version: int
    raw_message_id: int
    file_names: tuple[str, ...] = ()
    destination: str | None = None
    record_id: int | None = None
    from_bot: bool = False
    """The bot's own message (``source`` is then ``bot_response`` and ``raw_message_id``
    the newest ``bot_responses`` row of it); it is never filed by the analyzer."""

    def marked(self, before: str = "[", after: str = "]") -> str:
        """The snippet with each highlighted word wrapped, for plain-text output."""
        out, last = [], 0
        for start, end in self.highlights:
            out += [self.snippet[last:start], before, self.snippet[start:end], after]
            last = end
        out.append(self.snippet[last:])
        return "".join(out)


@attrs.frozen
class HitRow:
    """What a backend's query returns for one hit, before the snippet is cut."""

    chat_id: int
    message_id: int
    date: datetime
    message_type: str
    text: str | None
    text_matches: bool
    source: str
    version: int
    raw_message_id: int
    file_names: tuple[str, ...]
    destination: str | None
    record_id: int | None
    from_bot: bool = False


def make_hit(row: HitRow, wanted: frozenset[str]) -> SearchHit:
    """A :class:`SearchHit` from a backend row: the one place snippets are made."""
    matched_in: MatchedIn = "message" if row.text_matches else "file"
    # Names as every backend holds them: SQLite keeps a NUL that Postgres drops.
    names = tuple(without_nul(n) for n in row.file_names)
    source_text = row.text
    if matched_in == "file":
        named = [n for n in names if wanted & set(terms(n))]
        source_text = named[0] if named else (names[0] if names else None)
    cut = snippet(masked(source_text), wanted)
    return SearchHit(
        chat_id=row.chat_id,
        message_id=row.message_id,
        date=row.date,
        message_type=row.message_type,
        snippet=cut.text,
        highlights=cut.highlights,
        matched_in=matched_in,
        source=row.source,
        version=row.version,
        raw_message_id=row.raw_message_id,
        file_names=names,
        destination=row.destination,
        record_id=row.record_id,
        from_bot=row.from_bot,
    )


def masked(text: str | None) -> str | None:
    """``text`` with every secret in it masked, as the digest and titles show it.

    Imported on first use: the reader lives with the analyzer's extraction
    layer (one definition of a secret for the whole product), and a process
    that never searches (the bot's capture path, ``ingest``) must not pay
    for importing it.
    """
    if not text:
        return text
    from superbrain_core.analyzer.classify.extract import secrets

    found = secrets.scan(text).secrets
    return secrets.mask(text, found) if found else text
