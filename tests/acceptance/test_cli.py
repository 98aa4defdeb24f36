"""The `superbrain` command in a real subprocess: output, exit codes, and nothing lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from superbrain_core.demo.samples import make_update


def run(
    tmp_path: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess with only the test's settings (none leak in from the
    developer's shell); ``env`` overrides, e.g. ``SUPERBRAIN_DB`` for another store."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SUPERBRAIN_", "TELEGRAM_"))
    }
    full_env.update(
        {
            "SUPERBRAIN_DB": f"sqlite:///{tmp_path / 'cli.db'}",
            "SUPERBRAIN_DATA_DIR": str(tmp_path / "data"),
            "COLUMNS": "200",
        }
    )
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "superbrain_core", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=tmp_path,
        timeout=120,
    )


def count(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


UPDATES = [make_update(i, message_id=i, text=f"заметка {i}") for i in range(1, 4)]


def test_ingest_counts_new_duplicates_and_edits(tmp_path: Path) -> None:
    arr = write(tmp_path / "a.json", json.dumps(UPDATES, ensure_ascii=False))
    first = run(tmp_path, "ingest", arr)
    assert first.returncode == 0, first.stderr
    assert "new: 3  duplicate: 0  edits: 0" in first.stdout
    again = run(tmp_path, "ingest", arr)
    assert "new: 0  duplicate: 3  edits: 0" in again.stdout
    edit = make_update(
        4, "edited_message", message_id=1, text="заметка 1 (исправлено)", edit_date=1_800_000_000
    )
    envelope = write(tmp_path / "e.json", json.dumps({"ok": True, "result": [edit]}))
    third = run(tmp_path, "ingest", envelope)
    assert "new: 0  duplicate: 0  edits: 1" in third.stdout
    assert (count(tmp_path, "raw_updates"), count(tmp_path, "raw_messages")) == (4, 4)


def test_ingest_from_stdin_as_json_lines(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps(u) for u in UPDATES)
    result = run(tmp_path, "ingest", "-", stdin=lines)
    assert result.returncode == 0, result.stderr
    assert count(tmp_path, "raw_updates") == 3


def test_bad_line_stops_with_location_and_keeps_what_came_before(tmp_path: Path) -> None:
    lines = [json.dumps(u) for u in UPDATES]
    lines.insert(2, '{"update_id": 99, "message": ')  # a line cut short
    path = write(tmp_path / "bad.jsonl", "\n".join(lines))
    result = run(tmp_path, "ingest", path)
    assert result.returncode == 1
    assert "bad.jsonl:3:" in result.stderr
    assert "Everything before that point was stored." in result.stderr
    assert count(tmp_path, "raw_updates") == 2


def test_truncated_file_names_the_offset(tmp_path: Path) -> None:
    text = json.dumps(UPDATES, indent=1)
    path = write(tmp_path / "cut.json", text[: len(text) // 2 + 40])
    result = run(tmp_path, "ingest", path)
    assert result.returncode == 1
    assert (
        "cut.json:" in result.stderr and "offset" in result.stderr and "truncated" in result.stderr
    )
    assert count(tmp_path, "raw_updates") >= 1


def test_object_that_is_not_an_update(tmp_path: Path) -> None:
    path = write(tmp_path / "msg.json", json.dumps(UPDATES[0]["message"]))
    result = run(tmp_path, "ingest", path)
    assert result.returncode == 1
    assert "msg.json:1:1" in result.stderr and "bare Message" in result.stderr


def test_missing_file_and_non_utf8(tmp_path: Path) -> None:
    missing = run(tmp_path, "ingest", str(tmp_path / "nope.json"))
    assert (
        missing.returncode == 1
        and "nope.json" in missing.stderr
        and "cannot read" in missing.stderr
    )
    latin = tmp_path / "latin1.json"
    latin.write_bytes(b'{"update_id": 1, "message": {"text": "caf\xe9"}}')
    bad = run(tmp_path, "ingest", str(latin))
    assert bad.returncode == 1 and "not UTF-8" in bad.stderr


def test_stats_lists_tables_and_types(tmp_path: Path) -> None:
    run(tmp_path, "ingest", write(tmp_path / "a.json", json.dumps(UPDATES)))
    result = run(tmp_path, "stats")
    assert result.returncode == 0, result.stderr
    assert "raw_messages" in result.stdout and "text" in result.stdout and "│ 3" in result.stdout


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = run(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert "Chain of message #1" in result.stdout
    assert "Это задача, а не встреча" in result.stdout
    assert "too_large" in result.stdout
    db = tmp_path / "data" / "demo" / "demo.db"
    with sqlite3.connect(db) as conn:
        chain_replies = conn.execute("SELECT replies FROM message_chains").fetchall()
        assert len(chain_replies) == 1 and len(json.loads(chain_replies[0][0])) == 2
        assert (
            conn.execute("SELECT count(*) FROM raw_messages WHERE message_id = 5").fetchone()[0]
            == 2
        )
        # Night 1 filed message #1 as a meeting; the clarification moved it to tasks.
        history = conn.execute(
            "SELECT destination, superseded_at IS NULL FROM routing_log"
            " WHERE message_id = 1 ORDER BY id"
        ).fetchall()
        assert history == [("events", 0), ("tasks", 1)]
        assert conn.execute("SELECT count(*) FROM events WHERE message_id = 1").fetchone()[0] == 0
        assert (
            conn.execute("SELECT count(*) FROM batch_runs WHERE status = 'ok'").fetchone()[0] == 2
        )
    assert "Night 2" in result.stdout and "Переложено после уточнений: 1." in result.stdout
    blobs = [p for p in (tmp_path / "data" / "demo" / "files").rglob("*") if p.is_file()]
    assert len(blobs) == 4, "five downloadable files, two of them the same bytes"
    assert run(tmp_path, "demo").returncode == 0, "the demo starts fresh every time"


def _demo_blobs(folder: Path) -> list[Path]:
    return [p for p in (folder / "files").rglob("*") if p.is_file() and len(p.name) == 64]


def test_demo_replaces_only_what_it_wrote(tmp_path: Path) -> None:
    """Files the user keeps in data/demo (and in its files/) survive every rerun."""
    demo_dir = tmp_path / "data" / "demo"
    (demo_dir / "files").mkdir(parents=True)
    (demo_dir / "notes.txt").write_text("мои заметки", encoding="utf-8")
    (demo_dir / "files" / "mine.txt").write_text("моё", encoding="utf-8")
    for _ in range(2):
        result = run(tmp_path, "demo", env={"SUPERBRAIN_DATA_DIR": "data"})  # the default
        assert result.returncode == 0, result.stderr
        assert "4 distinct file blobs written" in result.stdout, "a fresh start each time"
    assert (demo_dir / "notes.txt").read_text(encoding="utf-8") == "мои заметки"
    assert (demo_dir / "files" / "mine.txt").read_text(encoding="utf-8") == "моё"
    assert len(_demo_blobs(demo_dir)) == 4
    # The pointer it prints (and the README's) opens the database it made.
    assert "superbrain --db sqlite:///data/demo/demo.db" in " ".join(result.stdout.split())
    assert not (tmp_path / "cli.db").exists(), "SUPERBRAIN_DB is never the demo's database"
    found = run(tmp_path, "--db", "sqlite:///data/demo/demo.db", "search", "встреча")
    assert found.returncode == 0 and "Олегом" in found.stdout, found.stderr


def test_demo_runs_into_the_database_given_with_db(tmp_path: Path) -> None:
    result = run(tmp_path, "--db", "sqlite:///elsewhere/my.db", "demo")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere" / "my.db").is_file()
    assert len(_demo_blobs(tmp_path / "elsewhere")) == 4
    assert not (tmp_path / "data" / "demo").exists() and not (tmp_path / "cli.db").exists()
    again = run(tmp_path, "--db", "sqlite:///elsewhere/my.db", "demo")
    assert again.returncode == 0 and "previous demo" in again.stdout, again.stderr


def test_demo_never_replaces_a_database_it_did_not_make(tmp_path: Path) -> None:
    assert run(tmp_path, "ingest", write(tmp_path / "a.json", json.dumps(UPDATES))).returncode == 0
    before = (tmp_path / "cli.db").read_bytes()
    result = run(tmp_path, "--db", f"sqlite:///{tmp_path / 'cli.db'}", "demo")
    assert result.returncode == 2, result.stderr
    assert "was not made by `superbrain demo`" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "cli.db").read_bytes() == before and count(tmp_path, "raw_updates") == 3
    other = run(tmp_path, "--db", "postgresql://nobody@127.0.0.1:1/x", "demo")
    assert other.returncode == 2 and "sqlite:///PATH" in other.stderr, other.stderr


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SUPERBRAIN_DB": "mysql://admin:hunter2@db/x"}, "SUPERBRAIN_DB"),
        ({"SUPERBRAIN_LOG_FORMAT": "xml"}, "SUPERBRAIN_LOG_FORMAT"),
        ({"SUPERBRAIN_TIMEZONE": "Mars/Olympus"}, "SUPERBRAIN_TIMEZONE"),
        ({"SUPERBRAIN_BOT_ID": "twelve"}, "SUPERBRAIN_BOT_ID"),
    ],
)
def test_configuration_errors_name_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    result = run(tmp_path, "stats", env=env)
    assert result.returncode == 2
    assert variable in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
