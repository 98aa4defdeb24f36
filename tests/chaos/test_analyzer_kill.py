"""kill -9 of a real ``superbrain batch`` mid-run, then the CronJob's retry at once.

The retry must finish the dead run's messages (not exit "ok" without them, as
when their 15-minute leases blocked it), within two minutes of the crash, file
every message exactly once, and close the dead run's ``batch_runs`` row as
``crashed``. On SQLite and on Postgres.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from superbrain_core.demo.samples import make_update
from tests.acceptance.loopback import classifier
from tests.chaos.conftest import clean_env, figures, scale


def query(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            return list(conn.execute(sql).fetchall())
    with psycopg.connect(db_url) as conn:
        return list(conn.execute(sql.encode()).fetchall())


def test_kill_9_mid_batch_the_retry_finishes_the_dead_runs_messages(
    db_url: str, tmp_path: Path
) -> None:
    count = scale(120, 600)
    updates = [make_update(n, message_id=n, text=f"Купить вещь {n}") for n in range(1, count + 1)]
    source = tmp_path / "updates.json"
    source.write_text(json.dumps(updates, ensure_ascii=False), encoding="utf-8")
    base = clean_env(SUPERBRAIN_DB=db_url, SUPERBRAIN_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "superbrain_core", "ingest", str(source)],
        env=base,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    calls = 0
    lock = threading.Lock()
    enough = threading.Event()

    def slow(body: dict[str, Any]) -> tuple[int, dict[str, Any] | str]:
        nonlocal calls
        with lock:
            calls += 1
            if calls >= count // 3:
                enough.set()
        time.sleep(0.02)
        return 200, {"type": "task", "confidence": 0.9, "title": str(body.get("message"))}

    with classifier(slow) as url:
        env = {**base, "SUPERBRAIN_CLASSIFIER": "webhook", "N8N_WEBHOOK_BASE": url}
        batch = [sys.executable, "-m", "superbrain_core", "batch", "--classifier", "webhook"]
        first = subprocess.Popen(
            [*batch, "--concurrency", "4"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert enough.wait(timeout=120), "the first run never got going"
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        killed_at = time.monotonic()
        filed_before = query(
            db_url, "SELECT count(*) FROM raw_messages WHERE is_processed" + _true(db_url)
        )[0][0]
        retry = subprocess.run(
            [*batch, "--concurrency", "8"], env=env, capture_output=True, text=True, timeout=300
        )
        finished_after = time.monotonic() - killed_at
    assert retry.returncode == 0, retry.stdout + retry.stderr

    current = dict(
        query(
            db_url,
            "SELECT message_id, count(*) FROM routing_log WHERE superseded_at IS NULL"
            " GROUP BY message_id",
        )
    )
    tasks = query(db_url, "SELECT message_id, count(*) FROM tasks GROUP BY message_id")
    runs = [r[0] for r in query(db_url, "SELECT status FROM batch_runs ORDER BY id")]
    lost = count - len(current)
    duplicated = sum(1 for n in current.values() if n > 1) + sum(1 for _, n in tasks if n > 1)
    figures(
        f"analyzer kill -9 mid-batch ({db_url.split(':')[0]})",
        messages=count,
        filed_before_kill=filed_before,
        lost=lost,
        duplicated=duplicated,
        retry_finished_seconds_after_kill=finished_after,
    )
    assert 0 < filed_before < count, "the kill landed mid-run"
    assert lost == 0 and duplicated == 0
    assert len(tasks) == count
    assert runs == ["crashed", "ok"], runs
    assert finished_after < 120, "the dead run's messages are finished within two minutes"
    assert (
        query(db_url, "SELECT count(*) FROM raw_messages WHERE claimed_by IS NOT NULL")[0][0] == 0
    )


def _true(db_url: str) -> str:
    return " = 1" if db_url.startswith("sqlite") else ""
