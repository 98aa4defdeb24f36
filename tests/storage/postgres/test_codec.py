"""The reversible escape that lets Postgres hold what Telegram sends (no server needed).

Postgres refuses NUL and lone surrogates in text and jsonb; the escape must map
every JSON value to one Postgres accepts and back to exactly the original,
including values that already contain the escape mark.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from superbrain_core.storage.pgsql.codec import (
    ESCAPE_MARK,
    NUMBER_MARK,
    clean,
    dumps_raw,
    escape_json,
    loads_raw,
    unescape_json,
)

nasty_char = st.sampled_from(["\x00", "\ud83d", "\udc00", "\ue000", "\\", '"', "\u202e", "😀"])
nasty_text = st.lists(
    st.one_of(
        st.text(
            alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF),
            max_size=8,
        ),
        nasty_char,
        st.sampled_from([ESCAPE_MARK, ESCAPE_MARK + "a\\u0000", "esc:", "\\u0000"]),
    ),
    max_size=6,
).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | nasty_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(nasty_text, children, max_size=4)
    ),
    max_leaves=20,
)


def storable(text: str) -> bool:
    """What Postgres's jsonb input accepts: no NUL escape, no lone surrogate."""
    if "\\u0000" in text.replace("\\\\", ""):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(value=json_values)
def test_escape_round_trips_exactly(value: Any) -> None:
    assert unescape_json(escape_json(value)) == value
    text = dumps_raw(value)
    assert storable(text), text
    assert loads_raw(text) == value


@settings(max_examples=300, deadline=None)
@given(a=nasty_text, b=nasty_text)
def test_escape_is_injective(a: str, b: str) -> None:
    """Distinct strings never escape to the same string (so object keys never merge)."""
    if a != b:
        assert escape_json(a) != escape_json(b)


def test_strings_that_merely_look_escaped_round_trip() -> None:
    for value in [ESCAPE_MARK, ESCAPE_MARK + "a\\u0000", ESCAPE_MARK + '"', ESCAPE_MARK * 2]:
        stored = dumps_raw({value: [value]})
        assert loads_raw(stored) == {value: [value]}
        assert json.loads(stored) != {value: [value]}, "stored escaped, not verbatim"


def test_clean_values_are_stored_verbatim_and_untouched() -> None:
    value = {"text": "Купить хлеб 😀", "n": [1, 2.5, None, True]}
    assert dumps_raw(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert escape_json(value) == value
    assert loads_raw('{"a":"\\\\u0000"}') == {"a": "\\u0000"}, "a literal backslash-u stays"


def test_text_columns_lose_nul_and_lone_surrogates_only() -> None:
    assert clean("a\x00b\ud83dc😀") == "ab\ufffdc😀"
    assert clean(None) is None
    assert clean(ESCAPE_MARK + "x") == ESCAPE_MARK + "x", "text columns are never escaped"


def test_numbers_json_cannot_spell_round_trip_through_a_storable_form() -> None:
    """NaN and the infinities (Python's JSON reader accepts them, jsonb does not) and
    integers past 64 bits: stored, read back as they were (issue 15 point 8)."""
    value = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "big": 2**70, "k": [1e308]}
    text = dumps_raw(value)
    assert storable(text) and "NaN" not in text.replace("num:NaN", "")
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} reached the database"))
    back = loads_raw(text)
    assert math.isnan(back["nan"]) and back["inf"] == math.inf and back["ninf"] == -math.inf
    assert back["big"] == 2**70 and back["k"] == [1e308]
    looks_like_one = {NUMBER_MARK + "NaN": NUMBER_MARK + "Infinity"}
    assert loads_raw(dumps_raw(looks_like_one)) == looks_like_one, "a string stays a string"
