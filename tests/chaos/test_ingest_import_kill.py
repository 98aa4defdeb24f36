"""kill -9 mid-ingest and mid-import, then the same command again: everything exactly once.

Real subprocesses of the CLI on SQLite and Postgres. The kill lands once the
first batches are committed; the rerun must add exactly what was missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from superbrain_core.demo.samples import make_update
from tests.chaos.conftest import clean_env, figures, scale
from tests.chaos.test_analyzer_kill import query


def kill_when_stored(
    db_url: str, args: list[str], env: dict[str, str], table: str
) -> tuple[int, bool]:
    """Start ``superbrain args``; SIGKILL it once ``table`` has rows. (rows then, killed?)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "superbrain_core", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                rows = query(db_url, f"SELECT count(*) FROM {table}")[0][0]
            except Exception:  # the schema may not exist yet
                rows = 0
            if rows > 0:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed = proc.returncode == -signal.SIGKILL
    return query(db_url, f"SELECT count(*) FROM {table}")[0][0], killed


def test_kill_9_mid_ingest_then_rerun_stores_each_update_once(db_url: str, tmp_path: Path) -> None:
    count = scale(20_000, 100_000)
    source = tmp_path / "updates.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for n in range(1, count + 1):
            out.write(json.dumps(make_update(n, message_id=n, text=f"запись {n}")) + "\n")
    env = clean_env(SUPERBRAIN_DB=db_url, SUPERBRAIN_DATA_DIR=str(tmp_path / "data"))
    started = time.monotonic()
    before, killed = kill_when_stored(db_url, ["ingest", str(source)], env, "raw_updates")
    rerun = subprocess.run(
        [sys.executable, "-m", "superbrain_core", "ingest", str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    per_update = query(db_url, "SELECT update_id, count(*) FROM raw_updates GROUP BY update_id")
    messages = query(db_url, "SELECT count(*), count(DISTINCT message_id) FROM raw_messages")[0]
    figures(
        f"ingest kill -9 ({db_url.split(':')[0]})",
        updates=count,
        stored_before_kill=before,
        lost=count - len(per_update),
        duplicated=sum(1 for _, n in per_update if n > 1) + (messages[0] - messages[1]),
        seconds=time.monotonic() - started,
    )
    if not killed:
        pytest.fail("ingest finished before the kill: make the input larger")
    assert 0 < before < count
    assert len(per_update) == count and all(n == 1 for _, n in per_update)
    assert messages == (count, count)


def export_with(count: int, folder: Path) -> Path:
    folder.mkdir()
    messages = [
        {
            "id": n,
            "type": "message",
            "date": "2024-03-01T10:00:00",
            "date_unixtime": str(1709287200 + n),
            "from": "Я",
            "from_id": "user5000001",
            "text": f"старое сообщение {n}",
            "text_entities": [{"type": "plain", "text": f"старое сообщение {n}"}],
        }
        for n in range(1, count + 1)
    ]
    chat = {"name": "Мама", "type": "personal_chat", "id": 4000001, "messages": messages}
    (folder / "result.json").write_text(json.dumps(chat, ensure_ascii=False), encoding="utf-8")
    return folder


def test_kill_9_mid_import_then_rerun_stores_each_message_once(db_url: str, tmp_path: Path) -> None:
    count = scale(20_000, 100_000)
    export = export_with(count, tmp_path / "export")
    env = clean_env(SUPERBRAIN_DB=db_url, SUPERBRAIN_DATA_DIR=str(tmp_path / "data"))
    started = time.monotonic()
    args = ["import-desktop", "--batch-size", "500", str(export)]
    before, killed = kill_when_stored(db_url, args, env, "raw_messages")
    rerun = subprocess.run(
        [sys.executable, "-m", "superbrain_core", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    per_message = query(db_url, "SELECT message_id, count(*) FROM raw_messages GROUP BY message_id")
    figures(
        f"import kill -9 ({db_url.split(':')[0]})",
        messages=count,
        stored_before_kill=before,
        lost=count - len(per_message),
        duplicated=sum(1 for _, n in per_message if n > 1),
        seconds=time.monotonic() - started,
    )
    if not killed:
        pytest.fail("the import finished before the kill: make the export larger")
    assert 0 < before < count
    assert len(per_message) == count and all(n == 1 for _, n in per_message)
