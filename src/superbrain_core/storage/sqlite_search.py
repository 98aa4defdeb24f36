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
``SqliteStore.refresh_search_index`` does the same work when asked (after an
import, from a nightly job), so a large backlog does not land on one search.

One index entry per message, not per version: it holds the newest version's
text and the names of all the message's files, so an edit that removes a word
removes the match, and a message is listed once.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from superbrain_core import search as text
from superbrain_core.search import HitRow, SearchHit, make_hit
from superbrain_core.storage.sqlite_rows import ts

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
    gone = [(r["doc_id"],) for r in rows if r["doc_id"] is not None and r["raw_id"] is None]
    conn.executemany("DELETE FROM search_docs WHERE id = ?", gone)
    entries: list[tuple[int, str, str]] = []
    for r in rows:
        if r["raw_id"] is None:
            continue  # every version deleted (or only files without a message so far)
        doc_id = r["doc_id"]
        if doc_id is None:
            cur = conn.execute(
                "INSERT INTO search_docs (chat_id, message_id, raw_message_id, message_date)"
                " VALUES (?, ?, ?, ?)",
                (r["chat_id"], r["message_id"], r["raw_id"], r["message_date"]),
            )
            doc_id = int(cur.lastrowid or 0)
        else:
            conn.execute(
                "UPDATE search_docs SET raw_message_id = ?, message_date = ? WHERE id = ?",
                (r["raw_id"], r["message_date"], doc_id),
            )
        entries.append((doc_id, text.index_text(r["message_text"]), text.index_text(r["files"])))
    conn.executemany("INSERT INTO search_fts (rowid, body, files) VALUES (?, ?, ?)", entries)
    conn.executemany(
        "DELETE FROM search_pending WHERE chat_id = ? AND message_id = ?",
        [(r["chat_id"], r["message_id"]) for r in rows],
    )
    return len(rows)


def search(
    conn: sqlite3.Connection,
    query_terms: tuple[str, ...],
    *,
    limit: int,
    chat_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> list[SearchHit]:
    """Messages whose indexed terms hold every query term, newest first.

    Terms are made of letters and digits only, so quoting each one gives an
    FTS5 expression that cannot be a syntax error; juxtaposed phrases mean AND.
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
    params.append(limit)
    # Three steps, each materialized so SQLite cannot reorder them: the page of
    # matches, ordered by the date kept in search_docs (CROSS JOIN keeps the
    # full-text index the outer loop; driving from the date index instead
    # re-runs the match per message); then the messages and chain roots of that
    # page only; then their placements, by index probes.
    rows = conn.execute(
        "WITH page AS MATERIALIZED (SELECT d.id, d.chat_id, d.message_id, d.raw_message_id,"
        "   d.message_date FROM search_fts s CROSS JOIN search_docs d ON d.id = s.rowid"
        f"  WHERE {' AND '.join(where)}"
        "   ORDER BY d.message_date DESC, d.chat_id, d.message_id DESC LIMIT ?),"
        " keyed AS MATERIALIZED (SELECT p.chat_id, p.message_id, p.message_date,"
        "   m.id AS raw_id, m.version, m.message_type, m.source, m.message_text,"
        "   (SELECT f.body FROM search_fts f WHERE f.rowid = p.id) AS body,"
        # "+c.chat_id": find chain members by the chain index, not by scanning the chat.
        "   CASE WHEN m.chain_id IS NOT NULL THEN (SELECT min(c.message_id) FROM raw_messages c"
        "    WHERE c.chain_id = m.chain_id AND +c.chat_id = p.chat_id) END AS root_id"
        "   FROM page p JOIN raw_messages m ON m.id = p.raw_message_id)"
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
    wanted = frozenset(query_terms)
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
        row = HitRow(
            chat_id=r["chat_id"],
            message_id=r["message_id"],
            date=datetime.fromisoformat(r["message_date"]),
            message_type=r["message_type"],
            text=r["message_text"],
            text_matches=wanted <= set(r["body"].split()),
            source=r["source"],
            version=r["version"],
            raw_message_id=r["raw_id"],
            file_names=names,
            destination=r["destination"],
            record_id=r["record_id"],
        )
        hits.append(make_hit(row, wanted))
    return hits
