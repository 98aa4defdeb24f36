"""The SQLite write path: one update, bot reply or file captured inside the caller's
transaction, with its version number and its place in a reply chain.

Shared by live capture (:mod:`.store`) and bulk import (:mod:`.importing`).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import attrs

from superbrain_core import jsonutil
from superbrain_core.errors import StorageError
from superbrain_core.models import (
    BotResponse,
    BotResponseIn,
    CaptureOutcome,
    CaptureResult,
    FileDescriptor,
    NormalizedMessage,
    NormalizedUpdate,
)
from superbrain_core.storage.base import (
    CaptureOptions,
    business_chat_key,
    initial_file_status,
    payload_fingerprint,
    version_hash,
)
from superbrain_core.storage.sqlite.chains import (
    chain_id_of_message,
    join_chain,
    make_room,
    update_chain_member,
    version_slot,
)
from superbrain_core.storage.sqlite.rows import (
    FILE_INSERT_COLUMNS,
    MESSAGE_INSERT_COLUMNS,
    file_values,
    message_values,
)
from superbrain_core.storage.sqlite.rows import bot_response as _bot_response
from superbrain_core.storage.sqlite.rows import dt as _dt
from superbrain_core.storage.sqlite.rows import ts as _ts
from superbrain_core.storage.sqlite.rows import utcnow as _now
from superbrain_core.telegram import EDIT_UPDATE_TYPES


def capture_one(
    conn: sqlite3.Connection, update: NormalizedUpdate, opts: CaptureOptions, now: str | None
) -> CaptureResult:
    msg = update.message
    message_json = jsonutil.dumps(msg.raw) if msg is not None else None
    payload_json = jsonutil.dumps_update(update.payload, update.update_type, message_json)
    cur = conn.execute(
        "INSERT INTO raw_updates (bot_id, update_id, update_type, payload, received_at, source)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bot_id, update_id) DO NOTHING",
        (opts.bot_id, update.update_id, update.update_type, payload_json, now, opts.source),
    )
    if cur.rowcount == 0:
        return CaptureResult(
            update.update_id, update.update_type, record_conflict(conn, update, opts, now)
        )
    return capture_message(conn, update, opts, now, message_json)


def capture_message(
    conn: sqlite3.Connection,
    update: NormalizedUpdate,
    opts: CaptureOptions,
    now: str | None,
    message_json: str | None,
) -> CaptureResult:
    """The part of :func:`capture_one` after its update row is stored as new: the
    message version (``message_json`` is its encoded raw JSON), its chain, its files."""
    msg = update.message
    if msg is None or message_json is None:
        return CaptureResult(update.update_id, update.update_type, CaptureOutcome.NEW)
    if msg.business_connection_id is not None:
        msg = in_business_chat(conn, msg, now)
    is_edit = update.update_type in EDIT_UPDATE_TYPES
    content = version_hash(msg)
    stored_edits: list[datetime | None] = []
    known_chain: str | None = None
    for row in conn.execute(
        "SELECT id, version, chain_id, edit_date,"
        " coalesce(edit_date, '') = coalesce(?3, '') AND content_hash = ?4 AS same"
        " FROM raw_messages WHERE chat_id = ?1 AND message_id = ?2 ORDER BY version",
        (msg.chat_id, msg.message_id, _ts(msg.edit_date), content),
    ):
        if row[4]:
            # A new update carrying a version we already hold (for example the
            # same edit captured by two routes): the raw update is kept, nothing else.
            return CaptureResult(
                update.update_id,
                update.update_type,
                CaptureOutcome.DUPLICATE,
                raw_message_id=row[0],
                version=row[1],
                chain_id=row[2],
            )
        stored_edits.append(_dt(row[3]))
        known_chain = known_chain or row[2]
    # Telegram's clock orders the versions, not arrival: a late older edit slots in.
    version = version_slot(stored_edits, msg.edit_date)
    newest = version > len(stored_edits)
    if not newest:
        make_room(conn, msg.chat_id, msg.message_id, version)
    chain_id = join_chain(conn, msg, known_chain, now)
    cur = conn.execute(
        f"INSERT INTO raw_messages ({MESSAGE_INSERT_COLUMNS})"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        message_values(
            msg,
            raw_json=message_json,
            now=now,
            version=version,
            chain_id=chain_id,
            update_id=update.update_id,
            update_type=update.update_type,
            bot_id=opts.bot_id,
            source=opts.source,
            content=content,
        ),
    )
    raw_message_id = int(cur.lastrowid or 0)
    if chain_id is not None and newest:
        update_chain_member(conn, chain_id, msg, now)
    file_ids = tuple(insert_file(conn, msg, f, opts, now) for f in msg.files)
    outcome = CaptureOutcome.EDIT if is_edit or version > 1 else CaptureOutcome.NEW
    return CaptureResult(
        update.update_id,
        update.update_type,
        outcome,
        raw_message_id=raw_message_id,
        version=version,
        chain_id=chain_id,
        file_row_ids=tuple(i for i in file_ids if i is not None),
    )


def in_business_chat(
    conn: sqlite3.Connection, msg: NormalizedMessage, now: str | None
) -> NormalizedMessage:
    """``msg`` keyed in its business connection's block of chat ids (the connection is
    numbered the first time it is seen)."""
    assert msg.business_connection_id is not None
    conn.execute(
        "INSERT INTO business_connections (business_connection_id, created_at) VALUES (?, ?)"
        " ON CONFLICT (business_connection_id) DO NOTHING",
        (msg.business_connection_id, now),
    )
    (number,) = conn.execute(
        "SELECT id FROM business_connections WHERE business_connection_id = ?",
        (msg.business_connection_id,),
    ).fetchone()
    key = business_chat_key(int(number), msg.chat_id)
    return msg if key is None else attrs.evolve(msg, chat_id=key)


def record_conflict(
    conn: sqlite3.Connection, update: NormalizedUpdate, opts: CaptureOptions, now: str | None
) -> CaptureOutcome:
    """An update whose ``update_id`` is stored: a duplicate when the content is the same,
    else a conflict kept beside the first content (once per distinct content)."""
    stored = conn.execute(
        "SELECT payload FROM raw_updates WHERE bot_id = ? AND update_id = ?",
        (opts.bot_id, update.update_id),
    ).fetchone()
    if stored is None or jsonutil.loads(stored[0]) == update.payload:
        return CaptureOutcome.DUPLICATE
    cur = conn.execute(
        "INSERT INTO update_conflicts (bot_id, update_id, update_type, stored_payload, payload,"
        " payload_hash, received_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (bot_id, update_id, payload_hash) DO NOTHING",
        (
            opts.bot_id,
            update.update_id,
            update.update_type,
            stored[0],
            jsonutil.dumps(update.payload),
            payload_fingerprint(update.payload),
            now,
            opts.source,
        ),
    )
    return CaptureOutcome.CONFLICT if cur.rowcount else CaptureOutcome.DUPLICATE


def insert_file(
    conn: sqlite3.Connection,
    msg: NormalizedMessage,
    desc: FileDescriptor,
    opts: CaptureOptions,
    now: str | None,
) -> int | None:
    status, reason = initial_file_status(desc, opts)
    cur = conn.execute(
        f"INSERT INTO raw_files ({FILE_INSERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (chat_id, message_id, file_key) DO NOTHING",
        file_values(msg, desc, status, reason, now),
    )
    return int(cur.lastrowid) if cur.rowcount and cur.lastrowid else None


def insert_bot_response(conn: sqlite3.Connection, r: BotResponseIn) -> BotResponse:
    chain_id = None
    if r.related_user_message_id is not None:
        chain_id = chain_id_of_message(conn, r.chat_id, r.related_user_message_id)
    if chain_id is None and r.message_id is not None and r.is_edit:
        chain_id = chain_id_of_message(conn, r.chat_id, r.message_id)
    created_at = r.created_at or _now()
    # The unique indexes (idempotency key; one original send per message) make
    # a repeated record a no-op; the existing row is then returned.
    cur = conn.execute(
        "INSERT INTO bot_responses (user_id, message_id, response_text, response_type,"
        " related_user_message_id, ai_analysis, chain_id, created_at, chat_id, method,"
        " request, result, error, is_edit, idempotency_key)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        (
            r.user_id,
            r.message_id,
            jsonutil.clean_text(r.response_text),
            r.response_type,
            r.related_user_message_id,
            jsonutil.dumps(r.ai_analysis) if r.ai_analysis is not None else None,
            chain_id,
            _ts(created_at),
            r.chat_id,
            r.method,
            jsonutil.dumps(r.request) if r.request is not None else None,
            jsonutil.dumps(r.result) if r.result is not None else None,
            jsonutil.clean_text(r.error),
            int(r.is_edit),
            r.idempotency_key,
        ),
    )
    if cur.rowcount == 1:
        return BotResponse(
            id=int(cur.lastrowid or 0),
            chat_id=r.chat_id,
            message_id=r.message_id,
            user_id=r.user_id,
            response_text=jsonutil.clean_text(r.response_text),
            response_type=r.response_type,
            related_user_message_id=r.related_user_message_id,
            chain_id=chain_id,
            ai_analysis=r.ai_analysis,
            method=r.method,
            request=r.request,
            result=r.result,
            error=jsonutil.clean_text(r.error),
            created_at=datetime.fromisoformat(_ts(created_at) or ""),
            is_edit=r.is_edit,
        )
    existing = conn.execute(
        "SELECT * FROM bot_responses WHERE idempotency_key = ?"
        " UNION ALL SELECT * FROM bot_responses"
        " WHERE chat_id = ? AND message_id = ? AND is_edit = 0 LIMIT 1",
        (r.idempotency_key, r.chat_id, r.message_id),
    ).fetchone()
    if existing is None:  # pragma: no cover - a conflict implies a row
        raise StorageError("bot response conflicted with a row that is not there")
    return _bot_response(existing)


# -- row conversion ---------------------------------------------------------------
