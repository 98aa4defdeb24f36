"""``import-desktop`` of generated ``result.json`` folders: every message stored verbatim,
or an ``InputError`` naming the file; never a traceback, and the rows stored before stay
as they were."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from superbrain_core.cli.boundary import EXIT_INPUT_ERROR, EXIT_OK
from superbrain_core.files import LocalFileStore
from superbrain_core.history.importer import ImportReport, import_desktop_export
from superbrain_core.storage.sqlite.store import SqliteStore
from tests.acceptance.test_cli import run as run_cli
from tests.fuzz import strategies as s
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.support import (
    Rows,
    assert_clear_error,
    assert_rows_kept,
    copy_db,
    same_json,
    snapshot,
    workdir,
)


async def _import(db: Path, folder: Path, files: Path) -> ImportReport | BaseException:
    async with SqliteStore(db) as store:
        try:
            return await import_desktop_export(store, LocalFileStore(files), folder)
        except Exception as exc:
            return exc


def messages_of(doc: Any) -> list[Any]:
    """The message values of an export document, in file order."""
    if not isinstance(doc, dict):
        return []
    chats: list[Any] = []
    if "messages" in doc:
        chats = [doc]
    for section in ("chats", "left_chats"):
        listed = doc.get(section)
        if isinstance(listed, dict) and isinstance(listed.get("list"), list):
            chats.extend(listed["list"])
    found: list[Any] = []
    for chat in chats:
        if isinstance(chat, dict) and isinstance(chat.get("messages"), list):
            found.extend(chat["messages"])
    return found


def new_raw_messages(db: Path, before: Rows) -> list[Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, raw_telegram_json FROM raw_messages ORDER BY id").fetchall()
    finally:
        conn.close()
    return [json.loads(raw) for row_id, raw in rows if row_id not in before["raw_messages"]]


def import_checked(seed: Path, base: Path, data: bytes, doc: Any) -> ImportReport | None:
    """Import ``data`` as ``result.json`` and check the property; ``doc`` is the document
    it was written from (``None`` for hand-made bytes)."""
    with workdir(base) as where:
        db = copy_db(seed, where)
        folder = where / "export"
        folder.mkdir()
        s.export_folder_files(folder)
        result_json = folder / "result.json"
        result_json.write_bytes(data)
        before = snapshot(db)
        outcome = anyio.run(_import, db, folder, where / "files")
        assert_rows_kept(before, snapshot(db))
        stored = new_raw_messages(db, before)
        if isinstance(outcome, BaseException):
            assert_clear_error(outcome, source=str(result_json))
            report = None
        else:
            report = outcome
            assert report.messages_new == len(stored)
        # Whatever was stored is an input message, as it was written.
        if doc is not None:
            originals = messages_of(doc)
            for raw in stored:
                assert any(same_json(raw, m) for m in originals), f"not verbatim: {raw!r}"[:500]
        return report


@fuzz_settings()
@given(file=s.export_files(s.exports()))
def test_valid_exports_are_stored_verbatim(
    file: tuple[bytes, Any], seeded_db: Path, fuzz_tmp: Path
) -> None:
    data, doc = file
    report = import_checked(seeded_db, fuzz_tmp, data, doc)
    assert report is not None
    assert report.messages == len(messages_of(doc)), "every message is new or already there"


@fuzz_settings()
@given(file=s.export_files(s.mutated_exports()))
def test_mutated_exports_are_stored_verbatim_or_refused(
    file: tuple[bytes, Any], seeded_db: Path, fuzz_tmp: Path
) -> None:
    import_checked(seeded_db, fuzz_tmp, *file)


@fuzz_settings()
@given(file=s.export_files(s.hostile_exports()))
def test_hostile_exports_are_stored_verbatim_or_refused(
    file: tuple[bytes, Any], seeded_db: Path, fuzz_tmp: Path
) -> None:
    import_checked(seeded_db, fuzz_tmp, *file)


@fuzz_settings()
@given(
    file=st.one_of(s.corrupted(s.export_files(s.exports()), s.CORRUPTIONS), s.hostile_export_texts)
)
def test_corrupted_and_hostile_files_are_refused_with_the_spot(
    file: tuple[bytes, Any], seeded_db: Path, fuzz_tmp: Path
) -> None:
    data, _doc = file
    import_checked(seeded_db, fuzz_tmp, data, None)


# -- the failure classes found, one minimal example each ------------------------------------

MESSAGE = {"id": 1, "type": "message", "date": "2021-01-01T00:00:00", "text": "привет"}


def single_chat(*messages: Any) -> dict[str, Any]:
    return {"name": "n", "type": "personal_chat", "id": 5, "messages": list(messages)}


@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"],
    ids=["ff", "truncated-sequence", "encoded-surrogate", "past-U+10FFFF", "overlong"],
)
@pytest.mark.parametrize("where", ["text", "key", "chat-name"])
def test_invalid_utf8_in_result_json_is_an_input_error(
    bad: bytes, where: str, seeded_db: Path, fuzz_tmp: Path
) -> None:
    data = json.dumps(single_chat(MESSAGE, {**MESSAGE, "id": 2}), ensure_ascii=False).encode()
    target = {"text": "привет".encode(), "key": b'"type"', "chat-name": b'"n"'}[where]
    data = data.replace(target, target[:1] + bad + target[1:], 1)
    import_checked(seeded_db, fuzz_tmp, data, None)


@pytest.mark.parametrize(
    "text",
    [chr(0xD800), f"a{chr(0xDFFF)}b", chr(0xD83D), chr(0xDE00) + chr(0xD83D)],
    ids=["high", "low-inside", "high-alone", "reversed-pair"],
)
@pytest.mark.parametrize("where", ["value", "key"])
def test_lone_surrogates_are_stored_verbatim(
    text: str, where: str, seeded_db: Path, fuzz_tmp: Path
) -> None:
    """JSON may escape a lone surrogate (``"\\ud800"``, plain ASCII in the file) and Telegram
    text can hold one. Live capture keeps it (``jsonutil``); so must the import, rather
    than a ``?`` in its place (ijson's C backend) or refusing the file as "not UTF-8":
    such a file is read by ijson's Python parser (``stream._parser_for``)."""
    message = {**MESSAGE, "text": text} if where == "value" else {**MESSAGE, text: 1}
    doc = single_chat(message)
    report = import_checked(seeded_db, fuzz_tmp, json.dumps(doc).encode(), doc)
    assert report is not None and report.messages_new == 1


@pytest.mark.parametrize(
    "message",
    [
        {**MESSAGE, "id": 2**64},
        {**MESSAGE, "from_id": 2**64},
        {**MESSAGE, "file": "files/doc.pdf", "file_size": 2**64},
        {**MESSAGE, "reply_to_message_id": -(2**64)},
        {**MESSAGE, "text": [{"type": "mention_name", "text": "x", "user_id": 2**70}]},
    ],
    ids=["id", "from_id", "file_size", "reply_to_message_id", "mention user_id"],
)
def test_integers_past_64_bits_are_a_messages_problem_or_refused(
    message: dict[str, Any], seeded_db: Path, fuzz_tmp: Path
) -> None:
    doc = single_chat(MESSAGE | {"id": 7}, message)
    import_checked(seeded_db, fuzz_tmp, json.dumps(doc).encode(), doc)


@pytest.mark.parametrize("depth", [s.DEEP, 2049, s.VERY_DEEP])
def test_deep_nesting_is_a_messages_problem_or_refused(
    depth: int, seeded_db: Path, fuzz_tmp: Path
) -> None:
    for where in ("message", "outside"):
        import_checked(seeded_db, fuzz_tmp, s._export_deep(depth, where), None)


# -- through the real CLI ---------------------------------------------------------------------

CLI_CASES: dict[str, bytes] = {
    "valid": json.dumps(single_chat(MESSAGE), ensure_ascii=False).encode(),
    "invalid UTF-8": json.dumps(single_chat(MESSAGE), ensure_ascii=False)
    .encode()
    .replace("привет".encode(), b"\xff\xfe"),
    "id past 64 bits": json.dumps(single_chat({**MESSAGE, "id": 2**64})).encode(),
    "deep": s._export_deep(s.VERY_DEEP, "message"),
    "truncated": json.dumps(single_chat(MESSAGE)).encode()[:-7],
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_cli_imports_verbatim_or_says_what_is_wrong(
    case: str, seeded_db: Path, tmp_path: Path
) -> None:
    db = copy_db(seeded_db, tmp_path)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "result.json").write_bytes(CLI_CASES[case])
    before = snapshot(db)
    result = run_cli(
        tmp_path, "import-desktop", str(folder), env={"SUPERBRAIN_DB": f"sqlite:///{db}"}
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (EXIT_OK, EXIT_INPUT_ERROR), result.stderr
    assert_rows_kept(before, snapshot(db))
    if case == "valid":
        assert result.returncode == EXIT_OK
        (raw,) = new_raw_messages(db, before)
        assert same_json(raw, MESSAGE)
    elif result.returncode == EXIT_INPUT_ERROR:
        assert "result.json" in result.stderr, "the error names the file"
