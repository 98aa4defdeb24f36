"""The SQLite side of :meth:`Store.import_messages`: exported messages in one transaction.

Kept out of :mod:`sqlite` (which only forwards to it) because it is a second
write path with its own rule: an import adds a message only when its
``(chat_id, message_id)`` has no stored version at all. That is what makes a
re-import add nothing and keeps an import from adding a version next to what
the bot captured live (the two describe the same message in different words:
export entities and paths versus Bot API objects, so a content comparison
would see an edit that never happened).

Speed: a whole batch (thousands of messages) is one ``BEGIN IMMEDIATE``
transaction; the messages that are not replies are looked up with one query per
run (the keys as one JSON parameter) and inserted with ``executemany``, not a
lookup and an insert per message; plain ``INSERT`` statements, so triggers on ``raw_messages`` and
``raw_files`` (the search index) see imported rows like captured ones. Chains
reuse the capture path's own resolution (:func:`sqlite.resolve_chain`), so a
reply links to its root whether the root was imported, captured live, or
arrives later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from superbrain_core import jsonutil
from superbrain_core.models import ImportedFile, ImportedMessage, NormalizedMessage
from superbrain_core.storage.base import CaptureOptions, version_hash
from superbrain_core.storage.sqlite.capture import resolve_chain, update_chain_member
from superbrain_core.storage.sqlite.rows import (
    FILE_INSERT_COLUMNS,
    MESSAGE_INSERT_COLUMNS,
    file_values,
    message_values,
)

_INSERT_MESSAGE = (
    f"INSERT INTO raw_messages ({MESSAGE_INSERT_COLUMNS})"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT DO NOTHING"
)
_INSERT_FILE = (
    f"INSERT INTO raw_files ({FILE_INSERT_COLUMNS}, file_hash, file_path)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (chat_id, message_id, file_key) DO NOTHING"
)
# Whether the key is stored (kind 0) and, in the same round trip, a chain the
# message is already the root of (kind 1: a reply to it was stored first).
_LOOKUP = (
    "SELECT 0, NULL FROM raw_messages WHERE chat_id = ?1 AND message_id = ?2"
    " UNION ALL SELECT 1, chain_id FROM message_chains"
    " WHERE chat_id = ?1 AND original_message_id = ?2"
)
# The same for a whole run of keys at once, passed as one JSON array of pairs.
_LOOKUP_MANY = (
    "WITH k(chat_id, message_id) AS MATERIALIZED (SELECT json_extract(value, '$[0]'),"
    " json_extract(value, '$[1]') FROM json_each(?1))"
    " SELECT 0, k.chat_id, k.message_id, NULL FROM k WHERE EXISTS (SELECT 1 FROM raw_messages m"
    "  WHERE m.chat_id = k.chat_id AND m.message_id = k.message_id)"
    " UNION ALL SELECT 1, c.chat_id, c.original_message_id, c.chain_id FROM k"
    " JOIN message_chains c ON c.chat_id = k.chat_id AND c.original_message_id = k.message_id"
)


def import_batch(
    conn: sqlite3.Connection,
    items: Sequence[ImportedMessage],
    opts: CaptureOptions,
    now: str,
) -> list[int | None]:
    """Store the messages whose keys are new; the new row id per item, ``None`` if skipped.

    Replies (clarifications) resolve their chain one at a time, in order, through
    the capture path; the messages between them are stored as a run: one lookup
    for the whole run, one ``executemany`` for its messages and one for its files.
    A run is stored before the reply after it is resolved, so a reply in the same
    batch as its root finds the root exactly as if they came one by one.
    """
    ids: list[int | None] = [None] * len(items)
    run: list[int] = []
    for index, item in enumerate(items):
        msg = item.message
        if msg.is_clarification and msg.reply_to_message_id is not None:
            _store_run(conn, items, run, ids, opts, now)
            run = []
            ids[index] = _store_one(conn, item, opts, now)
        else:
            run.append(index)
    _store_run(conn, items, run, ids, opts, now)
    return ids


def _store_one(
    conn: sqlite3.Connection, item: ImportedMessage, opts: CaptureOptions, now: str
) -> int | None:
    """One message through the capture path's chain resolution."""
    msg = item.message
    root_chain: str | None = None
    for kind, chain in conn.execute(_LOOKUP, (msg.chat_id, msg.message_id)):
        if kind == 0:
            return None
        root_chain = chain
    chain_id: str | None = None
    if msg.is_clarification and msg.reply_to_message_id is not None:
        chain_id = resolve_chain(conn, msg, now)
    chain_id = chain_id or root_chain
    cur = conn.execute(_INSERT_MESSAGE, _message_row(msg, chain_id, opts, now))
    if not cur.rowcount:  # pragma: no cover - the lookup above runs under the write lock
        return None
    if chain_id is not None:
        update_chain_member(conn, chain_id, msg, now)
    conn.executemany(_INSERT_FILE, [_file_row(msg, f, now) for f in item.files])
    return int(cur.lastrowid or 0)


def _store_run(
    conn: sqlite3.Connection,
    items: Sequence[ImportedMessage],
    run: list[int],
    ids: list[int | None],
    opts: CaptureOptions,
    now: str,
) -> None:
    """Store the messages at ``run`` (none of them a reply) with set-wide statements,
    writing each new row's id into ``ids``."""
    if not run:
        return
    keys = [(items[i].message.chat_id, items[i].message.message_id) for i in run]
    stored: set[tuple[int, int]] = set()
    roots: dict[tuple[int, int], str] = {}
    for kind, chat_id, message_id, chain in conn.execute(_LOOKUP_MANY, (jsonutil.dumps(keys),)):
        if kind == 0:
            stored.add((chat_id, message_id))
        else:
            roots[(chat_id, message_id)] = chain
    rows: list[tuple[object, ...]] = []
    files: list[tuple[object, ...]] = []
    members: list[tuple[str, int]] = []
    fresh: dict[tuple[int, int], int] = {}
    for index, key in zip(run, keys, strict=True):
        if key in stored or key in fresh:  # stored before, or earlier in this run
            continue
        fresh[key] = index
        msg = items[index].message
        chain_id = roots.get(key)
        rows.append(_message_row(msg, chain_id, opts, now))
        if chain_id is not None:
            members.append((chain_id, index))
        files.extend(_file_row(msg, f, now) for f in items[index].files)
    if not rows:
        return
    (before,) = conn.execute("SELECT coalesce(max(id), 0) FROM raw_messages").fetchone()
    conn.executemany(_INSERT_MESSAGE, rows)
    # Under the write lock nothing else inserts, so the rows past ``before`` are this run's.
    for row_id, chat_id, message_id in conn.execute(
        "SELECT id, chat_id, message_id FROM raw_messages WHERE id > ?", (before,)
    ):
        index = fresh.get((chat_id, message_id), -1)
        if index >= 0:
            ids[index] = int(row_id)
    for (chat_id, message_id), index in fresh.items():
        if ids[index] is None:  # pragma: no cover - rowids past 2**63 are chosen at random
            row = conn.execute(
                "SELECT id FROM raw_messages WHERE chat_id = ? AND message_id = ? AND version = 1",
                (chat_id, message_id),
            ).fetchone()
            ids[index] = int(row[0]) if row is not None else None
    for chain_id, index in members:
        update_chain_member(conn, chain_id, items[index].message, now)
    conn.executemany(_INSERT_FILE, files)


def stored_keys(conn: sqlite3.Connection, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """The keys among ``keys`` with at least one stored version."""
    found = conn.execute(
        "SELECT DISTINCT k.chat_id, k.message_id FROM (SELECT json_extract(value, '$[0]')"
        " AS chat_id, json_extract(value, '$[1]') AS message_id FROM json_each(?)) k"
        " WHERE EXISTS (SELECT 1 FROM raw_messages m WHERE m.chat_id = k.chat_id"
        " AND m.message_id = k.message_id)",
        (jsonutil.dumps([list(k) for k in keys]),),
    )
    return {(int(c), int(m)) for c, m in found}


def _message_row(
    msg: NormalizedMessage, chain_id: str | None, opts: CaptureOptions, now: str
) -> tuple[object, ...]:
    return message_values(
        msg,
        raw_json=jsonutil.dumps(msg.raw),
        now=now,
        version=1,
        chain_id=chain_id,
        update_id=None,
        update_type=None,
        bot_id=opts.bot_id,
        source=opts.source,
        content=version_hash(msg),
    )


def _file_row(msg: NormalizedMessage, imported: ImportedFile, now: str) -> tuple[object, ...]:
    values = file_values(msg, imported.descriptor, imported.status, imported.reason, now)
    return (*values, imported.file_hash, imported.file_path)
