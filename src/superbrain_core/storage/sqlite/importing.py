"""The SQLite side of :meth:`Store.import_messages`: exported messages in one transaction.

Kept out of :mod:`sqlite` (which only forwards to it) because it is a second
write path with its own rule: an import adds a message only when its
``(chat_id, message_id)`` has no stored version at all. That is what makes a
re-import add nothing and keeps an import from adding a version next to what
the bot captured live (the two describe the same message in different words:
export entities and paths versus Bot API objects, so a content comparison
would see an edit that never happened).

Speed: a whole batch (thousands of messages) is one ``BEGIN IMMEDIATE``
transaction of prepared single-row statements, which SQLite's statement cache
makes cheap; plain ``INSERT`` statements, so triggers on ``raw_messages`` and
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
from superbrain_core.storage.sqlite.chains import join_chain, update_chain_member
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
# Whether the key has a stored version.
_LOOKUP = "SELECT 1 FROM raw_messages WHERE chat_id = ? AND message_id = ? LIMIT 1"


def import_batch(
    conn: sqlite3.Connection,
    items: Sequence[ImportedMessage],
    opts: CaptureOptions,
    now: str,
) -> list[int | None]:
    """Store the messages whose keys are new; the new row id per item, ``None`` if skipped."""
    ids: list[int | None] = []
    for item in items:
        msg = item.message
        stored = conn.execute(_LOOKUP, (msg.chat_id, msg.message_id)).fetchone()
        if stored is not None:
            ids.append(None)
            continue
        chain_id = join_chain(conn, msg, None, now)
        cur = conn.execute(_INSERT_MESSAGE, _message_row(msg, chain_id, opts, now))
        if not cur.rowcount:  # pragma: no cover - the lookup above runs under the write lock
            ids.append(None)
            continue
        if chain_id is not None:
            update_chain_member(conn, chain_id, msg, now)
        for imported in item.files:
            conn.execute(_INSERT_FILE, _file_row(msg, imported, now))
        ids.append(int(cur.lastrowid or 0))
    return ids


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
