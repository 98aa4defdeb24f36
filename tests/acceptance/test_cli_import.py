"""`superbrain import-desktop` in a real subprocess: summary, re-runs, exit codes, nothing lost."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from tests.acceptance.test_cli import count, run

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "desktop_export"


def test_import_prints_a_summary_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    export = FIXTURES / "supergroup_2021"
    first = run(tmp_path, "import-desktop", str(export))
    assert first.returncode == 0, first.stderr
    assert "chats: 1  messages: 4 new, 0 already stored" in first.stdout
    assert "files: 2 stored, 0 deduplicated, 0 missing, 0 refused, 0 failed" in first.stdout
    again = run(tmp_path, "import-desktop", str(export / "result.json"))
    assert again.returncode == 0, again.stderr
    assert "messages: 0 new, 4 already stored" in again.stdout
    assert "files: 0 stored" in again.stdout
    assert count(tmp_path, "raw_messages") == 4
    assert len(list((tmp_path / "data" / "files").glob("*/*/*"))) == 2
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        sources = conn.execute("SELECT DISTINCT source FROM raw_messages").fetchall()
    assert sources == [("desktop_export",)]
    # The search index caught up at the end of the import, not at the first search.
    assert count(tmp_path, "search_pending") == 0


def test_the_timezone_option_reads_old_local_dates(tmp_path: Path) -> None:
    result = run(
        tmp_path, "import-desktop", "--timezone", "Asia/Tashkent", str(FIXTURES / "single_2020")
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        (date,) = conn.execute(
            "SELECT message_date FROM raw_messages WHERE message_id = 101"
        ).fetchone()
    assert date.startswith("2020-02-01T05:00:00")  # 10:00 in Tashkent (UTC+5)


def test_a_truncated_export_exits_1_naming_the_spot_and_keeps_what_came_before(
    tmp_path: Path,
) -> None:
    text = (FIXTURES / "single_2020" / "result.json").read_bytes()
    cut = text.index(b'"id": 105')
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "result.json").write_bytes(text[:cut])
    result = run(tmp_path, "import-desktop", "--batch-size", "2", str(partial))
    assert result.returncode == 1
    line = text[:cut].count(b"\n") + 1
    assert f"result.json:{line}:" in result.stderr.replace("\n", "")
    assert f"(offset {cut})" in result.stderr
    assert "looks truncated" in result.stderr
    assert "Everything before that point was stored" in result.stderr
    assert count(tmp_path, "raw_messages") == 4
    # What was stored is said before the error, so nobody has to query to know.
    assert "stopped early; stored until then:" in result.stdout
    assert "chats: 1  messages: 4 new, 0 already stored" in result.stdout


def test_a_storage_failure_mid_import_exits_1_clearly_and_keeps_the_earlier_batches(
    tmp_path: Path,
) -> None:
    first = run(tmp_path, "import-desktop", str(FIXTURES / "supergroup_2021"))
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        # A real failure of the database while the third batch is written.
        conn.execute(
            "CREATE TRIGGER refuse_105 BEFORE INSERT ON raw_messages"
            " WHEN NEW.message_id = 105 BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    result = run(tmp_path, "import-desktop", "--batch-size", "2", str(FIXTURES / "single_2020"))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "ExceptionGroup" not in result.stderr
    assert "storage error:" in result.stderr and "disk says no" in result.stderr
    assert "Batches stored before the error are kept" in result.stderr
    assert "chats: 1  messages: 4 new, 0 already stored" in result.stdout
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        ids = [r[0] for r in conn.execute("SELECT message_id FROM raw_messages ORDER BY id")]
    assert ids == [7, 8, 9, 10, 101, 102, 103, 104]


def test_refused_paths_are_reported_and_exit_3(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "single_2020", export)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"not yours")
    (export / "photos" / "photo_1@01-02-2020_10-00-00.jpg").unlink()
    (export / "photos" / "photo_1@01-02-2020_10-00-00.jpg").symlink_to(secret)
    result = run(tmp_path, "import-desktop", str(export))
    assert result.returncode == 3, result.stderr
    assert "1 refused" in result.stdout
    assert "refused (not read):" in result.stderr
    assert "points outside the export folder" in result.stderr
    assert count(tmp_path, "raw_messages") == 6


def test_a_missing_export_and_a_bad_timezone_are_clear_errors(tmp_path: Path) -> None:
    missing = run(tmp_path, "import-desktop", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert "no such file or folder" in missing.stderr
    zone = run(
        tmp_path, "import-desktop", "--timezone", "Mars/Olympus", str(FIXTURES / "single_2020")
    )
    assert zone.returncode == 2
    assert "unknown time zone 'Mars/Olympus'" in zone.stderr


def test_a_folder_without_result_json_is_one_clear_line_and_touches_nothing(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "Telegram Desktop"
    folder.mkdir()
    (folder / "notes.txt").write_text("not an export")
    result = run(tmp_path, "import-desktop", str(folder))
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "no result.json found in this folder" in lines[0] and str(folder) in lines[0]
    assert "result.json itself" in lines[0], "it says what to pass instead"
    assert "Everything before that point was stored" not in result.stderr
    assert "stopped early" not in result.stdout
    assert not (tmp_path / "cli.db").exists(), "nothing was opened or created"


def test_an_export_that_is_not_utf8_is_a_clear_error_with_the_byte_offset(
    tmp_path: Path,
) -> None:
    text = (FIXTURES / "single_2020" / "result.json").read_bytes()
    spot = text.index("Купи хлеба".encode())
    export = tmp_path / "export"
    export.mkdir()
    (export / "result.json").write_bytes(text[:spot] + b"\xed\xa0\x80" + text[spot + 2 :])
    result = run(tmp_path, "import-desktop", str(export))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "UnicodeDecodeError" not in result.stderr
    assert "not valid UTF-8" in result.stderr and f"(offset {spot})" in result.stderr
    assert "in message 101" in result.stderr


def test_attachments_that_failed_to_save_are_listed_exit_5_and_are_saved_later(
    tmp_path: Path,
) -> None:
    """A write failure (here: a wrong data dir, a file where the files folder should
    be) is not the export's fault: recorded as such, listed, exit 5, and the next
    import, or `superbrain files retry`, saves the files once the cause is fixed."""
    export = FIXTURES / "supergroup_2021"
    files = tmp_path / "data" / "files"
    files.parent.mkdir(parents=True)
    files.write_text("not a folder")
    first = run(tmp_path, "import-desktop", str(export))
    assert first.returncode == 5, first.stderr
    assert "2 not saved" in first.stdout and "0 failed" in first.stdout
    assert first.stderr.count("not saved:") == 2
    assert "files retry" in first.stderr
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        rows = conn.execute("SELECT status, download_reason FROM raw_files").fetchall()
    assert len(rows) == 2
    assert all(s == "failed" and r.startswith("saving it failed: ") for s, r in rows)
    # Still broken: the re-import tries again, and still says so.
    still = run(tmp_path, "import-desktop", str(export))
    assert still.returncode == 5 and "2 not saved" in still.stdout, still.stdout
    # Fixed: the next import saves them (its messages are already stored).
    files.unlink()
    again = run(tmp_path, "import-desktop", str(export))
    assert again.returncode == 0, again.stderr
    assert "0 not saved, 2 saved now" in again.stdout and "4 already stored" in again.stdout
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        statuses = conn.execute("SELECT DISTINCT status FROM raw_files").fetchall()
    assert statuses == [("stored",)]
    assert len(list(files.glob("*/*/*"))) == 2


def test_files_retry_saves_what_an_import_could_not(tmp_path: Path) -> None:
    files = tmp_path / "data" / "files"
    files.parent.mkdir(parents=True)
    files.write_text("not a folder")
    assert run(tmp_path, "import-desktop", str(FIXTURES / "supergroup_2021")).returncode == 5
    broken = run(tmp_path, "files", "retry")
    assert broken.returncode == 5 and broken.stderr.count("not saved:") == 2, broken.stderr
    files.unlink()
    fixed = run(tmp_path, "files", "retry")
    assert fixed.returncode == 0, fixed.stderr
    assert "files saved now: 2, still not saved: 0" in fixed.stdout
    assert run(tmp_path, "files", "retry").stdout.startswith("files saved now: 0")
    assert len(list(files.glob("*/*/*"))) == 2
