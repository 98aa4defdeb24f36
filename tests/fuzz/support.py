"""What every fuzz property checks: the error is one of the library's, the stored JSON is
the input, and the rows stored before are as they were."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from superbrain_core.errors import InputError, SuperbrainError

Rows = dict[str, dict[Any, dict[str, Any]]]

#: Tables of what was captured, and the key each row is known by.
CAPTURE_TABLES = {
    "raw_updates": "id",
    "raw_messages": "id",
    "raw_files": "id",
    "bot_responses": "id",
    "message_chains": "chain_id",
}
#: Columns that later captures legitimately fill in on an earlier row: the chain a
#: message (or the bot's answer) joins when a reply to it arrives, and a chain's
#: running list of replies. Anything else changing is a failure.
FILLED_LATER = {
    ("raw_messages", "chain_id"),
    ("bot_responses", "chain_id"),
}
CHAIN_BOOKKEEPING = {"original_text", "user_id", "replies", "updated_at"}


def same_json(a: Any, b: Any) -> bool:
    """Equal as parsed JSON, strictly: ``1`` is not ``1.0`` nor ``True``, and ``NaN``
    equals ``NaN`` (what a JSON text holds twice is the same value). Iterative, so
    values nested past the recursion limit compare too."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if x.keys() != y.keys():
                return False
            pending.extend((v, y[k]) for k, v in x.items())
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif isinstance(x, float) and math.isnan(x):
            if not math.isnan(y):
                return False
        elif x != y:
            return False
    return True


def snapshot(db: Path) -> Rows:
    """Every row of the capture tables, by key (read with a connection of its own)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows: Rows = {}
        for table, key in CAPTURE_TABLES.items():
            rows[table] = {r[key]: dict(r) for r in conn.execute(f"SELECT * FROM {table}")}
        return rows
    finally:
        conn.close()


def assert_rows_kept(before: Rows, after: Rows) -> None:
    """Every row in ``before`` is still in ``after``, unchanged but for chain bookkeeping."""
    for table, rows in before.items():
        now = after[table]
        for key, row in rows.items():
            assert key in now, f"{table} row {key!r} was deleted"
            changed = {c for c in row if row[c] != now[key][c]}
            if table == "message_chains":
                assert not changed - CHAIN_BOOKKEEPING, f"chain {key} changed {changed}"
                # Replies are appended; an edited reply's entry is updated in its place.
                old = [r.get("message_id") for r in json.loads(row["replies"])]
                new = [r.get("message_id") for r in json.loads(now[key]["replies"])]
                assert new[: len(old)] == old, f"chain {key} lost or reordered replies"
                continue
            for column in changed:
                assert (table, column) in FILLED_LATER and row[column] is None, (
                    f"{table} row {key!r}: {column} changed from {row[column]!r}"
                    f" to {now[key][column]!r}"
                )


def assert_clear_error(exc: BaseException, source: str | None = None) -> None:
    """``exc`` is one the library documents (and an input error names the input)."""
    assert isinstance(exc, SuperbrainError), (
        f"{type(exc).__name__} escaped instead of a SuperbrainError: {exc!r}"[:2000]
    )
    if isinstance(exc, InputError) and source is not None:
        assert exc.source == source, f"the error names {exc.source!r}, not the input {source!r}"
        assert exc.reason, "an input error says what was wrong"


def stored_updates(db: Path) -> dict[tuple[int, int], Any]:
    """``(bot_id, update_id) -> payload`` of every stored update."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            (bot, uid): json.loads(payload)
            for bot, uid, payload in conn.execute(
                "SELECT bot_id, update_id, payload FROM raw_updates"
            )
        }
    finally:
        conn.close()


def expected_updates(data: bytes) -> list[Any] | None:
    """The values of an update file as :mod:`json` reads them, in the shapes ``ingest``
    accepts (one value, array, ``getUpdates`` reply, JSON Lines, concatenated); ``None``
    when it reads no such shape, so only the outcome, not the content, can be checked."""
    try:
        text = data.decode("utf-8").lstrip(" \t\r\n").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = 0
    try:
        while pos < len(text):
            value, pos = decoder.raw_decode(text, pos)
            values.append(value)
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
    except (ValueError, RecursionError):
        return None
    if len(values) == 1 and isinstance(values[0], list):
        return values[0]
    found: list[Any] = []
    for value in values:
        if (
            isinstance(value, dict)
            and "update_id" not in value
            and value.get("ok") is True
            and isinstance(value.get("result"), list)
        ):
            found.extend(value["result"])
        else:
            found.append(value)
    return found


def first_by_update_id(values: list[Any]) -> dict[int, Any]:
    """The first value for each integer ``update_id`` (a redelivery adds nothing)."""
    found: dict[int, Any] = {}
    for value in values:
        if isinstance(value, dict):
            uid = value.get("update_id")
            if isinstance(uid, int) and not isinstance(uid, bool):
                found.setdefault(uid, value)
    return found


@contextmanager
def workdir(base: Path) -> Iterator[Path]:
    """A fresh folder per example (``tmp_path`` is one per test, shared by examples)."""
    path = Path(tempfile.mkdtemp(dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def copy_db(template: Path, where: Path) -> Path:
    db = where / "fuzz.db"
    shutil.copyfile(template, db)
    return db
