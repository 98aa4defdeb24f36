"""Search terms, query checks and snippets (superbrain_core.search), and the SQL copy of the rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from superbrain_core import search
from superbrain_core.search import (
    CYRILLIC_LETTERS,
    FOLD_FROM,
    FOLD_TO,
    MAX_QUERY_TERMS,
    UPPER_FROM,
    UPPER_TO,
    HitRow,
    SearchHit,
    SearchQueryError,
    make_hit,
    prepare,
    query_terms,
    snippet,
    terms,
)

SQL = resources.files("superbrain_core.sql").joinpath("0005_search.sql").read_text("utf-8")
TERM = re.compile(f"[0-9a-z{CYRILLIC_LETTERS}]+")


def test_the_sql_folds_and_splits_with_the_same_tables() -> None:
    """The Postgres function must cut and fold text exactly as this module does."""
    found = re.search(r"THEN translate\(w,\s*'([^']*)',\s*'([^']*)'\)", SQL)
    assert found is not None, "translate(w, ...) not found in 0005_search.sql"
    assert (found.group(1), found.group(2)) == (UPPER_FROM, UPPER_TO)
    assert f"CASE WHEN w ~ '[{UPPER_FROM}]'" in SQL
    assert (FOLD_FROM, FOLD_TO) == (UPPER_FROM + "ё", UPPER_TO + "е")
    assert "'ё', 'е')" in SQL
    assert f"'[^0-9A-Za-z{CYRILLIC_LETTERS}]+'" in SQL
    assert f"'[0-9A-Za-z{CYRILLIC_LETTERS}]{{101,}}'" in SQL and search.MAX_TERM_CHARS == 100


def test_russian_forms_share_a_term_and_yo_is_e() -> None:
    assert terms("Встреча, встречу, ВСТРЕЧИ, встречей") == ["встреч"] * 4
    assert terms("Ёлка") == terms("елка") == terms("ЕЛКА")
    assert terms("Перенёс") == terms("перенес")


def test_latin_is_english_digits_stay_mixed_words_are_russian() -> None:
    assert terms("Meetings, meeting; MEET") == ["meet", "meet", "meet"]
    assert terms("2027 v2 15ого") == ["2027", "v2", "15ого"]
    assert terms("iPhoneы") == ["iphoneы"]
    assert terms("budget_2027-v2.xlsx") == ["budget", "2027", "v2", "xlsx"]
    assert terms("Ӏ ѢѢ") == ["ӏ", "ѣѣ"]  # the rest of the Cyrillic block folds too


def test_separators_and_odd_characters() -> None:
    assert terms("a-b \ud83d c😀d — «e» 日本 café") == ["a", "b", "c", "d", "e", "caf"]
    assert terms("") == [] and terms(None) == []
    assert terms("я" * 101 + " слово") == ["слов"]  # a run too long to be a word is skipped


def test_nul_is_dropped_not_a_separator_as_in_postgres() -> None:
    """Postgres stores ``na\\0me`` as ``name``; SQLite must find it by that word too."""
    assert terms("na\x00me.txt про\x00ект") == ["name", "txt", "проект"]
    assert terms("\x00") == [] and terms("a \x00 b") == ["a", "b"]


@given(st.text())
def test_any_text_gives_terms_of_the_alphabet_without_failing(text: str) -> None:
    for term in terms(text):
        assert TERM.fullmatch(term), term


def _terms_folding_first(text: str) -> list[str]:
    """The rule as the module docstring states it: fold the whole text, then cut and stem."""
    words = TERM.findall(search.fold(search.without_nul(text)))
    return [search.stem_word(w) for w in words if len(w) <= search.MAX_TERM_CHARS]


def test_cutting_before_folding_cuts_the_same_runs_for_every_character() -> None:
    """``terms`` cuts words from the text as written and folds each distinct word once;
    that is the same rule only if folding keeps every character on its side of the cut."""
    unfolded = re.compile(f"[0-9A-Za-z{CYRILLIC_LETTERS}]")
    for code in range(0x110000):
        c = chr(code)
        assert bool(unfolded.fullmatch(c)) == bool(TERM.fullmatch(search.fold(c))), hex(code)


@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("ЁёAZaz09Ӏ\x00 ")))
def test_terms_equal_folding_the_whole_text_first(text: str) -> None:
    assert terms(text) == _terms_folding_first(text)
    assert terms(text) == _terms_folding_first(text)  # again, from the cache


def test_queries_need_a_word_and_not_too_many() -> None:
    assert query_terms("встреча ВСТРЕЧУ budget") == ("встреч", "budget")
    for empty in ("", " ", "?!", "😀", '"" * - ()'):
        with pytest.raises(SearchQueryError, match="nothing to search for"):
            query_terms(empty)
    many = " ".join(f"w{n}" for n in range(MAX_QUERY_TERMS + 1))
    with pytest.raises(SearchQueryError, match="at most 32"):
        query_terms(many)
    assert len(query_terms(" ".join(f"w{n}" for n in range(MAX_QUERY_TERMS)))) == MAX_QUERY_TERMS


@pytest.mark.parametrize(
    "query", ["-молоко", "купить -молоко", "купить --молоко", "(-молоко)", "купить\n-Молоко"]
)
def test_a_word_with_a_leading_minus_is_refused(query: str) -> None:
    with pytest.raises(SearchQueryError, match="excluding words is not supported"):
        query_terms(query)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("Wi-Fi", ("wi", "fi")),
        ("что-то", ("что", "то")),
        ("встреча - завтра", ("встреч", "завтр")),
        ("встреча-", ("встреч",)),
    ],
)
def test_a_hyphen_inside_or_between_words_only_separates(
    query: str, found: tuple[str, ...]
) -> None:
    assert query_terms(query) == found


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 2.5}, "limit"),
        ({"since": datetime(2026, 1, 1)}, "since has no time zone"),
        ({"until": datetime(2026, 1, 1)}, "until has no time zone"),
        ({"query": b"bytes"}, "must be text"),
    ],
)
def test_prepare_refuses_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"query": "встреча", "limit": 50, "since": None, "until": None}
    arguments.update(kwargs)
    with pytest.raises(SearchQueryError, match=message):
        prepare(**arguments)  # type: ignore[arg-type]


def test_prepare_accepts_aware_dates() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert prepare("встреча", 1000, when, when) == ("встреч",)


def test_a_short_text_is_shown_whole_with_every_match_marked() -> None:
    cut = snippet("Встреча,\n\tвстречу  и\x00 встречи", frozenset({"встреч"}))
    assert cut.text == "Встреча, встречу и встречи"
    assert [cut.text[a:b] for a, b in cut.highlights] == ["Встреча", "встречу", "встречи"]


def test_a_long_text_is_cut_around_the_first_match_at_word_boundaries() -> None:
    text = " ".join(f"слово{n}" for n in range(60)) + " бюджет проекта " + "хвост " * 60
    cut = snippet(text, frozenset({"бюджет"}))
    assert cut.text.startswith("…слово") and cut.text.endswith("…")
    assert len(cut.text) <= search.SNIPPET_CHARS + 2
    (start, end), *_ = cut.highlights
    assert cut.text[start:end] == "бюджет"
    assert " слово" not in cut.text[:3]  # no half word after the ellipsis
    assert snippet(None, frozenset({"x"})).text == ""


def test_a_text_without_a_match_starts_at_its_beginning() -> None:
    cut = snippet("a " * 200, frozenset({"zzz"}))
    assert cut.text.startswith("a a") and cut.text.endswith("…") and cut.highlights == ()


def _row(**changes: object) -> HitRow:
    fields: dict[str, object] = {
        "chat_id": 1,
        "message_id": 2,
        "date": datetime(2026, 1, 1, tzinfo=UTC),
        "message_type": "document",
        "text": "Протокол встречи",
        "text_matches": False,
        "source": "bot",
        "version": 1,
        "raw_message_id": 9,
        "file_names": ("scan.pdf", "meeting-notes.pdf"),
        "destination": None,
        "record_id": None,
    }
    fields.update(changes)
    return HitRow(**fields)  # type: ignore[arg-type]


def test_a_hit_found_in_a_file_name_shows_that_name() -> None:
    hit = make_hit(_row(), frozenset({"протокол", "note"}))
    assert (hit.matched_in, hit.snippet) == ("file", "meeting-notes.pdf")
    assert hit.marked("<", ">") == "meeting-<notes>.pdf"
    text_hit = make_hit(_row(text_matches=True), frozenset({"встреч"}))
    assert (text_hit.matched_in, text_hit.marked()) == ("message", "Протокол [встречи]")


def test_a_file_name_with_nul_is_matched_and_shown_without_it() -> None:
    hit = make_hit(_row(file_names=("scan.pdf", "na\x00me.txt")), frozenset({"name"}))
    assert (hit.matched_in, hit.marked()) == ("file", "[name].txt")
    assert hit.file_names == ("scan.pdf", "name.txt")


def test_marked_wraps_each_highlight() -> None:
    hit = SearchHit(
        chat_id=1,
        message_id=1,
        date=datetime(2026, 1, 1, tzinfo=UTC),
        message_type="text",
        snippet="a bb c bb",
        highlights=((2, 4), (7, 9)),
        matched_in="message",
        source="bot",
        version=1,
        raw_message_id=1,
    )
    assert hit.marked() == "a [bb] c [bb]"
    assert hit.marked("**", "**") == "a **bb** c **bb**"
