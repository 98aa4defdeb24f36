"""jsonutil: orjson on the hot paths, the standard library for what orjson refuses or
would write differently, so stored text is the same whichever encoder ran."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from superbrain_core import jsonutil

_STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"id": 2**64},  # past 64 bits: orjson refuses
        {"id": -(2**63) - 1},
        {"text": "half a pair \ud83d alone"},  # a lone surrogate: orjson refuses
        {"nan": math.nan, "inf": math.inf, "ninf": -math.inf},  # orjson writes null
        {"none": None, "deep": [{"x": [1.5, math.inf]}]},  # a real null beside a hidden one
        [None, [2.5, -math.inf]],
        {"lat": 1e-07, "small": 1e-05, "tiny": -3.2e-06},  # orjson writes 1e-7, 0.00001
        {1: "int key", None: "none key"},  # non-string keys: orjson refuses
        _nested(300),  # past orjson's nesting limit
        {"none": None, "text": 'привет \u2028 \x00 \x1f \x7f "q" \\'},
    ],
)
def test_dumps_matches_the_standard_library_where_orjson_cannot(value: Any) -> None:
    text = jsonutil.dumps(value)
    stdlib = _STDLIB.encode(value)
    if jsonutil._SURROGATE.search(stdlib):
        assert text == json.dumps(value, separators=(",", ":"))  # the ASCII fallback
    else:
        assert text == stdlib
    loaded = json.loads(text)
    if isinstance(value, dict) and "nan" in value:
        assert math.isnan(loaded["nan"]) and loaded["inf"] == math.inf
    elif isinstance(value, dict) and 1 in value:
        assert loaded == {"1": "int key", "null": "none key"}
    else:
        assert loaded == value


def test_the_fast_path_is_taken_for_ordinary_updates() -> None:
    value = {"update_id": 1, "message": {"text": "купить молоко", "date": 1700000000}}
    assert jsonutil._fast(value) == _STDLIB.encode(value)


def test_the_fast_path_is_taken_for_values_with_nulls() -> None:
    """A classification has a dozen ``None`` fields: a real null must not cost the slow path."""
    value = {"type": "task", "due_at": None, "people": [], "confidence": 0.9, "n": [None, 1]}
    assert jsonutil._fast(value) == _STDLIB.encode(value)
    assert jsonutil._fast({"due_at": None, "x": [0.5, math.nan]}) is None


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 18446744073709551616}',  # orjson would decode a float
        '{"id": -9223372036854775809}',
        '{"id": 123456789012345678901234567890}',
        '{"text": "\\ud83d alone"}',  # orjson refuses a lone surrogate escape
        '{"x": NaN, "y": Infinity, "z": -Infinity}',
        '{"big": 1e400}',  # orjson refuses a float past a double
    ],
)
def test_loads_matches_the_standard_library_where_orjson_cannot(text: str) -> None:
    got = jsonutil.loads(text)
    want = json.loads(text)
    assert repr(got) == repr(want)  # repr: NaN != NaN, and 2**64 must stay an int
    assert repr(jsonutil.loads(text.encode("utf-8"))) == repr(want)


def test_loads_past_orjsons_nesting_limit_is_the_standard_librarys_answer() -> None:
    text = "[" * 1100 + "1" + "]" * 1100  # orjson refuses; so does json, as before
    with pytest.raises(RecursionError):
        jsonutil.loads(text)
    assert jsonutil.loads("[" * 900 + "1" + "]" * 900) == json.loads("[" * 900 + "1" + "]" * 900)


def test_loads_bytes_in_utf16_falls_back() -> None:
    assert jsonutil.loads('{"a": "б"}'.encode("utf-16")) == {"a": "б"}


def test_loads_errors_are_the_standard_librarys() -> None:
    with pytest.raises(json.JSONDecodeError, match="Expecting"):
        jsonutil.loads('{"a": ')


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_json)
def test_dumps_is_the_standard_librarys_text(value: Any) -> None:
    text = jsonutil.dumps(value)
    stdlib = _STDLIB.encode(value)
    if jsonutil._SURROGATE.search(stdlib):
        assert text == json.dumps(value, separators=(",", ":"))
    else:
        assert text == stdlib
    assert repr(jsonutil.loads(text)) == repr(json.loads(text))


@given(_json)
def test_the_readable_encoder_is_the_standard_librarys(value: Any) -> None:
    """Postgres payloads (storage/pgsql/codec.py) keep lone surrogates for their own escaping."""
    assert jsonutil.READABLE.encode(value) == _STDLIB.encode(value)
