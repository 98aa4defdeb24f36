"""Capturing a batch of updates on SQLite set-wise: ``executemany`` for the plainly new
rows, the per-row path of :mod:`.capture` for everything else.

Why: per update, the per-row path (:func:`.capture.capture_one`) runs half a
dozen statements (insert the update, read the stored versions, look for a chain
rooted at the message, insert the message, insert its files), each a round trip
through the sqlite3 module with its Python around it. In a bulk load almost every
update is *plainly new*: an ``update_id`` not stored yet, a message nobody has
stored a version of, no reply, no chain rooted at it. For those the per-row path
is known in advance to insert exactly one update row, one message row (version 1,
no chain) and its files; here that is done with one ``executemany`` per table for
a whole run of them, after one query per batch that tells which update ids and
message keys are already stored.

The update rows of the whole batch go first, in input order, with one
``executemany`` (which ids are new is known from the query, so the ids are the
per-row path's); a repeated or conflicting ``update_id`` (also within the batch)
is then recorded as the per-row path records it. For the message rows, everything
that is not plainly new takes the per-row path (:func:`.capture.capture_message`),
in input order: any second version of a message (an edit of a stored message or
of one earlier in the batch), a reply (it joins or creates a chain), a message a
chain is rooted at (a reply to it came first), business messages (their chat is
keyed by the connection). Before each such message the run of plain ones before
it is written, so rows get the same ids, in the same order, as the per-row path
gives; ``tests/storage/test_sqlite_batch_capture.py`` checks that every table
and every result comes out the same either way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from superbrain_core import jsonutil
from superbrain_core.errors import StorageError
from superbrain_core.models import (
    CaptureOutcome,
    CaptureResult,
    NormalizedMessage,
    NormalizedUpdate,
)
from superbrain_core.storage.base import (
    BUSINESS_CHAT_SPAN,
    CaptureOptions,
    initial_file_status,
    version_hash,
)
from superbrain_core.storage.sqlite.capture import capture_message, capture_one, record_conflict
from superbrain_core.storage.sqlite.rows import (
    FILE_INSERT_COLUMNS,
    MESSAGE_INSERT_COLUMNS,
    file_values,
    max_id,
    message_values,
)
from superbrain_core.telegram import EDIT_UPDATE_TYPES

#: Below this many updates a batch goes through the per-row path: the set queries
#: cost more than they save (and a single live capture stays the short path).
MIN_BATCH = 8

_INSERT_UPDATE = (
    "INSERT INTO raw_updates (bot_id, update_id, update_type, payload, received_at, source)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bot_id, update_id) DO NOTHING"
)
_INSERT_MESSAGE = (
    f"INSERT INTO raw_messages ({MESSAGE_INSERT_COLUMNS})"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_FILE = (
    f"INSERT INTO raw_files ({FILE_INSERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (chat_id, message_id, file_key) DO NOTHING"
)
_STORED_UPDATE_IDS = (
    "SELECT update_id FROM raw_updates"
    " WHERE bot_id = ? AND update_id IN (SELECT value FROM json_each(?))"
)
#: ``CROSS JOIN`` keeps the batch's keys as the outer loop, each looked up by index.
_STORED_KEYS = (
    "SELECT DISTINCT m.chat_id, m.message_id FROM json_each(?) AS k"
    " CROSS JOIN raw_messages AS m"
    " WHERE m.chat_id = json_extract(k.value, '$[0]')"
    " AND m.message_id = json_extract(k.value, '$[1]')"
)
_ROOTED_KEYS = (
    "SELECT c.chat_id, c.original_message_id FROM json_each(?) AS k"
    " CROSS JOIN message_chains AS c"
    " WHERE c.chat_id = json_extract(k.value, '$[0]')"
    " AND c.original_message_id = json_extract(k.value, '$[1]')"
)

Key = tuple[int, int]


def capture_batch(
    conn: sqlite3.Connection,
    updates: Sequence[NormalizedUpdate],
    opts: CaptureOptions,
    now: str | None,
) -> list[CaptureResult]:
    """What ``[capture_one(conn, u, opts, now) for u in updates]`` returns and stores,
    with the plainly new updates written set-wise (see the module docstring)."""
    if len(updates) < MIN_BATCH:
        return [capture_one(conn, u, opts, now) for u in updates]
    keys = [(u.message.chat_id, u.message.message_id) for u in updates if u.message is not None]
    stored_ids = _stored_update_ids(conn, opts.bot_id, updates)
    stored_keys = _found(conn, _STORED_KEYS, keys)
    # Chains rooted at a message of the batch: before it, or by a reply in it (below).
    rooted = _found(conn, _ROOTED_KEYS, keys)
    encoded, new = _insert_updates(conn, updates, stored_ids, opts, now)
    results: list[CaptureResult | None] = [None] * len(updates)
    seen_keys: set[Key] = set()
    plain: list[int] = []
    for i, update in enumerate(updates):
        msg = update.message
        if not new[i]:
            # The update row was there (maybe from earlier in this batch): a
            # duplicate or a conflict, as per row; it touches no message row.
            outcome = record_conflict(conn, update, opts, now)
            results[i] = CaptureResult(update.update_id, update.update_type, outcome)
            continue
        if msg is None:
            results[i] = CaptureResult(update.update_id, update.update_type, CaptureOutcome.NEW)
            continue
        key = (msg.chat_id, msg.message_id)
        is_plain = key not in rooted and key not in seen_keys
        is_plain = is_plain and _plain_message(msg, key, stored_keys)
        seen_keys.add(key)
        if is_plain:
            plain.append(i)
            continue
        _insert_rows(conn, updates, encoded, plain, results, opts, now)
        plain = []
        result = results[i] = capture_message(conn, update, opts, now, encoded[i])
        if result.chain_id is not None:
            # The chain may be new, rooted at a later message of the batch (a reply
            # before its parent): that message then takes the per-row path too.
            rooted.update(_root_of(conn, result.chain_id))
    _insert_rows(conn, updates, encoded, plain, results, opts, now)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _insert_updates(
    conn: sqlite3.Connection,
    updates: Sequence[NormalizedUpdate],
    stored_ids: set[int],
    opts: CaptureOptions,
    now: str | None,
) -> tuple[list[str | None], list[bool]]:
    """Store the update rows of the batch that are new, in input order (so their ids
    are the per-row path's); the encoded message JSON of every update, and which
    updates were new (an ``update_id`` neither stored nor earlier in the batch)."""
    encoded: list[str | None] = []
    new: list[bool] = []
    rows = []
    seen: set[int] = set()
    for update in updates:
        msg = update.message
        message_json = jsonutil.dumps(msg.raw) if msg is not None else None
        encoded.append(message_json)
        is_new = update.update_id not in stored_ids and update.update_id not in seen
        seen.add(update.update_id)
        new.append(is_new)
        if is_new:
            payload = jsonutil.dumps_update(update.payload, update.update_type, message_json)
            rows.append(
                (opts.bot_id, update.update_id, update.update_type, payload, now, opts.source)
            )
    before = conn.total_changes
    conn.executemany(_INSERT_UPDATE, rows)
    if conn.total_changes - before != len(rows):  # pragma: no cover - the lock holds
        raise StorageError("raw_updates changed under the write lock of a batch capture")
    return encoded, new


def _plain_message(msg: NormalizedMessage, key: Key, stored: set[Key]) -> bool:
    """Whether the message's first version needs nothing but its rows: nobody stored a
    version of it, it is no reply, and its chat is not keyed by a business connection."""
    return (
        key not in stored
        and msg.business_connection_id is None
        and not (msg.is_clarification and msg.reply_to_message_id is not None)
        # A chat id in the business blocks may be a business chat's stored key.
        and msg.chat_id > -BUSINESS_CHAT_SPAN
    )


def _stored_update_ids(
    conn: sqlite3.Connection, bot_id: int, updates: Sequence[NormalizedUpdate]
) -> set[int]:
    ids = jsonutil.dumps([u.update_id for u in updates])
    return {int(r[0]) for r in conn.execute(_STORED_UPDATE_IDS, (bot_id, ids))}


def _found(conn: sqlite3.Connection, query: str, keys: Sequence[Key]) -> set[Key]:
    """The ``(chat_id, message_id)`` pairs among ``keys`` that ``query`` finds."""
    if not keys:
        return set()
    listed = jsonutil.dumps([list(k) for k in keys])
    return {(int(c), int(m)) for c, m in conn.execute(query, (listed,))}


def _root_of(conn: sqlite3.Connection, chain_id: str) -> set[Key]:
    row = conn.execute(
        "SELECT chat_id, original_message_id FROM message_chains WHERE chain_id = ?", (chain_id,)
    ).fetchone()
    return set() if row is None else {(int(row[0]), int(row[1]))}


def _insert_rows(
    conn: sqlite3.Connection,
    updates: Sequence[NormalizedUpdate],
    encoded: list[str | None],
    run: list[int],
    results: list[CaptureResult | None],
    opts: CaptureOptions,
    now: str | None,
) -> None:
    """The message and file rows :func:`capture_one` writes for a run of plainly new
    updates (their update rows are stored), one statement per table, and the
    results it returns."""
    if not run:
        return
    message_rows = []
    file_rows = []
    for i in run:
        update = updates[i]
        msg = update.message
        message_json = encoded[i]
        assert msg is not None and message_json is not None
        message_rows.append(
            message_values(
                msg,
                raw_json=message_json,
                now=now,
                version=1,
                chain_id=None,
                update_id=update.update_id,
                update_type=update.update_type,
                bot_id=opts.bot_id,
                source=opts.source,
                content=version_hash(msg),
            )
        )
        for desc in msg.files:
            status, reason = initial_file_status(desc, opts)
            file_rows.append(file_values(msg, desc, status, reason, now))
    message_ids = iter(_inserted_ids(conn, "raw_messages", _INSERT_MESSAGE, message_rows))
    file_ids = _inserted_ids(conn, "raw_files", _INSERT_FILE, file_rows)
    new_files = {
        (row[7], row[1], row[10]): row_id
        for row, row_id in zip(file_rows, file_ids, strict=True)
        if row_id is not None
    }
    for i in run:
        update = updates[i]
        msg = update.message
        assert msg is not None
        files: list[int] = []
        for desc in msg.files:
            # Two files of one message under one key: the first is stored, as per row.
            file_key = desc.file_unique_id or desc.file_id or desc.file_type
            row_id = new_files.pop((msg.chat_id, msg.message_id, file_key), None)
            if row_id is not None:
                files.append(row_id)
        is_edit = update.update_type in EDIT_UPDATE_TYPES
        results[i] = CaptureResult(
            update.update_id,
            update.update_type,
            CaptureOutcome.EDIT if is_edit else CaptureOutcome.NEW,
            next(message_ids),
            1,
            None,
            tuple(files),
        )


def _inserted_ids(
    conn: sqlite3.Connection, table: str, insert: str, rows: list[tuple[object, ...]]
) -> list[int | None]:
    """``executemany(insert, rows)`` into ``table``: the row id each row got, ``None``
    for a row the insert skipped (``ON CONFLICT DO NOTHING``).

    SQLite gives a new row the largest row id plus one, so when the largest id
    grew by exactly the number of rows, row ``k`` got ``before + k``; otherwise
    (a skipped row, the id space exhausted) the new ids are read back by key.
    """
    if not rows:
        return []
    before = max_id(conn, table)
    conn.executemany(insert, rows)
    if max_id(conn, table) == before + len(rows):
        return list(range(before + 1, before + 1 + len(rows)))
    if table == "raw_messages":
        found = conn.execute(
            "SELECT chat_id, message_id, id FROM raw_messages WHERE id > ?", (before,)
        )
        by_key = {(c, m): i for c, m, i in found}
        return [by_key.get((row[9], row[1])) for row in rows]
    found = conn.execute(
        "SELECT chat_id, message_id, file_key, id FROM raw_files WHERE id > ?", (before,)
    )
    by_file = {(c, m, k): i for c, m, k, i in found}
    return [by_file.pop((row[7], row[1], row[10]), None) for row in rows]
