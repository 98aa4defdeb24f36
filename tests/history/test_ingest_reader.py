"""The input shapes `superbrain ingest` accepts, and exact error locations for bad input."""

from __future__ import annotations

import json

import pytest

from superbrain_core.demo.samples import make_update
from superbrain_core.errors import InputError, NotAnUpdateError
from superbrain_core.history.ingest import iter_json_values

U1, U2, U3 = (make_update(i, message_id=i, text=f"сообщение {i}") for i in (1, 2, 3))


def ids(text: str) -> list[int]:
    return [v.value["update_id"] for v in iter_json_values(text, "f.json")]


def test_single_update_object() -> None:
    assert ids(json.dumps(U1, ensure_ascii=False, indent=2)) == [1]


def test_array_of_updates() -> None:
    assert ids(json.dumps([U1, U2, U3])) == [1, 2, 3]
    assert ids("  [ ]  ") == []


def test_get_updates_envelope_in_both_key_orders() -> None:
    assert ids(json.dumps({"ok": True, "result": [U1, U2]}, indent=1)) == [1, 2]
    assert ids(json.dumps({"result": [U1, U2], "ok": True})) == [1, 2]


def test_json_lines_and_concatenated_objects() -> None:
    lines = "\n".join(json.dumps(u, ensure_ascii=False) for u in (U1, U2, U3)) + "\n"
    assert ids(lines) == [1, 2, 3]
    assert ids("\ufeff" + json.dumps(U1) + json.dumps(U2)) == [1, 2]


def test_offsets_point_at_each_value() -> None:
    text = json.dumps(U1) + "\n" + json.dumps(U2)
    offsets = [v.offset for v in iter_json_values(text)]
    assert offsets == [0, len(json.dumps(U1)) + 1]


def collect_until_error(text: str) -> tuple[list[int], InputError]:
    got: list[int] = []
    with pytest.raises(InputError) as info:
        for v in iter_json_values(text, "updates.jsonl"):
            got.append(v.value["update_id"])
    return got, info.value


def test_bad_line_in_json_lines_names_file_line_and_column() -> None:
    text = json.dumps(U1) + "\n" + json.dumps(U2) + "\n{not json}\n" + json.dumps(U3)
    got, err = collect_until_error(text)
    assert got == [1, 2], "values before the bad line are delivered first"
    assert (err.source, err.line, err.column) == ("updates.jsonl", 3, 2)
    assert str(err).startswith("updates.jsonl:3:2")


def test_truncated_array_reports_truncation_after_the_good_elements() -> None:
    text = json.dumps([U1, U2, U3], indent=2)
    cut = text[: text.index('"update_id": 3') + 8]
    got, err = collect_until_error(cut)
    assert got == [1, 2]
    assert "truncated" in err.reason
    assert err.offset is not None and err.offset >= text.index('"update_id": 3') - 10


def test_truncated_envelope_keeps_what_came_before() -> None:
    text = json.dumps({"ok": True, "result": [U1, U2, U3]})
    got, err = collect_until_error(text[:-30])
    assert got == [1, 2]
    assert "truncated" in err.reason


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty input"),
        ("   \n", "empty input"),
        ("42", "expected a JSON object or array"),
        ('"hello"', "expected a JSON object or array"),
        ("[1 2]", "expected ',' or ']'"),
        ('{"ok": true, "result": []} trailing', "unexpected content after"),
        ("[] []", "unexpected content after"),
    ],
)
def test_malformed_inputs(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        list(iter_json_values(text, "x.json"))


@pytest.mark.anyio
async def test_object_that_is_not_an_update_is_located(sqlite_store) -> None:  # type: ignore[no-untyped-def]
    from superbrain_core.capture import Capturer
    from superbrain_core.history.ingest import ingest_text

    text = json.dumps(U1) + "\n" + json.dumps({"hello": "world"}) + "\n" + json.dumps(U3)
    with pytest.raises(NotAnUpdateError) as info:
        await ingest_text(Capturer(sqlite_store), text, "mixed.jsonl")
    assert (info.value.line, info.value.column) == (2, 1)
    assert "update_id" in str(info.value) and "mixed.jsonl:2:1" in str(info.value)
    assert await sqlite_store.get_update(1) is not None, "the update before the error is stored"
    assert await sqlite_store.get_update(3) is None
