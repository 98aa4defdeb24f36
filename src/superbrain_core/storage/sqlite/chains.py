"""Reply chains and version order on SQLite, independent of the order messages arrive in.

Live capture, a spool replay, ``ingest`` and a Desktop import all reorder a
conversation: a reply can arrive before the message it answers, an old edit
after a newer one. Whatever the order, the result is the one in-order arrival
would give:

* **versions** of a message are numbered by Telegram's own clock: the original
  (no ``edit_date``) first, then the edits by ``edit_date``, arrival breaking a
  tie (two edits in one second). A late, older edit is slotted in and the newer
  versions move up one, so "the newest version" is always the newest edit;
* **chains**: a message that started a chain (a reply to it arrived first) and
  later turns out to be a reply itself brings its whole chain into its parent's
  chain (:func:`merge_chains`); the replies list is kept in Telegram's order
  (message date, then id), never in arrival order. The merged chain's messages
  become work for the analyzer again.

The Postgres functions in ``sql/0008_arrival_order.sql`` do the same.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from superbrain_core import jsonutil
from superbrain_core.models import ChainReply, NormalizedMessage

#: Where a reply entry without a readable date sorts: first.
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def version_slot(stored_edits: Sequence[datetime | None], edit_date: datetime | None) -> int:
    """The version number a new version with ``edit_date`` takes among ``stored_edits``
    (the ``edit_date`` of every stored version): after the original and every edit
    made at or before it, so arrival order only breaks ties."""
    if edit_date is None:
        return 1 + sum(1 for e in stored_edits if e is None)
    return 1 + sum(1 for e in stored_edits if e is None or e <= edit_date)


def make_room(conn: sqlite3.Connection, chat_id: int, message_id: int, version: int) -> None:
    """Move versions ``version`` and up one place up. Through negative numbers, because
    ``(chat_id, message_id, version)`` is unique after every row, not per statement."""
    conn.execute(
        "UPDATE raw_messages SET version = -(version + 1)"
        " WHERE chat_id = ? AND message_id = ? AND version >= ?",
        (chat_id, message_id, version),
    )
    conn.execute(
        "UPDATE raw_messages SET version = -version"
        " WHERE chat_id = ? AND message_id = ? AND version < 0",
        (chat_id, message_id),
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


def join_chain(
    conn: sqlite3.Connection, msg: NormalizedMessage, known: str | None, now: str | None
) -> str | None:
    """The chain a new version of ``msg`` belongs to, merging chains where needed.

    ``known`` is the chain an already stored version is in. A reply joins its
    target's chain; a chain already rooted at ``msg`` (its replies came first)
    is then merged into that chain, or is ``msg``'s own chain when it is no reply.
    """
    chain_id = known
    if chain_id is None and msg.is_clarification and msg.reply_to_message_id is not None:
        chain_id = resolve_chain(conn, msg, now)
    row = conn.execute(
        "SELECT chain_id FROM message_chains WHERE chat_id = ? AND original_message_id = ?",
        (msg.chat_id, msg.message_id),
    ).fetchone()
    rooted = str(row[0]) if row is not None else None
    if rooted is None or rooted == chain_id:
        return chain_id
    if chain_id is None:
        return rooted
    merge_chains(conn, chain_id, rooted, now)
    return chain_id


def merge_chains(conn: sqlite3.Connection, into: str, absorbed: str, now: str | None) -> None:
    """Fold chain ``absorbed`` (rooted at a message now known to be a reply) into ``into``.

    Its messages and the bot's messages move over, its replies join the list in
    Telegram's order, its row goes (a chain row is derived from the messages),
    and its messages are marked unprocessed: filed as a half-conversation
    before, they must be filed again as part of the whole one.
    """
    lists = dict(
        conn.execute(
            "SELECT chain_id, replies FROM message_chains WHERE chain_id IN (?, ?)",
            (into, absorbed),
        ).fetchall()
    )
    conn.execute(
        "UPDATE raw_messages SET chain_id = ?, is_processed = 0, processed_at = NULL"
        " WHERE chain_id = ?",
        (into, absorbed),
    )
    conn.execute("UPDATE bot_responses SET chain_id = ? WHERE chain_id = ?", (into, absorbed))
    replies: list[dict[str, Any]] = jsonutil.loads(lists.get(into) or "[]")
    seen = {r.get("message_id") for r in replies}
    replies += [
        r for r in jsonutil.loads(lists.get(absorbed) or "[]") if r.get("message_id") not in seen
    ]
    conn.execute(
        "UPDATE message_chains SET replies = ?, updated_at = ? WHERE chain_id = ?",
        (jsonutil.dumps(in_telegram_order(replies)), now, into),
    )
    conn.execute("DELETE FROM message_chains WHERE chain_id = ?", (absorbed,))


def in_telegram_order(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reply entries by message date, then message id: the order they were written in."""
    return sorted(replies, key=_order_key)


def _order_key(entry: dict[str, Any]) -> tuple[datetime, int]:
    """Where a reply entry sorts: its date (unreadable ones first), then its message id."""
    raw = entry.get("date")
    try:
        date = datetime.fromisoformat(raw) if isinstance(raw, str) else _EARLIEST
    except ValueError:
        date = _EARLIEST
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    message_id = entry.get("message_id")
    return date, message_id if isinstance(message_id, int) else 0


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
    """Bring the chain up to date with the message's newest version: root text or a reply
    entry. Callers pass only a version that is the newest (an older edit arriving late
    changes nothing the chain shows).

    A new reply that sorts last (the usual case: replies arrive in the order they
    were written) is appended to the stored JSON text as it is; decoding, sorting
    and re-encoding the whole list for every reply made a long chain quadratic.
    SQLite's JSON functions tell, without a round trip through Python objects,
    whether the message already has an entry and what the last entry is.
    """
    row = conn.execute(
        "SELECT original_message_id, replies,"
        " EXISTS (SELECT 1 FROM json_each(replies)"
        " WHERE json_extract(value, '$.message_id') = ?2) AS listed,"
        # '$[#-1]' would need SQLite 3.31; the last index is spelled out instead.
        f" CASE WHEN json_array_length(replies) > 0 THEN {_LAST.format('date')} END"
        " AS last_date,"
        f" CASE WHEN json_array_length(replies) > 0 THEN {_LAST.format('message_id')} END"
        " AS last_id"
        " FROM message_chains WHERE chain_id = ?1",
        (chain_id, msg.message_id),
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
    stored: str = row["replies"]
    last = {"date": row["last_date"], "message_id": row["last_id"]}
    if not row["listed"] and _appendable(stored) and _order_key(last) <= _order_key(entry):
        # The list is kept sorted, so the entry goes last: the text of the whole
        # list re-encoded is the stored text with the entry's text added.
        encoded = jsonutil.dumps(entry)
        text = f"[{encoded}]" if stored == "[]" else f"{stored[:-1]},{encoded}]"
    else:
        replies: list[dict[str, Any]] = [
            r for r in jsonutil.loads(stored) if r.get("message_id") != msg.message_id
        ]
        replies.append(entry)
        text = jsonutil.dumps(in_telegram_order(replies))
    conn.execute(
        "UPDATE message_chains SET replies = ?, updated_at = ? WHERE chain_id = ?",
        (text, now, chain_id),
    )


#: The last reply entry's ``{}`` (SQL, on the ``replies`` column).
_LAST = "json_extract(replies, '$[' || (json_array_length(replies) - 1) || '].{}')"


def _appendable(replies: str) -> bool:
    """Whether ``replies`` is a list as :func:`jsonutil.dumps` writes it (compact), so
    that text can be added before its closing bracket."""
    return replies == "[]" or (replies.startswith("[{") and replies.endswith("}]"))
