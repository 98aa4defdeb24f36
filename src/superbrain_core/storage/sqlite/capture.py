"""The SQLite write path: one update, bot reply or file captured inside the caller's
transaction, with its version number and its place in a reply chain.

Shared by live capture (:mod:`.store`) and bulk import (:mod:`.importing`).
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from typing import Any

from superbrain_core import jsonutil
from superbrain_core.errors import StorageError
from superbrain_core.models import (
    BotResponse,
    BotResponseIn,
    CaptureOutcome,
    CaptureResult,
    ChainReply,
    FileDescriptor,
    NormalizedMessage,
    NormalizedUpdate,
)
from superbrain_core.storage.base import (
    CaptureOptions,
    initial_file_status,
    version_hash,
)
from superbrain_core.storage.sqlite.rows import (
    FILE_INSERT_COLUMNS,
    MESSAGE_INSERT_COLUMNS,
    file_values,
    message_values,
)
from superbrain_core.storage.sqlite.rows import bot_response as _bot_response
from superbrain_core.storage.sqlite.rows import ts as _ts
from superbrain_core.storage.sqlite.rows import utcnow as _now
from superbrain_core.telegram import EDIT_UPDATE_TYPES


def capture_one(
    conn: sqlite3.Connection, update: NormalizedUpdate, opts: CaptureOptions, now: str | None
) -> CaptureResult:
    msg = update.message
    message_json = jsonutil.dumps(msg.raw) if msg is not None else None
    cur = conn.execute(
        "INSERT INTO raw_updates (bot_id, update_id, update_type, payload, received_at, source)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bot_id, update_id) DO NOTHING",
        (
            opts.bot_id,
            update.update_id,
            update.update_type,
            jsonutil.dumps_update(update.payload, update.update_type, message_json),
            now,
            opts.source,
        ),
    )
    if cur.rowcount == 0:
        return CaptureResult(update.update_id, update.update_type, CaptureOutcome.DUPLICATE)
    if msg is None or message_json is None:
        return CaptureResult(update.update_id, update.update_type, CaptureOutcome.NEW)
    is_edit = update.update_type in EDIT_UPDATE_TYPES
    edit_key = _ts(msg.edit_date)
    content = version_hash(msg)
    version = 1
    chain_id: str | None = None
    root_chain: str | None = None
    # The message's stored versions and, in the same round trip, a chain it is
    # already the root of (a reply to it arrived first: a replay, an import).
    for row in conn.execute(
        "SELECT id, version, chain_id,"
        " coalesce(edit_date, '') = coalesce(?3, '') AND content_hash = ?4 AS same"
        " FROM raw_messages WHERE chat_id = ?1 AND message_id = ?2"
        " UNION ALL SELECT NULL, 0, chain_id, 0 FROM message_chains"
        " WHERE chat_id = ?1 AND original_message_id = ?2",
        (msg.chat_id, msg.message_id, edit_key, content),
    ):
        if row[0] is None:
            root_chain = row[2]
            continue
        if row[3]:
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
        version = max(version, row[1] + 1)
        chain_id = chain_id or row[2]
    if chain_id is None and msg.is_clarification and msg.reply_to_message_id is not None:
        chain_id = resolve_chain(conn, msg, now)
    if chain_id is None:
        chain_id = root_chain
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
    if chain_id is not None:
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


def chain_id_of_message(conn: sqlite3.Connection, chat_id: int, message_id: int) -> str | None:
    """The chain a message is in: as a stored member, as a root, or as a bot message."""
    row = conn.execute(
        "SELECT chain_id FROM raw_messages WHERE chat_id = ?1 AND message_id = ?2"
        " AND chain_id IS NOT NULL"
        " UNION ALL SELECT chain_id FROM message_chains"
        " WHERE chat_id = ?1 AND original_message_id = ?2"
        " UNION ALL SELECT chain_id FROM bot_responses WHERE chat_id = ?1 AND message_id = ?2"
        " AND chain_id IS NOT NULL LIMIT 1",
        (chat_id, message_id),
    ).fetchone()
    return str(row[0]) if row else None


def resolve_chain(conn: sqlite3.Connection, msg: NormalizedMessage, now: str | None) -> str:
    """The chain a reply joins, creating it when the replied-to message starts one.

    Resolution order: the replied message's own chain (reply to a reply); a bot
    message resolves through ``bot_responses`` to the user message the bot was
    answering; otherwise the replied message becomes the root.
    """
    assert msg.reply_to_message_id is not None
    target = msg.reply_to_message_id
    existing = chain_id_of_message(conn, msg.chat_id, target)
    if existing:
        return existing
    bot = conn.execute(
        "SELECT id, related_user_message_id, response_text FROM bot_responses"
        " WHERE chat_id = ? AND message_id = ?"
        " ORDER BY related_user_message_id IS NULL, id LIMIT 1",
        (msg.chat_id, target),
    ).fetchone()
    root_id, root_text = target, msg.reply_to_text
    if bot is not None and bot["related_user_message_id"] is not None:
        root_id = int(bot["related_user_message_id"])
        existing = chain_id_of_message(conn, msg.chat_id, root_id)
        if existing:
            conn.execute(
                "UPDATE bot_responses SET chain_id = ? WHERE id = ?", (existing, bot["id"])
            )
            return existing
        root_text = None
    elif bot is not None:
        root_text = bot["response_text"]
    root_row = conn.execute(
        "SELECT user_id, message_text FROM raw_messages WHERE chat_id = ? AND message_id = ?"
        " ORDER BY version DESC LIMIT 1",
        (msg.chat_id, root_id),
    ).fetchone()
    root_user = root_row["user_id"] if root_row else None
    if root_row is not None:
        root_text = root_row["message_text"]
    chain_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO message_chains (chain_id, user_id, original_message_id, original_text,"
        " replies, created_at, updated_at, chat_id) VALUES (?, ?, ?, ?, '[]', ?, ?, ?)",
        (chain_id, root_user, root_id, root_text, now, now, msg.chat_id),
    )
    conn.execute(
        "UPDATE raw_messages SET chain_id = ? WHERE chat_id = ? AND message_id = ?",
        (chain_id, msg.chat_id, root_id),
    )
    # Two statements rather than one with OR, so that each uses its index.
    conn.execute(
        "UPDATE bot_responses SET chain_id = ? WHERE chat_id = ? AND message_id = ?",
        (chain_id, msg.chat_id, target),
    )
    conn.execute(
        "UPDATE bot_responses SET chain_id = ? WHERE chat_id = ? AND related_user_message_id = ?",
        (chain_id, msg.chat_id, root_id),
    )
    return chain_id


def update_chain_member(
    conn: sqlite3.Connection, chain_id: str, msg: NormalizedMessage, now: str | None
) -> None:
    """Bring the chain up to date with a new message version: root text or a reply entry."""
    row = conn.execute(
        "SELECT original_message_id, replies FROM message_chains WHERE chain_id = ?", (chain_id,)
    ).fetchone()
    if row is None:
        return
    if row["original_message_id"] == msg.message_id:
        conn.execute(
            "UPDATE message_chains SET original_text = ?, user_id = coalesce(user_id, ?),"
            " updated_at = ? WHERE chain_id = ?",
            (jsonutil.clean_text(msg.text), msg.user_id, now, chain_id),
        )
        return
    entry = ChainReply(
        message_id=msg.message_id,
        text=jsonutil.clean_text(msg.text),
        date=msg.date,
        user_id=msg.user_id,
        reply_to_message_id=msg.reply_to_message_id,
        reply_to_text=jsonutil.clean_text(msg.reply_to_text),
    ).to_json()
    replies: list[dict[str, Any]] = jsonutil.loads(row["replies"])
    for i, existing in enumerate(replies):
        if existing.get("message_id") == msg.message_id:
            replies[i] = entry  # an edited reply: keep its place, show its newest text
            break
    else:
        replies.append(entry)
    conn.execute(
        "UPDATE message_chains SET replies = ?, updated_at = ? WHERE chain_id = ?",
        (jsonutil.dumps(replies), now, chain_id),
    )


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
