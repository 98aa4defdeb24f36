"""Every mistake gets a clear answer: the CLI's error boundary, and reads that never write.

Each case runs the real command in a subprocess and checks three things: the
exit code, a message that names what was wrong (one line, however long the
path), and that nothing on disk changed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from superbrain_core.cli.boundary import (
    EXIT_CONFIG_ERROR,
    EXIT_INPUT_ERROR,
    EXIT_INTERNAL,
    explain,
    run_guarded,
)
from superbrain_core.demo.samples import make_update
from superbrain_core.errors import TransientStorageError
from tests.acceptance.test_cli import run

READ_COMMANDS = [
    ("stats",),
    ("search", "молоко"),
    ("explain", "1:1"),
    ("db", "status"),
]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_a_mistyped_db_on_a_read_command_creates_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    before = _tree(tmp_path)
    result = run(tmp_path, "--db", "sqlite:///superbrian.db", *command)
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert f"{tmp_path / 'superbrian.db'} does not exist" in result.stderr
    assert "nothing was created" in result.stderr
    assert "Traceback" not in result.stderr
    assert _tree(tmp_path) == before


def test_a_read_command_never_creates_folders(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "x.db"
    result = run(tmp_path, "--db", f"sqlite:///{missing}", "stats")
    assert result.returncode == EXIT_CONFIG_ERROR
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", [("stats",), ("ingest", "-")], ids=["read", "write"])
def test_a_folder_is_refused_by_name(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = run(tmp_path, "--db", f"sqlite:///{tmp_path}", *command, stdin="")
    assert result.returncode == EXIT_CONFIG_ERROR
    assert f"{tmp_path} is a folder" in result.stderr


@pytest.mark.parametrize("command", [("stats",), ("ingest", "-")], ids=["read", "write"])
def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n" * 10)
    before = text.read_bytes()
    result = run(tmp_path, "--db", f"sqlite:///{text}", *command, stdin="")
    assert result.returncode == EXIT_CONFIG_ERROR
    assert "is not a SQLite database" in result.stderr
    assert text.read_bytes() == before


def _foreign(path: Path, schema: str) -> list[tuple[str]]:
    with sqlite3.connect(path) as conn:
        conn.executescript(schema)
        return conn.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()


@pytest.mark.parametrize("command", [("stats",), ("ingest", "-")], ids=["read", "write"])
def test_somebody_elses_sqlite_file_gets_no_new_tables(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    other = tmp_path / "shop.db"
    before = _foreign(other, "CREATE TABLE orders (id INTEGER); CREATE TABLE customers (id INT);")
    result = run(tmp_path, "--db", f"sqlite:///{other}", *command, stdin="")
    assert result.returncode == EXIT_CONFIG_ERROR
    assert "is a SQLite database of something else (tables: customers, orders)" in result.stderr
    with sqlite3.connect(other) as conn:
        assert conn.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall() == before


def test_a_raw_messages_table_with_other_columns_is_not_ours(tmp_path: Path) -> None:
    other = tmp_path / "look-alike.db"
    _foreign(
        other,
        "CREATE TABLE raw_updates (id INTEGER, bot_id INT, update_id INT, update_type TEXT,"
        " payload TEXT); CREATE TABLE raw_messages (id INTEGER, body TEXT);"
        " PRAGMA user_version = 3;",
    )
    for command in (("stats",), ("ingest", "-")):
        result = run(tmp_path, "--db", f"sqlite:///{other}", *command, stdin="")
        assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
        assert "has a raw_messages table without chat_id, message_id" in result.stderr
        assert "Traceback" not in result.stderr


def test_stats_and_help_name_the_database_in_use(tmp_path: Path) -> None:
    update = tmp_path / "u.json"
    update.write_text(json.dumps(make_update(1, message_id=1, text="привет")))
    assert run(tmp_path, "ingest", str(update)).returncode == 0
    stats = run(tmp_path, "stats")
    assert stats.returncode == 0, stats.stderr
    assert f"database: {tmp_path / 'cli.db'} (sqlite)" in stats.stdout
    helped = run(
        tmp_path, "--help", env={"SUPERBRAIN_DB": "sqlite:///rel/store.db", "COLUMNS": "400"}
    )
    assert f"Now: {tmp_path / 'rel' / 'store.db'}" in helped.stdout


def test_db_status_on_sqlite_opens_read_only(tmp_path: Path) -> None:
    created = run(tmp_path, "db", "migrate")
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "cli.db").exists()
    status = run(tmp_path, "db", "status")
    assert status.returncode == 0, status.stderr
    assert f"database: {tmp_path / 'cli.db'} (SQLite, embedded)" in status.stdout


def test_error_lines_do_not_wrap_when_output_is_not_a_terminal(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "and-a-long-database-name.db"
    result = run(tmp_path, "--db", f"sqlite:///{deep}", "stats", env={"COLUMNS": "80"})
    assert result.returncode == EXIT_CONFIG_ERROR
    (line,) = [ln for ln in result.stderr.splitlines() if "does not exist" in ln]
    assert str(deep) in line and len(line) > 80


def test_an_unexpected_error_is_one_line_and_a_traceback_only_with_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken() -> None:
        raise KeyError("surprise")

    with pytest.raises(SystemExit) as exited:
        run_guarded(broken, argv=[])
    assert exited.value.code == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "--debug" in err
    assert "Traceback" not in err
    with pytest.raises(KeyError):
        run_guarded(broken, argv=["--debug"])


def test_errors_inside_task_groups_are_unwrapped() -> None:
    group = BaseExceptionGroup("outer", [ExceptionGroup("inner", [RecursionError("deep")])])
    message, code = explain(group)
    assert code == EXIT_INPUT_ERROR and "nested too deeply" in message
    message, code = explain(ExceptionGroup("g", [OverflowError("int too big to convert")]))
    assert code == EXIT_INPUT_ERROR and "64 bits" in message
    message, code = explain(TransientStorageError("database is locked"))
    assert code == EXIT_INPUT_ERROR and "temporary" in message and "locked" in message


def test_the_console_script_runs_inside_the_boundary(tmp_path: Path) -> None:
    # The real entry point (python -m superbrain_core -> cli.main), not the Typer app alone.
    result = run(tmp_path, "--db", "sqlite:///nope.db", "stats")
    assert result.returncode == EXIT_CONFIG_ERROR
    assert result.stderr.count("\n") <= 2, result.stderr
    assert result.stderr.startswith("configuration error")
