"""Full-text search in the embedded SQLite store: an FTS5 index kept current by triggers.

Why a queue and not stemming inside the trigger: SQLite has no stemmer, so a
trigger that indexes directly would have to call a Python function registered
on the connection (``create_function``). Every connection that writes the raw
tables would then need it, and one that does not have it (the ``sqlite3``
shell, a notebook, another tool's import) would fail to insert a message:
capture would depend on search. Instead the triggers (``sqlite_schema_3.sql``)
only note the message key in ``search_pending``, in plain SQL, whoever writes.

Why the index is written at search time and not by each capture: writing
FTS5 in every capture transaction was measured (``bench/search.py``, 200,000
messages) at p50 0.22 → 0.70 ms and p99 0.7 → 39 ms per capture, because FTS5
merges its segments inside whichever small write crosses a threshold. Capture
latency is the first promise of this project, so capture only queues; the
store indexes what is pending (:func:`refresh`, in chunks that each hold the
write lock for a few tens of milliseconds) right before every search, so a
search always sees everything stored before it, from any writer.
``SqliteStore.refresh_search_index`` does the same work when asked
(import-desktop refreshes the index when it finishes; a nightly job may call
it too), so a large backlog does not land on one search.

A database that cannot be written (a read-only copy for a notebook, a
read-only mount) cannot drain the queue. Its searches still give the full
answer: :func:`search` with ``read_only`` leaves pending messages out of the
index's matches and matches them in Python from their stored text.

One index entry per message, not per version: it holds the newest version's
text and the names of all the message's files, so an edit that removes a word
removes the match, and a message is listed once.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from superbrain_core import search as text
from superbrain_core.logs import get_logger
from superbrain_core.search import HitRow, SearchHit, make_hit
from superbrain_core.storage.sqlite.rows import max_id, ts

#: Pending messages indexed per write transaction (about 40 ms of lock each).
PER_CATCH_UP = 1000


def pending(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone() is not None


def refresh(conn: sqlite3.Connection, limit: int = PER_CATCH_UP) -> int:
    """Re-index up to ``limit`` pending messages inside the caller's write transaction;
    how many were handled."""
    rows = conn.execute(
        "SELECT p.chat_id, p.message_id, d.id AS doc_id, m.id AS raw_id, m.message_text,"
        " m.message_date,"
        " (SELECT group_concat(file_name, char(10)) FROM"
        "   (SELECT f.file_name FROM raw_files f WHERE f.chat_id = p.chat_id"
        "    AND f.message_id = p.message_id AND f.file_name IS NOT NULL ORDER BY f.id)) AS files"
        " FROM (SELECT chat_id, message_id FROM search_pending LIMIT ?) p"
        " LEFT JOIN search_docs d ON d.chat_id = p.chat_id AND d.message_id = p.message_id"
        " LEFT JOIN raw_messages m ON m.id = (SELECT n.id FROM raw_messages n"
        "   WHERE n.chat_id = p.chat_id AND n.message_id = p.message_id"
        "   ORDER BY n.version DESC LIMIT 1)",
        (limit,),
    ).fetchall()
    if not rows:
        return 0
    stale = [(r["doc_id"],) for r in rows if r["doc_id"] is not None]
    conn.executemany("DELETE FROM search_fts WHERE rowid = ?", stale)
    # (doc id or None for a new doc, chat, message, raw id, date, bot id, body, files)
    docs: list[tuple[int | None, int, int, int, str, int | None, str | None, str | None]] = []
    for r in rows:
        raw_id, bot_id, body, date = r["raw_id"], None, r["message_text"], r["message_date"]
        if raw_id is None:
            # No captured message under this key: a message the bot sent, if any
            # (its newest row: an edit is a row of its own; a failed send is none).
            bot = conn.execute(
                "SELECT id, response_text, created_at FROM bot_responses WHERE chat_id = ?"
                " AND message_id = ? AND error IS NULL ORDER BY id DESC LIMIT 1",
                (r["chat_id"], r["message_id"]),
            ).fetchone()
            if bot is None:
                if r["doc_id"] is not None:  # every version deleted, or files only so far
                    conn.execute("DELETE FROM search_docs WHERE id = ?", (r["doc_id"],))
                continue
            raw_id, bot_id, body, date = 0, bot["id"], bot["response_text"], bot["created_at"]
        files = r["files"] if bot_id is None else None
        docs.append((r["doc_id"], r["chat_id"], r["message_id"], raw_id, date, bot_id, body, files))
    conn.executemany(
        "UPDATE search_docs SET raw_message_id = ?, message_date = ?, bot_response_id = ?"
        " WHERE id = ?",
        [(d[3], d[4], d[5], d[0]) for d in docs if d[0] is not None],
    )
    # New docs in one statement; their ids read back by key (unique in search_docs).
    added = [d[1:6] for d in docs if d[0] is None]
    new_ids: dict[tuple[int, int], int] = {}
    if added:
        before = max_id(conn, "search_docs")
        conn.executemany(
            "INSERT INTO search_docs (chat_id, message_id, raw_message_id, message_date,"
            " bot_response_id) VALUES (?, ?, ?, ?, ?)",
            added,
        )
        new_ids = {
            (c, m): i
            for i, c, m in conn.execute(
                "SELECT id, chat_id, message_id FROM search_docs WHERE id > ?", (before,)
            )
        }
    entries: list[tuple[int, str, str]] = []
    for doc_id, chat_id, message_id, _, _, _, body, files in docs:
        if doc_id is None:
            doc_id = new_ids.get((chat_id, message_id))
            if doc_id is None:  # pragma: no cover - ids past 2**63 - 1 are picked at random
                (doc_id,) = conn.execute(
                    "SELECT id FROM search_docs WHERE chat_id = ? AND message_id = ?",
                    (chat_id, message_id),
                ).fetchone()
        entries.append((doc_id, text.index_text(body), text.index_text(files)))
    conn.executemany("INSERT INTO search_fts (rowid, body, files) VALUES (?, ?, ?)", entries)
    conn.executemany(
        "DELETE FROM search_pending WHERE chat_id = ? AND message_id = ?",
        [(r["chat_id"], r["message_id"]) for r in rows],
    )
    return len(rows)


def is_read_only(exc: BaseException) -> bool:
    """Whether ``exc`` (or the SQLite error it wraps) says the database cannot be written."""
    cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
    name = getattr(cause, "sqlite_errorname", "") if isinstance(cause, sqlite3.Error) else ""
    return str(name).startswith("SQLITE_READONLY")


def search(
    conn: sqlite3.Connection,
    query_terms: tuple[str, ...],
    *,
    limit: int,
    chat_id: int | None,
    since: datetime | None,
    until: datetime | None,
    read_only: bool = False,
) -> list[SearchHit]:
    """Messages whose indexed terms hold every query term, newest first.

    Terms are made of letters and digits only, so quoting each one gives an
    FTS5 expression that cannot be a syntax error; juxtaposed phrases mean AND.

    ``read_only``: the caller could not drain ``search_pending`` (a read-only
    file or mount), so entries of pending messages may be stale or missing.
    Those messages are left out of the index's answer and matched here in
    Python instead, from their stored text (:func:`_unindexed_page`): the
    answer is the same as after a refresh, only slower the more is pending.
    """
    match = " ".join(f'"{t}"' for t in query_terms)
    where = ["search_fts MATCH ?"]
    params: list[object] = [match]
    if chat_id is not None:
        where.append("d.chat_id = ?")
        params.append(chat_id)
    if since is not None:
        where.append("d.message_date >= ?")
        params.append(ts(since))
    if until is not None:
        where.append("d.message_date < ?")
        params.append(ts(until))
    if read_only:
        where.append(
            "NOT EXISTS (SELECT 1 FROM search_pending q"
            " WHERE q.chat_id = d.chat_id AND q.message_id = d.message_id)"
        )
    params.append(limit)
    # The page of matches, ordered by the date kept in search_docs (CROSS JOIN
    # keeps the full-text index the outer loop; driving from the date index
    # instead re-runs the match per message).
    page = (
        "SELECT d.id, d.chat_id, d.message_id, d.raw_message_id,"
        " d.message_date, d.bot_response_id"
        " FROM search_fts s CROSS JOIN search_docs d ON d.id = s.rowid"
        f" WHERE {' AND '.join(where)}"
        " ORDER BY d.message_date DESC, d.chat_id, d.message_id DESC LIMIT ?"
    )
    wanted = frozenset(query_terms)
    if read_only:
        indexed = [tuple(r) for r in conn.execute(page, params)]
        unindexed, scanned = _unindexed_page(conn, wanted, chat_id, since, until)
        merged = sorted(indexed + unindexed, key=lambda r: (r[4], -r[1], r[2]), reverse=True)[
            :limit
        ]
        get_logger(__name__).warning(
            "search_index_not_refreshed",
            reason="the database is read-only",
            unindexed_messages=scanned,
            matched_without_index=len(unindexed),
        )
        # The merged page goes back in as JSON; its unindexed rows have no id.
        page = (
            "SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS chat_id,"
            " json_extract(value, '$[2]') AS message_id,"
            " json_extract(value, '$[3]') AS raw_message_id,"
            " json_extract(value, '$[4]') AS message_date,"
            " json_extract(value, '$[5]') AS bot_response_id FROM json_each(?)"
        )
        params = [json.dumps(merged)]
    # Each step materialized so SQLite cannot reorder them: the page; then the
    # messages and chain roots of that page only; then their placements, by
    # index probes.
    rows = conn.execute(
        f"WITH page AS MATERIALIZED ({page}),"
        " keyed AS MATERIALIZED (SELECT p.chat_id, p.message_id, p.message_date,"
        "   coalesce(m.id, b.id) AS raw_id, coalesce(m.version, 1) AS version,"
        "   coalesce(m.message_type, b.response_type) AS message_type,"
        "   CASE WHEN m.id IS NULL THEN 'bot_response' ELSE m.source END AS source,"
        "   CASE WHEN m.id IS NULL THEN b.response_text ELSE m.message_text END"
        "   AS message_text, m.id IS NULL AS from_bot,"
        "   (SELECT f.body FROM search_fts f WHERE f.rowid = p.id) AS body,"
        # "+c.chat_id": find chain members by the chain index, not by scanning the chat.
        "   CASE WHEN m.chain_id IS NOT NULL THEN (SELECT min(c.message_id) FROM raw_messages c"
        "    WHERE c.chain_id = m.chain_id AND +c.chat_id = p.chat_id) END AS root_id"
        "   FROM page p LEFT JOIN raw_messages m ON m.id = p.raw_message_id"
        "   LEFT JOIN bot_responses b ON b.id = p.bot_response_id"
        "   WHERE m.id IS NOT NULL OR b.id IS NOT NULL)"
        " SELECT k.*, coalesce(own.destination, root.destination) AS destination,"
        " CASE WHEN own.id IS NOT NULL THEN own.record_id ELSE root.record_id END AS record_id"
        " FROM keyed k"
        " LEFT JOIN routing_log own ON own.chat_id = k.chat_id"
        "   AND own.message_id = k.message_id AND own.superseded_at IS NULL"
        " LEFT JOIN routing_log root ON root.chat_id = k.chat_id"
        "   AND root.message_id = k.root_id AND root.superseded_at IS NULL"
        " ORDER BY k.message_date DESC, k.chat_id, k.message_id DESC",
        params,
    ).fetchall()
    hits = []
    for r in rows:
        names = tuple(
            n
            for (n,) in conn.execute(
                "SELECT file_name FROM raw_files WHERE chat_id = ? AND message_id = ?"
                " AND file_name IS NOT NULL ORDER BY id",
                (r["chat_id"], r["message_id"]),
            )
        )
        body = r["body"].split() if r["body"] is not None else text.terms(r["message_text"])
        row = HitRow(
            chat_id=r["chat_id"],
            message_id=r["message_id"],
            date=datetime.fromisoformat(r["message_date"]),
            message_type=r["message_type"],
            text=r["message_text"],
            text_matches=wanted <= set(body),
            source=r["source"],
            version=r["version"],
            raw_message_id=r["raw_id"],
            file_names=names,
            destination=r["destination"],
            record_id=r["record_id"],
            from_bot=bool(r["from_bot"]),
        )
        hits.append(make_hit(row, wanted))
    return hits


def _unindexed_page(
    conn: sqlite3.Connection,
    wanted: frozenset[str],
    chat_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[tuple[None, int, int, int, str, None]], int]:
    """Pending messages whose newest text and file names hold every wanted term,
    as page rows without an index id; and how many pending messages were read."""
    where: list[str] = []
    params: list[object] = []
    if chat_id is not None:
        where.append("p.chat_id = ?")
        params.append(chat_id)
    if since is not None:
        where.append("m.message_date >= ?")
        params.append(ts(since))
    if until is not None:
        where.append("m.message_date < ?")
        params.append(ts(until))
    cursor = conn.execute(
        "SELECT p.chat_id, p.message_id, m.id AS raw_id, m.message_text, m.message_date,"
        " (SELECT group_concat(f.file_name, char(10)) FROM raw_files f WHERE f.chat_id = p.chat_id"
        "   AND f.message_id = p.message_id AND f.file_name IS NOT NULL) AS files"
        " FROM search_pending p"
        # A message whose every version was deleted has nothing to find.
        " JOIN raw_messages m ON m.id = (SELECT n.id FROM raw_messages n"
        "   WHERE n.chat_id = p.chat_id AND n.message_id = p.message_id"
        "   ORDER BY n.version DESC LIMIT 1)" + (f" WHERE {' AND '.join(where)}" if where else ""),
        params,
    )
    found, scanned = [], 0
    for r in cursor:
        scanned += 1
        if wanted <= set(text.terms(r["message_text"])) | set(text.terms(r["files"])):
            found.append(
                (None, r["chat_id"], r["message_id"], r["raw_id"], r["message_date"], None)
            )
    return found, scanned
