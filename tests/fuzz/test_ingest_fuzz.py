"""``ingest`` of update files (library and CLI): every update stored verbatim, or an
``InputError`` naming the file; never a traceback, and the rows stored before stay as
they were."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from superbrain_core.capture import Capturer
from superbrain_core.cli.boundary import EXIT_INPUT_ERROR, EXIT_OK
from superbrain_core.history.ingest import ingest_paths
from superbrain_core.storage.sqlite.store import SqliteStore
from tests.acceptance.test_cli import run as run_cli
from tests.fuzz import strategies as s
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.support import (
    Rows,
    assert_clear_error,
    assert_rows_kept,
    copy_db,
    expected_updates,
    first_by_update_id,
    same_json,
    snapshot,
    stored_updates,
    workdir,
)


async def _ingest(db: Path, path: Path) -> BaseException | None:
    async with SqliteStore(db) as store:
        try:
            await ingest_paths(Capturer(store), [str(path)])
        except Exception as exc:
            return exc
    return None


def check_stored(data: bytes, before: Rows, db: Path, *, complete: bool) -> None:
    """Each update the file holds (as :mod:`json` reads it) is stored as it is, unless an
    earlier one (or one stored before) had its ``update_id``; ``complete`` when the
    ingest succeeded, so every one of them must be there."""
    values = expected_updates(data)
    if values is None:
        return
    old = {(r["bot_id"], r["update_id"]) for r in before["raw_updates"].values()}
    new = {k: v for k, v in stored_updates(db).items() if k not in old}
    expected = {
        (0, update_id): value
        for update_id, value in first_by_update_id(values).items()
        if (0, update_id) not in old  # a redelivery: the earlier row stays (assert_rows_kept)
    }
    for key, value in expected.items():
        if key in new:
            assert same_json(new[key], value), f"update {key[1]} not stored verbatim"
        else:
            assert not complete, f"update {key[1]} was not stored"
    assert new.keys() <= expected.keys(), "stored an update the file does not hold"


def ingest_checked(seed: Path, base: Path, data: bytes) -> BaseException | None:
    with workdir(base) as where:
        db = copy_db(seed, where)
        path = where / "updates.json"
        path.write_bytes(data)
        before = snapshot(db)
        error = anyio.run(_ingest, db, path)
        if error is not None:
            assert_clear_error(error, source=str(path))
        after = snapshot(db)
        assert_rows_kept(before, after)
        check_stored(data, before, db, complete=error is None)
    return error


@fuzz_settings()
@given(file=s.update_files(s.valid_updates))
def test_valid_update_files_are_stored_verbatim(
    file: tuple[bytes, list[Any]], seeded_db: Path, fuzz_tmp: Path
) -> None:
    data, _values = file
    assert ingest_checked(seeded_db, fuzz_tmp, data) is None


@fuzz_settings()
@given(
    file=s.update_files(st.one_of(s.mutated_updates, s.field_mutated_updates, s.hostile_updates))
)
def test_mutated_and_hostile_updates_are_stored_verbatim_or_refused(
    file: tuple[bytes, list[Any]], seeded_db: Path, fuzz_tmp: Path
) -> None:
    ingest_checked(seeded_db, fuzz_tmp, file[0])


@fuzz_settings()
@given(file=st.one_of(s.corrupted(s.update_files(s.valid_updates), s.CORRUPTIONS)))
def test_corrupted_files_are_refused_with_the_spot(
    file: tuple[bytes, list[Any]], seeded_db: Path, fuzz_tmp: Path
) -> None:
    ingest_checked(seeded_db, fuzz_tmp, file[0])


@fuzz_settings()
@given(file=s.odd_update_texts)
def test_odd_texts_are_refused_with_the_spot(
    file: tuple[bytes, list[Any]], seeded_db: Path, fuzz_tmp: Path
) -> None:
    ingest_checked(seeded_db, fuzz_tmp, file[0])


# -- the failure classes found, one minimal example each ------------------------------------


@pytest.mark.parametrize("kind", ["object", "array"])
def test_json_nested_past_the_recursion_limit_is_an_input_error(
    kind: str, seeded_db: Path, fuzz_tmp: Path
) -> None:
    data = s.nested_text(s.VERY_DEEP, "1", kind).encode()
    error = ingest_checked(seeded_db, fuzz_tmp, data)
    assert error is not None


@pytest.mark.parametrize("spot", s.INT_SPOTS, ids=lambda spot: ".".join(map(str, spot)))
def test_integers_past_64_bits_are_kept_raw_or_refused(
    spot: tuple[Any, ...], seeded_db: Path, fuzz_tmp: Path
) -> None:
    update = s._spotted_message()
    parent = update
    for key in spot[:-1]:
        parent = parent[key]
    parent[spot[-1]] = 2**64
    error = ingest_checked(seeded_db, fuzz_tmp, json.dumps(update).encode())
    assert (error is not None) == (spot == ("update_id",))


@pytest.mark.parametrize("case", list(s.SURROGATE_SPOTS))
def test_lone_surrogates_in_columns_of_their_own_are_stored_verbatim(
    case: str, seeded_db: Path, fuzz_tmp: Path
) -> None:
    """Was ``update 7 cannot be stored (UnicodeEncodeError …)``: fixed in normalization,
    which now hands storage U+FFFD in these labels (the payload keeps the original)."""
    data = json.dumps(s.SURROGATE_SPOTS[case]).encode()
    assert ingest_checked(seeded_db, fuzz_tmp, data) is None


def test_a_number_too_long_to_read_is_an_input_error(seeded_db: Path, fuzz_tmp: Path) -> None:
    data = b'{"update_id": 1, "message": {"message_id": ' + b"1" * 5000 + b"}}"
    assert ingest_checked(seeded_db, fuzz_tmp, data) is not None


# -- through the real CLI ---------------------------------------------------------------------

CLI_CASES: dict[str, bytes] = {
    "valid": json.dumps([s._spotted_message()]).encode(),
    "deep": s.nested_text(s.VERY_DEEP, "1", "array").encode(),
    "update_id past 64 bits": b'{"update_id": 18446744073709551616}',
    "file_size past 64 bits": json.dumps({**s._spotted_message(), "update_id": 99})
    .replace('"file_size": 10', '"file_size": 18446744073709551616')
    .encode(),
    "invalid UTF-8": b'{"update_id": 5, "message": {"text": "\xff\xfe"}}',
    "long number": b'{"update_id": ' + b"9" * 5000 + b"}",
    "NUL and lone surrogate": b'{"update_id": 6, "message": {"message_id": 1, "chat": {"id": 1},'
    b' "date": 1, "text": "a\\u0000\\ud800b"}}',
}


def cli_checked(seed: Path, tmp_path: Path, data: bytes) -> None:
    shutil.copyfile(seed, tmp_path / "cli.db")
    before = snapshot(tmp_path / "cli.db")
    path = tmp_path / "updates.json"
    path.write_bytes(data)
    result = run_cli(tmp_path, "ingest", str(path))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (EXIT_OK, EXIT_INPUT_ERROR), result.stderr
    if result.returncode == EXIT_INPUT_ERROR:
        assert str(path) in result.stderr, "the error names the file"
    assert_rows_kept(before, snapshot(tmp_path / "cli.db"))
    check_stored(data, before, tmp_path / "cli.db", complete=result.returncode == EXIT_OK)


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_cli_stores_verbatim_or_says_what_is_wrong(
    case: str, seeded_db: Path, tmp_path: Path
) -> None:
    cli_checked(seeded_db, tmp_path, CLI_CASES[case])


@fuzz_settings(scale=0.1)
@given(file=s.any_update_files)
def test_the_cli_on_generated_files(
    file: tuple[bytes, list[Any]], seeded_db: Path, fuzz_tmp: Path
) -> None:
    with workdir(fuzz_tmp) as where:
        cli_checked(seeded_db, where, file[0])
