"""`superbrain ingest` streams its input: identical results whatever the chunk
boundaries, exact error locations across them, and hostile values (deep nesting,
numbers past 64 bits, bytes that are not UTF-8) as located input errors."""

from __future__ import annotations

import io
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.demo.samples import make_update
from superbrain_core.errors import InputError, NotAnUpdateError
from superbrain_core.history import ingest as ingest_module
from superbrain_core.history.ingest import (
    MAX_DEPTH,
    ingest_paths,
    ingest_stream,
    ingest_text,
    iter_json_stream,
    iter_json_values,
)
from superbrain_core.storage.sqlite.store import SqliteStore
from superbrain_core.telegram import normalize_update

# Cyrillic (2 bytes), an emoji (4 bytes), escaped quotes and brackets inside strings:
# every kind of place a chunk boundary can fall badly.
UPDATES = [
    make_update(i, message_id=i, text=f'заметка {i} 😀 "в кавычках" [x] {{y}} \\ конец')
    for i in range(1, 5)
]


def shapes() -> dict[str, str]:
    lines = [json.dumps(u, ensure_ascii=False) for u in UPDATES]
    return {
        "object": json.dumps(UPDATES[0], ensure_ascii=False, indent=2),
        "array": json.dumps(UPDATES, ensure_ascii=False),
        "array_crlf": json.dumps(UPDATES, ensure_ascii=False, indent=2).replace("\n", "\r\n"),
        "envelope": json.dumps({"ok": True, "result": UPDATES}, ensure_ascii=False, indent=1),
        "envelope_other_order": json.dumps({"result": UPDATES, "ok": True}, ensure_ascii=False),
        "json_lines": "\n".join(lines) + "\n",
        "json_lines_crlf": "\r\n".join(lines) + "\r\n",
        "json_lines_blank_lines": "\n\n".join(lines),
        "concatenated": "".join(json.dumps(u, ensure_ascii=False, indent=1) for u in UPDATES),
        "bom": "\ufeff" + json.dumps(UPDATES, ensure_ascii=False),
        "numbers_array": "[1, 2.5e10, -3, 12345678901234567890, true, null, 0.000001]",
    }


class Pieces(io.RawIOBase):
    """A binary stream that hands out its bytes cut exactly where told."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        bounds = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
        self._pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if not self._pieces:
            return b""
        piece = self._pieces.pop(0)
        if size is not None and 0 <= size < len(piece):
            self._pieces.insert(0, piece[size:])
            piece = piece[:size]
        return piece


def outcome(values: Iterator[Any]) -> list[Any]:
    """Every value with its place, then the error (if any) with its place."""
    got: list[Any] = []
    try:
        for v in values:
            got.append((v.value, v.offset, v.line, v.column))
    except InputError as exc:
        got.append(("error", exc.reason, exc.line, exc.column, exc.offset))
    return got


def streamed(text: str, *, chunk_size: int = 1 << 20, cuts: list[int] | None = None) -> list[Any]:
    data = text.encode("utf-8")
    raw = Pieces(data, cuts) if cuts is not None else io.BytesIO(data)
    return outcome(iter_json_stream(raw, "f.json", chunk_size=chunk_size))


def in_memory(text: str) -> list[Any]:
    return outcome(iter_json_values(text, "f.json"))


@pytest.mark.parametrize("shape", sorted(shapes()))
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7, 64, 1 << 20])
def test_every_shape_streams_like_it_reads_in_memory(shape: str, chunk_size: int) -> None:
    text = shapes()[shape]
    expected = in_memory(text)
    assert expected and expected[-1][0] != "error"
    assert streamed(text, chunk_size=chunk_size) == expected


@pytest.mark.parametrize("shape", ["array_crlf", "json_lines_crlf", "envelope", "concatenated"])
def test_a_boundary_at_every_single_byte(shape: str) -> None:
    text = shapes()[shape]
    expected = in_memory(text)
    for cut in range(1, len(text.encode("utf-8"))):
        assert streamed(text, cuts=[cut]) == expected, f"cut at byte {cut}"


def test_awkward_boundaries_named() -> None:
    text = shapes()["json_lines_crlf"]
    data = text.encode("utf-8")
    inside_string = data.index("заметка 2".encode())
    inside_cyrillic = inside_string + 1  # between the two bytes of "з"
    emoji = data.index("😀".encode())
    inside_emoji = [emoji + 1, emoji + 2, emoji + 3]
    between_cr_lf = data.index(b"\r\n") + 1
    inside_escape = data.index(b'\\"') + 1
    cuts = [inside_cyrillic, *inside_emoji, between_cr_lf, inside_escape]
    assert streamed(text, cuts=cuts) == in_memory(text)
    got = streamed(text, cuts=cuts)
    assert [g[0]["update_id"] for g in got] == [1, 2, 3, 4]
    assert [(g[2], g[3]) for g in got] == [(1, 1), (2, 1), (3, 1), (4, 1)]


def test_values_carry_line_and_column() -> None:
    json_lines = '  {"update_id": 1}\n\n{"update_id": 2}\r\n {"update_id": 3}'
    got = [(v.line, v.column, v.offset) for v in iter_json_values(json_lines)]
    assert got == [(1, 3, 2), (3, 1, 20), (4, 2, 39)]
    concatenated = '{\n "update_id": 1}  {"update_id": 2}\n\n   {"update_id": 3}'
    got = [(v.line, v.column, v.offset) for v in iter_json_values(concatenated)]
    assert got == [(1, 1, 0), (2, 19, 20), (4, 4, 41)]


# -- errors: the same place, wherever the chunks end ----------------------------------


def bad_inputs() -> dict[str, str]:
    lines = [json.dumps(u, ensure_ascii=False) for u in UPDATES]
    array = json.dumps(UPDATES, ensure_ascii=False, indent=2).replace("\n", "\r\n")
    envelope = json.dumps({"ok": True, "result": UPDATES}, ensure_ascii=False)
    return {
        "bad_line": "\n".join([*lines[:2], "{not json}", *lines[2:]]),
        "line_cut_short": "\r\n".join([*lines[:2], '{"update_id": 99, "message": ', *lines[2:]]),
        "last_line_cut_short": "\n".join(lines)[:-25],
        "truncated_array": array[: array.index('"update_id": 3') + 8],
        "truncated_in_a_string": array[: array.index("заметка 3") + 4],
        "truncated_envelope": envelope[:-30],
        "junk_between_elements": array.replace("},\r\n", "} x\r\n", 1),
        "unclosed_envelope": envelope[:-1] + "]",
        "trailing_content": json.dumps(UPDATES, ensure_ascii=False) + "\n  trailing",
        "empty": " \r\n ",
        "not_json_at_all": "hello",
    }


@pytest.mark.parametrize("name", sorted(bad_inputs()))
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 100, 1 << 20])
def test_errors_are_located_identically_across_chunks(name: str, chunk_size: int) -> None:
    text = bad_inputs()[name]
    expected = in_memory(text)
    assert expected[-1][0] == "error"
    assert streamed(text, chunk_size=chunk_size) == expected


def test_error_locations_are_exact() -> None:
    inputs = bad_inputs()
    bad_line = streamed(inputs["bad_line"], chunk_size=5)
    assert [v[0]["update_id"] for v in bad_line[:-1]] == [1, 2]
    _, reason, line, column, offset = bad_line[-1]
    assert (line, column) == (3, 2) and "invalid JSON line" in reason
    assert offset == inputs["bad_line"].index("{not json}") + 1

    cut = streamed(inputs["line_cut_short"], chunk_size=3)
    assert cut[-1][2] == 3, "the line cut short is named, not the next one"

    truncated = streamed(inputs["truncated_in_a_string"], chunk_size=4)
    assert [v[0]["update_id"] for v in truncated[:-1]] == [1, 2]
    assert "truncated" in truncated[-1][1]

    last = streamed(inputs["last_line_cut_short"], chunk_size=2)
    assert last[-1][2] == 4 and "truncated" in last[-1][1]


def test_not_utf8_is_located_by_byte_and_what_came_before_is_read() -> None:
    good = "\n".join(json.dumps(u, ensure_ascii=False) for u in UPDATES[:2]) + "\n"
    data = good.encode("utf-8") + b'{"update_id": 3, "message": {"text": "caf\xe9"}}\n'
    bad_byte = data.index(b"\xe9")
    for chunk_size in (1, 2, 3, 7, 1 << 20):
        got = outcome(iter_json_stream(io.BytesIO(data), "latin1.jsonl", chunk_size=chunk_size))
        assert [v[0]["update_id"] for v in got[:-1]] == [1, 2]
        _, reason, line, column, offset = got[-1]
        assert f"not UTF-8 text (byte {bad_byte})" in reason
        assert line == 3 and column == len('{"update_id": 3, "message": {"text": "caf') + 1
        assert offset == len(data[:bad_byte].decode("utf-8"))


@pytest.mark.parametrize(
    ("data", "ids", "where"),
    [
        (b'{"update_id": 1}\n\xff{"update_id": 2}', [1], (2, 1)),
        (b'[{"update_id": 1},{"update_id": 2}\xff]', [1, 2], (1, 35)),
        (b'{"update_id": 1}{"update_id": 2}  \xff', [1, 2], (1, 35)),
        (b'[{"update_id": 1}, 12\xff]', [1], (1, 22)),
    ],
)
def test_values_complete_before_a_bad_byte_come_out_first(
    data: bytes, ids: list[int], where: tuple[int, int]
) -> None:
    for chunk_size in (1, 2, 5, 1 << 20):
        got = outcome(iter_json_stream(io.BytesIO(data), "b.json", chunk_size=chunk_size))
        assert [v[0]["update_id"] for v in got[:-1]] == ids, chunk_size
        assert got[-1][0] == "error" and "not UTF-8" in got[-1][1]
        assert (got[-1][2], got[-1][3]) == where


def test_a_character_cut_at_the_end_of_the_file_is_not_utf8() -> None:
    data = json.dumps(UPDATES[0], ensure_ascii=False).encode("utf-8") + "я".encode()[:1]
    got = outcome(iter_json_stream(io.BytesIO(data), "cut.json", chunk_size=4))
    assert got[-1][0] == "error" and f"(byte {len(data) - 1})" in got[-1][1]


def test_text_streams_are_read_too() -> None:
    text = shapes()["json_lines"]
    got = outcome(iter_json_stream(io.StringIO(text), "f.json", chunk_size=3))
    assert got == in_memory(text)


# -- hostile values -------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [7, 1 << 20])
def test_ten_thousand_levels_deep_is_an_input_error_at_the_spot(chunk_size: int) -> None:
    first = json.dumps(UPDATES[0], ensure_ascii=False)
    deep = '{"update_id": 2, "message": ' + "[" * 10_000 + "]" * 10_000 + "}"
    text = first + "\n" + deep + "\n" + json.dumps(UPDATES[2])
    got = streamed(text, chunk_size=chunk_size)
    assert [v[0]["update_id"] for v in got[:-1]] == [1]
    _, reason, line, column, offset = got[-1]
    assert f"nested more than {MAX_DEPTH} levels deep" in reason
    # The update object is level 1, the first array level 2: level MAX_DEPTH + 1
    # is the array opened at this column.
    expected_column = len('{"update_id": 2, "message": ') + MAX_DEPTH
    assert (line, column) == (2, expected_column)
    assert offset == len(first) + 1 + expected_column - 1
    assert in_memory(text) == got


def test_deep_arrays_and_objects_in_every_shape() -> None:
    deep_object = '{"a":' * 5000 + "1" + "}" * 5000
    for text in (
        "[" + deep_object + "]",
        '{"ok": true, "result": [' + deep_object + "]}",
        deep_object,
        json.dumps(UPDATES[0]) + deep_object,
    ):
        got = streamed(text, chunk_size=64)
        assert got[-1][0] == "error" and "nested more than" in got[-1][1]
        assert got == in_memory(text)


def test_nesting_up_to_the_bound_is_accepted() -> None:
    def nested(levels: int) -> str:
        # The update is one level; its "extra" field holds the rest.
        inner = levels - 1
        return '{"update_id": 7, "extra": ' + "[" * inner + "]" * inner + "}"

    assert [v.value["update_id"] for v in iter_json_values(nested(MAX_DEPTH))] == [7]
    with pytest.raises(InputError, match="nested more than"):
        list(iter_json_values(nested(MAX_DEPTH + 1)))


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"update_id": 1, "message": {"text": "[" * 5000 + "{" * 5000}})
    assert [v.value["update_id"] for v in iter_json_values(text)] == [1]


def test_a_number_too_long_to_read_is_located() -> None:
    text = json.dumps(UPDATES[0]) + '\n{"update_id": ' + "9" * 5000 + "}\n"
    for got in (in_memory(text), streamed(text, chunk_size=100)):
        assert got[0][0]["update_id"] == 1
        _, reason, line, column, _ = got[-1]
        assert "more than 4300 digits" in reason and (line, column) == (2, 15)


# -- storing --------------------------------------------------------------------------


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.anyio
async def test_streamed_ingest_stores_what_in_memory_ingest_stores(tmp_path: Path) -> None:
    text = json.dumps({"ok": True, "result": UPDATES}, ensure_ascii=False, indent=1)
    async with SqliteStore(tmp_path / "a.db") as a, SqliteStore(tmp_path / "b.db") as b:
        whole = await ingest_text(Capturer(a), text, "f.json", batch_size=2)
        raw = io.BytesIO(text.encode("utf-8"))
        chunked = await ingest_stream(Capturer(b), raw, "f.json", batch_size=2, chunk_size=5)
        assert (whole.new, chunked.new) == (4, 4)
        for update in UPDATES:
            stored_a = await a.get_update(update["update_id"])
            stored_b = await b.get_update(update["update_id"])
            assert stored_a is not None and stored_b is not None
            assert stored_a.payload == stored_b.payload == update


@pytest.mark.anyio
async def test_update_id_past_64_bits_is_located_and_the_updates_before_stay(
    sqlite_store: SqliteStore,
) -> None:
    lines = [json.dumps(u) for u in UPDATES[:2]]
    lines.append('{"update_id": 9223372036854775808, "message": {"text": "x"}}')
    lines.append(json.dumps(UPDATES[3]))
    raw = io.BytesIO("\n".join(lines).encode())
    tally = CaptureTally()
    with pytest.raises(NotAnUpdateError) as info:
        await ingest_stream(Capturer(sqlite_store), raw, "big.jsonl", chunk_size=16, tally=tally)
    assert (info.value.line, info.value.column) == (3, 1)
    assert "64-bit" in info.value.reason and "big.jsonl:3:1" in str(info.value)
    assert tally.new == 2
    assert await sqlite_store.get_update(1) is not None
    assert await sqlite_store.get_update(2) is not None
    assert await sqlite_store.get_update(4) is None


@pytest.mark.anyio
async def test_the_edges_of_the_64_bit_range_are_stored(sqlite_store: SqliteStore) -> None:
    text = json.dumps([{"update_id": 2**63 - 1}, {"update_id": -(2**63)}])
    tally = await ingest_text(Capturer(sqlite_store), text, "edges.json")
    assert tally.new == 2 and await sqlite_store.get_update(2**63 - 1) is not None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("chat.id", make_update(5, message_id=5, text="x", chat={"id": 2**64, "type": "private"})),
        ("message_id", make_update(5, message_id=-(2**63) - 1, text="x")),
    ],
)
async def test_a_message_whose_key_is_past_64_bits_is_kept_raw_and_reported(
    sqlite_store: SqliteStore, field: str, payload: dict[str, Any]
) -> None:
    text = "\n".join(json.dumps(u) for u in (UPDATES[0], payload, UPDATES[1]))
    tally = await ingest_text(Capturer(sqlite_store), text, "ids.jsonl")
    assert tally.new == 3
    assert len(tally.problems) == 1
    assert f"update 5: message: {field} is outside the signed 64-bit range" in tally.problems[0]
    stored = await sqlite_store.get_update(5)
    assert stored is not None and stored.payload == payload, "the raw update is kept verbatim"
    assert normalize_update(payload).message is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "payload", "column"),
    [
        (
            "document.file_size",
            make_update(
                5,
                message_id=5,
                text="x",
                document={"file_id": "F", "file_unique_id": "U", "file_size": 10**30},
            ),
            lambda m, files: files[0].file_size,
        ),
        (
            "the sender's id",
            make_update(5, message_id=5, text="x", sender={"id": 2**70, "is_bot": False}),
            lambda m, files: m.user_id,
        ),
        (
            "message_thread_id",
            make_update(5, message_id=5, text="x", message_thread_id=-(2**64)),
            lambda m, files: m.message_thread_id,
        ),
    ],
)
async def test_a_number_past_64_bits_is_kept_raw_and_the_message_still_stored(
    sqlite_store: SqliteStore, field: str, payload: dict[str, Any], column: Any
) -> None:
    """Issue 15 point 8: the column stays empty, the raw JSON keeps the number exactly,
    and the message is stored (and so analyzed, searched, explained)."""
    text = "\n".join(json.dumps(u) for u in (UPDATES[0], payload, UPDATES[1]))
    tally = await ingest_text(Capturer(sqlite_store), text, "ids.jsonl")
    assert tally.new == 3
    assert len(tally.problems) == 1 and field in tally.problems[0]
    assert "kept in the raw JSON only; the message is stored" in tally.problems[0]
    message = await sqlite_store.get_message(payload["message"]["chat"]["id"], 5)
    assert message is not None and message.message_text == "x"
    assert message.raw_telegram_json == payload["message"], "every number kept exactly"
    files = await sqlite_store.files_of_message(message.chat_id, 5)
    assert column(message, files) is None


@pytest.mark.anyio
async def test_a_batch_the_store_refuses_keeps_every_update_before_the_bad_one(
    sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a value slip past normalization, SQLite refuses the whole batch
    (OverflowError on binding). The valid updates before it are still stored and
    the bad one is named with its place."""

    def lax(payload: Any) -> Any:
        update = normalize_update(payload)
        if update.update_id == 3:  # what SQLite cannot bind
            return attrs.evolve(update, update_id=2**64)
        return update

    monkeypatch.setattr(ingest_module, "normalize_update", lax)
    text = "\n".join(json.dumps(u, ensure_ascii=False) for u in UPDATES)
    with pytest.raises(InputError) as info:
        await ingest_text(Capturer(sqlite_store), text, "one-bad.jsonl", batch_size=100)
    assert (info.value.source, info.value.line, info.value.column) == ("one-bad.jsonl", 3, 1)
    assert "OverflowError" in info.value.reason
    assert await sqlite_store.get_update(1) is not None
    assert await sqlite_store.get_update(2) is not None
    assert await sqlite_store.get_update(4) is None


@pytest.mark.anyio
async def test_stdin_is_streamed(
    sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = shapes()["json_lines_crlf"].encode("utf-8")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    report = await ingest_paths(Capturer(sqlite_store), ["-"], chunk_size=3)
    assert report.tally.new == 4 and list(report.files) == ["<stdin>"]


@pytest.mark.anyio
async def test_keep_going_collects_bad_files_and_stores_the_good(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(UPDATES[:2]), encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(UPDATES[2]) + "\n{oops\n", encoding="utf-8")
    later = tmp_path / "later.json"
    later.write_text(json.dumps(UPDATES[3]), encoding="utf-8")
    paths = [str(good), str(bad), str(tmp_path / "missing.json"), str(later)]

    with pytest.raises(InputError, match=r"bad\.jsonl:2:2"):
        await ingest_paths(Capturer(sqlite_store), paths)
    assert await sqlite_store.get_update(3) is not None, "what came before the error is kept"
    assert await sqlite_store.get_update(4) is None, "without keep_going the run stops"

    report = await ingest_paths(Capturer(sqlite_store), paths, keep_going=True)
    assert [e.source for e in report.errors] == [str(bad), str(tmp_path / "missing.json")]
    assert (report.errors[0].line, report.errors[0].column) == (2, 2)
    assert "cannot read file" in report.errors[1].reason
    assert await sqlite_store.get_update(4) is not None
    assert report.tally.new == 1 and report.tally.duplicate == 3


# -- the real command line ------------------------------------------------------------


def cli(tmp_path: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``superbrain`` in a subprocess with only this test's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERBRAIN_", "TELEGRAM_"))}
    env |= {
        "SUPERBRAIN_DB": f"sqlite:///{tmp_path / 'cli.db'}",
        "SUPERBRAIN_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "superbrain_core", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def files_with_one_bad(tmp_path: Path) -> list[str]:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(UPDATES[:2], ensure_ascii=False), encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(UPDATES[2], ensure_ascii=False) + "\n{oops\n", encoding="utf-8")
    later = tmp_path / "later.json"
    later.write_text(json.dumps(UPDATES[3], ensure_ascii=False), encoding="utf-8")
    return [str(good), str(bad), str(tmp_path / "missing.json"), str(later)]


def test_cli_keep_going_stores_every_good_file_and_lists_the_bad(tmp_path: Path) -> None:
    paths = files_with_one_bad(tmp_path)
    result = cli(tmp_path, "ingest", "--keep-going", *paths)
    assert result.returncode == 1, result.stderr
    assert "new: 4  duplicate: 0  edits: 0" in result.stdout
    assert "2 of 4 files failed" in result.stderr
    failures = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    bad_offset = len(json.dumps(UPDATES[2], ensure_ascii=False)) + 2
    assert failures[0].startswith(f"{paths[1]}:2:2 (offset {bad_offset}): invalid JSON line")
    assert failures[1].startswith(f"{paths[2]}: cannot read file")
    assert len(failures) == 2
    assert "Traceback" not in result.stderr
    assert count(tmp_path / "cli.db", "raw_updates") == 4


def test_cli_without_keep_going_stops_at_the_first_bad_file(tmp_path: Path) -> None:
    paths = files_with_one_bad(tmp_path)
    result = cli(tmp_path, "ingest", *paths)
    assert result.returncode == 1
    assert f"{paths[1]}:2:2" in result.stderr and "missing.json" not in result.stderr
    assert count(tmp_path / "cli.db", "raw_updates") == 3, "what came before is stored"


def test_cli_keep_going_with_good_files_only_succeeds(tmp_path: Path) -> None:
    paths = files_with_one_bad(tmp_path)
    result = cli(tmp_path, "ingest", "--keep-going", paths[0], paths[3])
    assert result.returncode == 0, result.stderr
    assert "new: 3" in result.stdout and "failed" not in result.stderr


def test_cli_stdin_streams_and_locates_hostile_input(tmp_path: Path) -> None:
    first = json.dumps(UPDATES[0], ensure_ascii=False)
    deep = '{"update_id": 2, "message": ' + "[" * 10_000 + "]" * 10_000 + "}"
    stdin = (first + "\n" + deep + "\n").encode("utf-8")
    result = cli(tmp_path, "ingest", "-", stdin=stdin)
    assert result.returncode == 1
    column = len('{"update_id": 2, "message": ') + MAX_DEPTH
    assert f"<stdin>:2:{column} (offset {len(first) + column})" in result.stderr
    assert "nested more than" in result.stderr and "Traceback" not in result.stderr
    assert count(tmp_path / "cli.db", "raw_updates") == 1


def test_cli_reports_an_id_past_64_bits_as_kept_raw(tmp_path: Path) -> None:
    huge = make_update(5, message_id=5, text="x", chat={"id": 2**64, "type": "private"})
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join(json.dumps(u) for u in (UPDATES[0], huge)), encoding="utf-8")
    result = cli(tmp_path, "ingest", str(path))
    assert result.returncode == 0, result.stderr
    assert "kept raw only: update 5: message: chat.id is outside the signed 64-bit range" in (
        result.stderr
    )
    assert count(tmp_path / "cli.db", "raw_updates") == 2
    assert count(tmp_path / "cli.db", "raw_messages") == 1


def test_cli_stores_a_message_with_a_file_size_past_64_bits(tmp_path: Path) -> None:
    huge = make_update(
        5, message_id=5, document={"file_id": "F", "file_unique_id": "U", "file_size": 2**64}
    )
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join(json.dumps(u) for u in (UPDATES[0], huge)), encoding="utf-8")
    result = cli(tmp_path, "ingest", str(path))
    assert result.returncode == 0, result.stderr
    assert "document.file_size outside the signed 64-bit range" in result.stderr
    assert "Traceback" not in result.stderr
    assert count(tmp_path / "cli.db", "raw_messages") == 2
    assert count(tmp_path / "cli.db", "raw_files") == 1


def test_cli_update_id_past_64_bits_is_located(tmp_path: Path) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text(
        json.dumps(UPDATES[0]) + '\n{"update_id": 18446744073709551616}\n', encoding="utf-8"
    )
    result = cli(tmp_path, "ingest", str(path))
    assert result.returncode == 1
    assert f"{path}:2:1" in result.stderr and "64-bit" in result.stderr
    assert count(tmp_path / "cli.db", "raw_updates") == 1
