"""Lean baselines: the least work each path could do, measured beside ours in one run.

The machines this runs on are shared and noisy, so an absolute figure means
little from one run to the next; a share of a baseline measured a moment
earlier on the same machine does. Each baseline does only what any program
storing the same input would have to do -- decode the JSON, pick out the
keys, ``executemany`` into SQLite in WAL mode in large transactions -- and
none of our guarantees: no verbatim raw text kept beside parsed fields, no
idempotency checks, no edit versions, no chains, no search index, no files.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

BATCH = 5_000

_SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS updates (update_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    chat_id INTEGER NOT NULL, message_id INTEGER NOT NULL, date INTEGER, text TEXT,
    body TEXT NOT NULL, PRIMARY KEY (chat_id, message_id)
);
"""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(_SCHEMA)
    return conn


def _chunks(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def lean_ingest(lines: list[str], path: Path) -> float:
    """Updates/s: decode each JSON line, insert the update and its message row."""
    conn = _connect(path)
    started = time.perf_counter()
    for chunk in _chunks(lines):
        updates = []
        messages = []
        for line in chunk:
            update = json.loads(line)
            updates.append((update["update_id"], line))
            body = update.get("message") or update.get("edited_message")
            if body is not None:
                messages.append(
                    (
                        body["chat"]["id"],
                        body["message_id"],
                        body.get("date"),
                        body.get("text") or body.get("caption"),
                        json.dumps(body, ensure_ascii=False),
                    )
                )
        conn.execute("BEGIN")
        conn.executemany("INSERT OR IGNORE INTO updates VALUES (?, ?)", updates)
        conn.executemany("INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?)", messages)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(lines) / elapsed


def lean_desktop_import(export: Path, path: Path) -> float:
    """Messages/s: load a Desktop ``result.json`` and insert one row per message."""
    conn = _connect(path)
    started = time.perf_counter()
    data = json.loads(export.read_text(encoding="utf-8"))
    count = 0
    rows = []
    for chat in data["chats"]["list"]:
        for message in chat["messages"]:
            text = message.get("text")
            if isinstance(text, list):
                text = "".join(p if isinstance(p, str) else p.get("text", "") for p in text)
            rows.append(
                (
                    chat["id"],
                    message["id"],
                    int(message.get("date_unixtime") or 0),
                    text,
                    json.dumps(message, ensure_ascii=False),
                )
            )
            count += 1
            if len(rows) >= BATCH:
                conn.execute("BEGIN")
                conn.executemany("INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
                rows = []
    conn.execute("BEGIN")
    conn.executemany("INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def lean_single_capture(updates: list[dict[str, Any]], path: Path) -> tuple[float, float]:
    """(p50, p99) ms of one transaction per update, at the store's default durability."""
    conn = _connect(path)
    latencies = []
    for update in updates:
        started = time.perf_counter()
        line = json.dumps(update, ensure_ascii=False)
        conn.execute("BEGIN")
        conn.execute("INSERT OR IGNORE INTO updates VALUES (?, ?)", (update["update_id"], line))
        conn.execute("COMMIT")
        latencies.append((time.perf_counter() - started) * 1000)
    conn.close()
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))]


def concurrency_limit(messages: int, latency_s: float, concurrency: int) -> float:
    """Seconds a perfectly parallel run needs: N·L/C (the analyzer's floor)."""
    return messages * latency_s / concurrency
