"""`superbrain search` in a real subprocess: ingest, analyze, then find by word forms."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from superbrain_core.demo.samples import fake_file, make_update

from .test_cli import run

T0 = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)  # 23:30 in Moscow


def ingest(tmp_path: Path, updates: list[dict[str, object]]) -> None:
    path = tmp_path / "updates.json"
    path.write_text(json.dumps(updates, ensure_ascii=False), encoding="utf-8")
    result = run(tmp_path, "ingest", str(path))
    assert result.returncode == 0, result.stderr


UPDATES = [
    make_update(1, message_id=1, text="Завтра встреча с Олегом по бюджету", date=T0),
    make_update(2, message_id=2, text="Купить молоко", date=T0),
    make_update(
        3,
        message_id=3,
        document=dict(fake_file("document", "plan", 900), file_name="Встречи_план.xlsx"),
        date=T0,
    ),
    make_update(
        4, message_id=4, text="Other chat meeting", date=T0, chat={"id": 5, "type": "group"}
    ),
]


def test_search_lists_matches_with_date_chat_type_snippet_and_filing(tmp_path: Path) -> None:
    ingest(tmp_path, UPDATES)
    assert run(tmp_path, "batch").returncode == 0
    result = run(tmp_path, "search", "встречу")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    found = [line for line in lines if "100500" in line]
    assert len(found) == 2, result.stdout
    meeting = next(line for line in found if "Олегом" in line)
    # The owner's clock (Moscow, UTC+3), the type, the snippet, where it is filed.
    assert "2026-11-24 23:30" in meeting and "text" in meeting and "events #" in meeting
    plan = next(line for line in found if "план" in line)
    assert "document" in plan and "file: Встречи_план.xlsx" in plan
    assert "2 messages (all)" in result.stdout
    assert "молоко" not in result.stdout

    other_zone = run(tmp_path, "search", "бюджет", env={"SUPERBRAIN_TIMEZONE": "UTC"})
    assert "2026-11-24 20:30" in other_zone.stdout


def test_chat_and_limit_options(tmp_path: Path) -> None:
    ingest(tmp_path, UPDATES)
    only_other = run(tmp_path, "search", "meetings", "--chat", "5")
    assert only_other.returncode == 0 and "Other chat meeting" in only_other.stdout
    assert "not analyzed yet" in only_other.stdout
    none_here = run(tmp_path, "search", "meetings", "--chat", "100500")
    assert none_here.returncode == 0 and "nothing found for 'meetings'" in none_here.stdout
    limited = run(tmp_path, "search", "встреча", "--limit", "1")
    assert "1 message (the newest 1; --limit for more)" in limited.stdout
    refused = run(tmp_path, "search", "встреча", "--limit", "0")
    assert refused.returncode == 2 and "--limit" in refused.stderr


def test_a_chat_id_beyond_64_bits_is_an_option_error_naming_the_range(tmp_path: Path) -> None:
    ingest(tmp_path, UPDATES)
    for chat, bound in (
        ("99999999999999999999", "9223372036854775807"),
        ("-99999999999999999999", "-9223372036854775808"),
    ):
        result = run(tmp_path, "search", "--chat", chat, "x")
        assert result.returncode == 2, result.stderr  # like --limit 0: an option error
        assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr
        assert "--chat" in result.stderr and bound in result.stderr
    widest = run(tmp_path, "search", "--chat", "-9223372036854775808", "встреча")
    assert widest.returncode == 0 and "nothing found" in widest.stdout, widest.stderr


def test_a_word_with_a_leading_minus_is_refused_clearly(tmp_path: Path) -> None:
    """`-молоко` used to find the messages with молоко: the opposite of what was asked."""
    ingest(tmp_path, UPDATES)
    result = run(tmp_path, "search", "--", "-молоко")
    assert result.returncode == 1, result.stderr
    assert "excluding words is not supported" in result.stderr and "'-молоко'" in result.stderr
    assert "Купить" not in result.stdout
    hyphen = run(tmp_path, "search", "по-бюджету")  # a hyphen inside a word separates
    assert hyphen.returncode == 0 and "Олегом" in hyphen.stdout, hyphen.stderr


def test_a_query_without_words_is_an_error_and_changes_nothing(tmp_path: Path) -> None:
    ingest(tmp_path, UPDATES)
    before = (tmp_path / "cli.db").stat().st_size
    result = run(tmp_path, "search", '"*" -- ?!')
    assert result.returncode == 1
    assert "nothing to search for" in result.stderr and "Traceback" not in result.stderr
    assert run(tmp_path, "search", "встреча").returncode == 0
    assert (tmp_path / "cli.db").stat().st_size >= before


def test_rich_markup_in_a_query_is_shown_as_typed(tmp_path: Path) -> None:
    ingest(tmp_path, UPDATES)
    found = run(tmp_path, "search", "встреча [/]")  # unescaped, Rich would refuse "[/]"
    assert found.returncode == 0, found.stderr
    assert "Search: встреча [/]" in found.stdout and "Олегом" in found.stdout
    missing = run(tmp_path, "search", "[red]нет[/red]")
    assert "nothing found for '[red]нет[/red]'" in missing.stdout
    empty = run(tmp_path, "search", "[/]")
    assert empty.returncode == 1 and "'[/]'" in empty.stderr


def test_a_bad_database_url_is_a_configuration_error(tmp_path: Path) -> None:
    result = run(tmp_path, "--db", "mysql://x", "search", "встреча")
    assert result.returncode == 2, result.stderr
    assert "configuration error (SUPERBRAIN_DB)" in result.stderr
    assert "unsupported database URL scheme 'mysql'" in result.stderr


def test_a_storage_error_is_shown_without_the_database_password(tmp_path: Path) -> None:
    """A storage error may quote the database's URL or path; never a password in it."""
    # Nothing listens on port 1 (the Postgres store redacts its own messages too).
    url = "postgresql://owner:s3cr3t-pw@127.0.0.1:1/superbrain"
    result = run(tmp_path, "--db", url, "search", "встреча")
    assert result.returncode == 1, result.stderr
    assert "storage error" in result.stderr and "Traceback" not in result.stderr
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    # A SQLite file under a mounted share's URL-like path, from a newer library:
    # the error names the path, credentials included, and the CLI must mask them.
    path = f"{tmp_path}/sftp://owner:s3cr3t-pw@nas/brain.db"
    Path(path).parent.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    result = run(tmp_path, "--db", f"sqlite:///{path}", "search", "встреча")
    assert result.returncode == 1, result.stderr
    assert "has schema version 99" in result.stderr and "sftp://***@nas" in result.stderr
    assert "s3cr3t-pw" not in result.stdout + result.stderr
