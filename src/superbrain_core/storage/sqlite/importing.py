"""The SQLite side of :meth:`Store.import_messages`: exported messages in one transaction.

Kept out of :mod:`sqlite` (which only forwards to it) because it is a second
write path with its own rule: an import adds a message only when its
``(chat_id, message_id)`` has no stored version at all. That is what makes a
re-import add nothing and keeps an import from adding a version next to what
the bot captured live (the two describe the same message in different words:
export entities and paths versus Bot API objects, so a content comparison
would see an edit that never happened).

Speed (``bench/desktop_import.py``): a whole batch (thousands of messages) is
one ``BEGIN IMMEDIATE`` transaction in three passes, so most messages cost one
row in one ``executemany`` instead of a lookup, a chain query and an insert of
their own:

1. **which keys are new**: one query for the whole batch (:func:`stored_keys`),
   under the write lock, so nothing can slip in between; a key repeated inside
   the batch is stored once, from its first occurrence, as before;
2. **the rows**: every new message, then every file row, in the batch's order,
   by ``executemany`` (plain ``INSERT`` statements, so the triggers on
   ``raw_messages`` and ``raw_files``, the search queue, see imported rows like
   captured ones), with ``chain_id`` left empty;
3. **chains**, in the batch's order, only for the messages that take part in
   one: a reply, or a message a chain is rooted at (a reply to it came first:
   stored before this batch, or earlier in it). Each goes through the capture
   path's own :func:`~superbrain_core.storage.sqlite.chains.join_chain` and
   :func:`~superbrain_core.storage.sqlite.chains.update_chain_member`, so a
   reply links to its root whether the root was imported, captured live, or
   arrives later.

Why inserting first and linking after gives the rows the per-message order
gave (``tests/history/test_import_fast_path.py`` compares the two on mixed
exports): chain resolution only ever reads a message's row for its ``chain_id``
(still empty for the batch's later messages, as if absent) and for a root's
text and sender, which the root's own turn in pass 3 writes into the chain
anyway (a chain's root is always linked in its turn, since it is rooted). Row
ids follow the batch's order as before.
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
    max_id,
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
_ROOTED = (
    "SELECT DISTINCT c.chat_id, c.original_message_id FROM (SELECT"
    " json_extract(value, '$[0]') AS chat_id, json_extract(value, '$[1]') AS message_id"
    " FROM json_each(?)) k JOIN message_chains c"
    " ON c.chat_id = k.chat_id AND c.original_message_id = k.message_id"
)

Key = tuple[int, int]


def import_batch(
    conn: sqlite3.Connection,
    items: Sequence[ImportedMessage],
    opts: CaptureOptions,
    now: str,
) -> list[int | None]:
    """Store the messages whose keys are new; the new row id per item, ``None`` if skipped.

    Runs inside the caller's write transaction (see the module docstring for the passes).
    """
    keys = [(item.message.chat_id, item.message.message_id) for item in items]
    taken = stored_keys(conn, keys) if keys else set()
    new: list[int] = []  # positions in ``items`` of the messages to store
    for n, key in enumerate(keys):
        if key not in taken:
            taken.add(key)  # a repeat later in the batch is skipped
            new.append(n)
    if not new:
        return [None] * len(items)
    ids = _insert_rows(conn, [items[n] for n in new], opts, now)
    _link_chains(conn, [items[n].message for n in new], ids, now)
    out: list[int | None] = [None] * len(items)
    for n, row_id in zip(new, ids, strict=True):
        out[n] = row_id
    return out


def _insert_rows(
    conn: sqlite3.Connection, items: Sequence[ImportedMessage], opts: CaptureOptions, now: str
) -> list[int | None]:
    """Insert the message rows (no chain yet) and then their file rows; each row's id."""
    before = max_id(conn, "raw_messages")
    # Rows built as they are inserted (a generator), not held as a batch-long list.
    conn.executemany(_INSERT_MESSAGE, (_message_row(i.message, None, opts, now) for i in items))
    # Ids are given in insert order past the largest; read back rather than assumed.
    found: dict[Key, int] = {
        (c, m): i
        for i, c, m in conn.execute(
            "SELECT id, chat_id, message_id FROM raw_messages WHERE id > ?", (before,)
        )
    }
    ids: list[int | None] = []
    for item in items:
        msg = item.message
        row_id = found.get((msg.chat_id, msg.message_id))
        if row_id is None:  # pragma: no cover - ids past 2**63 - 1 are picked at random
            row = conn.execute(
                "SELECT id FROM raw_messages WHERE chat_id = ? AND message_id = ? AND version = 1",
                (msg.chat_id, msg.message_id),
            ).fetchone()
            row_id = int(row[0]) if row is not None else None
        ids.append(row_id)
    files = [
        _file_row(item.message, imported, now)
        for item, row_id in zip(items, ids, strict=True)
        if row_id is not None
        for imported in item.files
    ]
    if files:
        conn.executemany(_INSERT_FILE, files)
    return ids


def _link_chains(
    conn: sqlite3.Connection,
    messages: Sequence[NormalizedMessage],
    ids: Sequence[int | None],
    now: str,
) -> None:
    """Put the new messages that take part in a chain into it, in the batch's order."""
    rooted = _rooted(conn, [(m.chat_id, m.message_id) for m in messages])
    for msg, row_id in zip(messages, ids, strict=True):
        key = (msg.chat_id, msg.message_id)
        is_reply = msg.is_clarification and msg.reply_to_message_id is not None
        if row_id is None or not (is_reply or key in rooted):
            continue
        chain_id = join_chain(conn, msg, None, now)
        if chain_id is None:
            continue
        conn.execute("UPDATE raw_messages SET chain_id = ? WHERE id = ?", (chain_id, row_id))
        update_chain_member(conn, chain_id, msg, now)
        # The chain may be new, rooted at a message later in this batch: that
        # message must take its turn here too, as it would have on arrival.
        root = conn.execute(
            "SELECT chat_id, original_message_id FROM message_chains WHERE chain_id = ?",
            (chain_id,),
        ).fetchone()
        if root is not None:
            rooted.add((int(root[0]), int(root[1])))


def _rooted(conn: sqlite3.Connection, keys: Sequence[Key]) -> set[Key]:
    """The keys among ``keys`` that a stored chain is rooted at."""
    found = conn.execute(_ROOTED, (jsonutil.dumps(keys),))
    return {(int(c), int(m)) for c, m in found}


def stored_keys(conn: sqlite3.Connection, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """The keys among ``keys`` with at least one stored version."""
    found = conn.execute(
        "SELECT DISTINCT k.chat_id, k.message_id FROM (SELECT json_extract(value, '$[0]')"
        " AS chat_id, json_extract(value, '$[1]') AS message_id FROM json_each(?)) k"
        " WHERE EXISTS (SELECT 1 FROM raw_messages m WHERE m.chat_id = k.chat_id"
        " AND m.message_id = k.message_id)",
        (jsonutil.dumps(keys),),
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
