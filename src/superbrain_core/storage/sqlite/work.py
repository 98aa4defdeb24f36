"""The analyzer's side of the SQLite store: claims, placements, moves, bookkeeping.

Each function here runs inside one transaction opened by :class:`SqliteStore`
(``BEGIN IMMEDIATE`` for writes), so "delete from the wrong table, insert into
the right one, supersede the log entry, mark the raw rows processed" is one
atomic step, and two analyzer processes on one file serialize on SQLite's write
lock. Table names are only ever taken from :data:`superbrain_core.records.TABLE_COLUMNS`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import attrs

from superbrain_core import jsonutil
from superbrain_core.models import (
    BotResponse,
    JSONDict,
    Placement,
    PlacementResult,
    RawFile,
    RawMessage,
    RouteOutcome,
    RoutingEntry,
    WorkContext,
    WorkFailure,
    WorkItem,
    WorkProblem,
)
from superbrain_core.records import (
    BOOLEAN_COLUMNS,
    INSERT_ONLY_COLUMNS,
    JSON_COLUMNS,
    NONE,
    TABLE_COLUMNS,
    check_task_status,
)
from superbrain_core.storage.sqlite import rows

_IN_CHUNK = 500  # SQLite's default limit on host parameters is far above this

_CLAIMABLE = (
    "m.is_processed = 0 AND m.quarantined_at IS NULL"
    " AND (m.claim_expires_at IS NULL OR m.claim_expires_at <= :now)"
    " AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= :now)"
)

# The message a row is filed under: the earliest stored message of its chain
# (the root, unless the root is a bot message or was never captured). Chain ids
# are globally unique; the index hint keeps the planner off the (chat_id, ...)
# index, which would scan the whole chat for every row.
_WORK_ITEM_SELECT = (
    "SELECT m.id, m.chat_id, m.message_id, m.attempts,"
    " CASE WHEN m.chain_id IS NULL THEN m.message_id ELSE ("
    "   SELECT min(r.message_id) FROM raw_messages r INDEXED BY idx_raw_messages_chain"
    "   WHERE r.chain_id = m.chain_id) END AS target"
    " FROM raw_messages m"
)


def _work_item(row: sqlite3.Row) -> WorkItem:
    return WorkItem(
        id=row["id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        target_message_id=row["target"],
        attempts=row["attempts"],
    )


def claim(
    conn: sqlite3.Connection, worker: str, limit: int, now: str, lease_until: str
) -> list[WorkItem]:
    rows = conn.execute(
        f"{_WORK_ITEM_SELECT} WHERE {_CLAIMABLE} ORDER BY m.id LIMIT :limit",
        {"now": now, "limit": limit},
    ).fetchall()
    items = [_work_item(r) for r in rows]
    for start in range(0, len(items), _IN_CHUNK):
        chunk = [i.id for i in items[start : start + _IN_CHUNK]]
        marks = ",".join("?" * len(chunk))
        conn.execute(
            f"UPDATE raw_messages SET claimed_by = ?, claim_expires_at = ? WHERE id IN ({marks})",
            (worker, lease_until, *chunk),
        )
    return items


def peek(
    conn: sqlite3.Connection,
    after_id: int,
    limit: int,
    now: str,
    reclassify: tuple[str, str] | None,
) -> list[WorkItem]:
    """What a claim would take (plus stale placements with ``reclassify``), writing nothing."""
    stale = ""
    params: dict[str, Any] = {"now": now, "after": after_id, "limit": limit}
    if reclassify is not None:
        stale = (
            " OR m.id IN (SELECT raw_message_id FROM routing_log WHERE superseded_at IS NULL"
            " AND NOT (classifier = :name AND classifier_version = :version))"
        )
        params.update(name=reclassify[0], version=reclassify[1])
    rows = conn.execute(
        f"{_WORK_ITEM_SELECT} WHERE m.id > :after AND (({_CLAIMABLE}){stale})"
        " ORDER BY m.id LIMIT :limit",
        params,
    ).fetchall()
    return [_work_item(r) for r in rows]


def pending_count(conn: sqlite3.Connection, now: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM raw_messages m WHERE {_CLAIMABLE}", {"now": now})
    return int(row.fetchone()[0])


#: Keys per statement when a page's contexts are read together (two host
#: parameters each; SQLite's limit is 32,766 since 3.32).
_KEY_CHUNK = 250


def _keys_cte(keys: Sequence[tuple[int, int]]) -> tuple[str, list[int]]:
    """``WITH k(chat_id, message_id) AS (VALUES ...)`` for ``keys`` and its parameters."""
    rows_sql = ",".join("(?,?)" for _ in keys)
    return f"WITH k(chat_id, message_id) AS (VALUES {rows_sql})", [v for key in keys for v in key]


def load_contexts(
    conn: sqlite3.Connection,
    keys: Sequence[tuple[int, int]],
) -> dict[tuple[int, int], WorkContext]:
    """Every context of a page with a few statements per chunk of keys, not six per key.

    The roots (newest version, the chain id any version knows, the highest row id
    of the message), their files and their current placements are read for the
    whole chunk at once; only a chained message reads its chain (members, the
    bot's messages) on its own.
    """
    unique = list(dict.fromkeys(keys))
    contexts: dict[tuple[int, int], WorkContext] = {}
    for start in range(0, len(unique), _KEY_CHUNK):
        contexts.update(_load_chunk(conn, unique[start : start + _KEY_CHUNK]))
    return contexts


def _load_chunk(
    conn: sqlite3.Connection, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], WorkContext]:
    cte, params = _keys_cte(keys)
    roots: dict[tuple[int, int], tuple[RawMessage, int]] = {}
    for row in conn.execute(
        f"{cte} SELECT m.*,"
        # An older version may know the chain (versions written while a reply
        # created it); the chain is the message's, not one version's.
        " (SELECT x.chain_id FROM raw_messages x WHERE x.chat_id = m.chat_id"
        "  AND x.message_id = m.message_id AND x.chain_id IS NOT NULL LIMIT 1) AS known_chain,"
        " (SELECT max(z.id) FROM raw_messages z WHERE z.chat_id = m.chat_id"
        "  AND z.message_id = m.message_id) AS newest_row"
        " FROM k JOIN raw_messages m ON m.chat_id = k.chat_id AND m.message_id = k.message_id"
        " AND m.version = (SELECT max(v.version) FROM raw_messages v"
        "  WHERE v.chat_id = k.chat_id AND v.message_id = k.message_id)",
        params,
    ):
        root: RawMessage = rows.raw_message(row)
        if root.chain_id is None and row["known_chain"] is not None:
            root = attrs.evolve(root, chain_id=row["known_chain"])
        roots[(root.chat_id, root.message_id)] = (root, int(row["newest_row"] or 0))
    files: dict[tuple[int, int], list[RawFile]] = {}
    for row in conn.execute(
        f"{cte} SELECT f.* FROM k JOIN raw_files f"
        " ON f.chat_id = k.chat_id AND f.message_id = k.message_id ORDER BY f.id",
        params,
    ):
        file = rows.raw_file(row)
        files.setdefault((file.chat_id, file.message_id), []).append(file)
    placements: dict[tuple[int, int], RoutingEntry] = {}
    for row in conn.execute(
        f"{cte} SELECT l.* FROM k JOIN routing_log l"
        " ON l.chat_id = k.chat_id AND l.message_id = k.message_id"
        " WHERE l.superseded_at IS NULL",
        params,
    ):
        entry = rows.routing_entry(row)
        placements[(entry.chat_id, entry.message_id)] = entry
    contexts: dict[tuple[int, int], WorkContext] = {}
    for key in keys:
        found = roots.get(key)
        if found is None:
            continue
        root, newest_row = found
        members: tuple[RawMessage, ...] = ()
        bot: tuple[BotResponse, ...] = ()
        input_version = newest_row
        if root.chain_id is not None:
            members, bot = _chain_of(conn, root)
            if members:
                input_version = _input_version(
                    conn, root.chat_id, (root.message_id, *(m.message_id for m in members))
                )
        contexts[key] = WorkContext(
            root=root,
            members=members,
            bot_messages=bot,
            files=tuple(files.get(key, ())),
            placement=placements.get(key),
            input_version=input_version,
        )
    return contexts


def _chain_of(
    conn: sqlite3.Connection, root: RawMessage
) -> tuple[tuple[RawMessage, ...], tuple[BotResponse, ...]]:
    """The chain's other messages (newest versions, in order) and the bot's messages in it."""
    members = tuple(
        rows.raw_message(r)
        # A member is a message with any version in the chain (its newest may
        # lack the chain id: written while a reply created the chain).
        for r in conn.execute(
            "SELECT * FROM raw_messages m WHERE chat_id = ?2 AND message_id IN"
            " (SELECT message_id FROM raw_messages WHERE chain_id = ?1 AND chat_id = ?2"
            " AND message_id != ?3) AND version = (SELECT max(version) FROM raw_messages"
            " WHERE chat_id = m.chat_id AND message_id = m.message_id)"
            " ORDER BY message_date, message_id",
            (root.chain_id, root.chat_id, root.message_id),
        )
    )
    bot = tuple(
        rows.bot_response(r)
        for r in conn.execute(
            "SELECT * FROM bot_responses WHERE chain_id = ? ORDER BY id", (root.chain_id,)
        )
    )
    return members, bot


def _input_version(conn: sqlite3.Connection, chat_id: int, message_ids: Sequence[int]) -> int:
    """The highest raw row id of every version of the message and of its chain's members.

    Not just the newest versions' ids: an older edit that arrived late has a higher
    id than the newest version, and settling rows "up to input_version" must cover
    it. Monotonic, so a later run never computes less than an earlier one saw."""
    marks = ",".join("?" * len(message_ids))
    row = conn.execute(
        f"SELECT max(id) FROM raw_messages WHERE chat_id = ? AND message_id IN ({marks})",
        (chat_id, *message_ids),
    ).fetchone()
    return int(row[0] or 0)


def _stored_values(conn: sqlite3.Connection, table: str, record_id: int) -> JSONDict | None:
    columns = TABLE_COLUMNS[table]
    row = conn.execute(
        f"SELECT {', '.join(columns)} FROM {table} WHERE id = ?", (record_id,)
    ).fetchone()
    if row is None:
        return None
    return {c: jsonutil.loads(row[c]) if c in JSON_COLUMNS else row[c] for c in columns}


def _column_value(column: str, value: Any) -> Any:
    return jsonutil.dumps(value if value is not None else []) if column in JSON_COLUMNS else value


def _record_values(p: Placement) -> list[Any]:
    """The stored values of ``p``'s record, in ``TABLE_COLUMNS`` order."""
    columns = TABLE_COLUMNS[p.destination]
    values = [_column_value(c, p.values.get(c)) for c in columns]
    if "status" in columns and p.values.get("status") is None:
        values[columns.index("status")] = "open"
    return values


def _record_row(p: Placement, now: str) -> tuple[Any, ...]:
    """``p``'s record as :func:`_insert_sql` (without ``id``) takes it."""
    return (p.raw_message_id, p.chat_id, p.message_id, *_record_values(p), now, now)


def _insert_sql(table: str, with_id: bool) -> str:
    names = ("id",) * with_id + ("raw_message_id", "chat_id", "message_id", *TABLE_COLUMNS[table])
    marks = ", ".join("?" * (len(names) + 2))
    return f"INSERT INTO {table} ({', '.join(names)}, created_at, updated_at) VALUES ({marks})"


def _insert_record(conn: sqlite3.Connection, p: Placement, now: str) -> int:
    cur = conn.execute(_insert_sql(p.destination, with_id=False), _record_row(p, now))
    return int(cur.lastrowid or 0)


def _update_record(
    conn: sqlite3.Connection, p: Placement, record_id: int, stored: JSONDict, now: str
) -> bool:
    changed = [
        c
        for c in TABLE_COLUMNS[p.destination]
        if c not in INSERT_ONLY_COLUMNS and stored.get(c) != p.values.get(c)
    ]
    if not changed:
        return False
    sets = ", ".join(f"{c} = ?" for c in changed)
    conn.execute(
        f"UPDATE {p.destination} SET {sets}, raw_message_id = ?, updated_at = ? WHERE id = ?",
        (*(_column_value(c, p.values.get(c)) for c in changed), p.raw_message_id, now, record_id),
    )
    return True


_LOG_SQL = (
    "INSERT INTO routing_log (raw_message_id, chat_id, message_id, destination, record_id,"
    " classification, classifier, classifier_version, confidence, input_version, run_id,"
    " created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _log(
    conn: sqlite3.Connection, p: Placement, record_id: int | None, run_id: int | None, now: str
) -> None:
    conn.execute(_LOG_SQL, _log_row(p, record_id, run_id, now))


def _log_row(p: Placement, record_id: int | None, run_id: int | None, now: str) -> tuple[Any, ...]:
    return (
        p.raw_message_id,
        p.chat_id,
        p.message_id,
        p.destination,
        record_id,
        jsonutil.dumps(p.classification),
        p.classifier,
        p.classifier_version,
        p.confidence,
        p.input_version,
        run_id,
        now,
    )


_CURRENT_COLUMNS = (
    "id, chat_id, message_id, destination, record_id, classification, classifier,"
    " classifier_version, input_version"
)


def _current_placements(
    conn: sqlite3.Connection, placements: Sequence[Placement]
) -> dict[tuple[int, int], sqlite3.Row]:
    """The current ``routing_log`` entries of the placements' messages and of their chains'
    members, read in one statement per chunk.

    Valid only until the batch writes one of these messages; :func:`apply` re-reads a
    message it has already written.
    """
    keys = list(
        dict.fromkeys((p.chat_id, m) for p in placements for m in (p.message_id, *p.member_ids))
    )
    found: dict[tuple[int, int], sqlite3.Row] = {}
    for start in range(0, len(keys), _KEY_CHUNK):
        cte, params = _keys_cte(keys[start : start + _KEY_CHUNK])
        for row in conn.execute(
            f"{cte} SELECT {', '.join('l.' + c.strip() for c in _CURRENT_COLUMNS.split(','))}"
            " FROM k JOIN routing_log l ON l.chat_id = k.chat_id AND l.message_id = k.message_id"
            " WHERE l.superseded_at IS NULL",
            params,
        ):
            found[(row["chat_id"], row["message_id"])] = row
    return found


def _apply_one(
    conn: sqlite3.Connection,
    p: Placement,
    run_id: int | None,
    now: str,
    current: sqlite3.Row | None,
) -> PlacementResult:
    if p.destination != NONE and p.destination not in TABLE_COLUMNS:
        raise ValueError(f"unknown destination {p.destination!r}")

    def result(
        outcome: RouteOutcome, record_id: int | None, previous: str | None = None
    ) -> PlacementResult:
        return PlacementResult(p.chat_id, p.message_id, outcome, p.destination, record_id, previous)

    if current is None:
        record_id = _insert_record(conn, p, now) if p.destination != NONE else None
        _log(conn, p, record_id, run_id, now)
        return result(RouteOutcome.PLACED, record_id)
    if current["input_version"] > p.input_version:
        return result(RouteOutcome.STALE, current["record_id"], current["destination"])

    def supersede() -> None:
        conn.execute("UPDATE routing_log SET superseded_at = ? WHERE id = ?", (now, current["id"]))

    if current["destination"] == p.destination:
        record_id = current["record_id"]
        fields_changed = False
        if p.destination != NONE:
            stored = _stored_values(conn, p.destination, record_id) if record_id else None
            if stored is None:  # the owner deleted the row by hand: file it again
                record_id = _insert_record(conn, p, now)
                fields_changed = True
            else:
                fields_changed = _update_record(conn, p, record_id, stored, now)
        verdict_changed = (
            fields_changed
            or current["classifier"] != p.classifier
            or current["classifier_version"] != p.classifier_version
            or jsonutil.loads(current["classification"]) != p.classification
        )
        if verdict_changed:
            supersede()
            _log(conn, p, record_id, run_id, now)
        else:
            conn.execute(
                "UPDATE routing_log SET input_version = max(input_version, ?) WHERE id = ?",
                (p.input_version, current["id"]),
            )
        outcome = RouteOutcome.UPDATED if fields_changed else RouteOutcome.UNCHANGED
        return result(outcome, record_id, current["destination"])

    previous = current["destination"]
    _delete_record(conn, previous, current["record_id"])
    record_id = _insert_record(conn, p, now) if p.destination != NONE else None
    supersede()
    _log(conn, p, record_id, run_id, now)
    return result(RouteOutcome.MOVED, record_id, previous)


def _delete_record(conn: sqlite3.Connection, table: str, record_id: int | None) -> None:
    if table == NONE or record_id is None:
        return
    if table not in TABLE_COLUMNS:  # routing_log is data: never trust it as SQL
        raise ValueError(f"routing_log names an unknown table {table!r}")
    conn.execute(f"DELETE FROM {table} WHERE id = ?", (record_id,))


def _absorb_members(conn: sqlite3.Connection, p: Placement, now: str) -> None:
    """Take the chain's other messages out of places they were filed in on their own.

    A reply filed alone (its root was not stored yet) must not stay filed once
    the root arrives and the whole chain is filed under it.
    """
    for member in p.member_ids:
        row = conn.execute(
            "SELECT id, destination, record_id FROM routing_log WHERE chat_id = ?"
            " AND message_id = ? AND superseded_at IS NULL",
            (p.chat_id, member),
        ).fetchone()
        if row is None:
            continue
        _delete_record(conn, row["destination"], row["record_id"])
        conn.execute("UPDATE routing_log SET superseded_at = ? WHERE id = ?", (now, row["id"]))


def _settle_chain(conn: sqlite3.Connection, placements: Sequence[Placement], now: str) -> None:
    """Mark processed every raw row of each target and its chain its verdict has seen.

    Siblings claimed by no one (or quarantined) were part of the input, so they
    need no analysis of their own. One ``executemany`` for the batch: nothing else
    :func:`apply` does reads these flags, so settling after the placements is the
    same as settling after each. The unary ``+`` keeps the planner on the message's
    own index: on ``(is_processed, id)`` it would walk every pending row below
    ``input_version`` for each message.
    """
    conn.executemany(
        "UPDATE raw_messages SET is_processed = 1, processed_at = ?, claimed_by = NULL,"
        " claim_expires_at = NULL, next_attempt_at = NULL"
        " WHERE chat_id = ? AND message_id = ? AND +id <= ? AND +is_processed = 0",
        [
            (now, p.chat_id, message_id, p.input_version)
            for p in placements
            for message_id in (p.message_id, *p.member_ids)
        ],
    )


def _mark_processed(conn: sqlite3.Connection, ids: Sequence[int], now: str) -> None:
    """Settle the claimed rows the placements file (those :func:`_settle_chain` left)."""
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        conn.execute(
            "UPDATE raw_messages SET is_processed = 1, processed_at = ?, claimed_by = NULL,"
            " claim_expires_at = NULL, next_attempt_at = NULL"
            f" WHERE id IN ({marks}) AND is_processed = 0",
            (now, *chunk),
        )


def _place_fresh(
    conn: sqlite3.Connection, fresh: Sequence[Placement], run_id: int | None, now: str
) -> list[PlacementResult]:
    """File messages that have no current placement: one ``executemany`` per table.

    The usual night is almost all first placements, and a statement per record
    and per log row was most of the filing time. Record ids are taken as the
    table's ``max(id)`` onwards, which is what SQLite's rowid choice would give
    (the tables are not ``AUTOINCREMENT``) and safe because the write
    transaction holds the database's only write lock.
    """
    record_ids: list[int | None] = [None] * len(fresh)
    by_table: dict[str, list[int]] = {}
    for index, p in enumerate(fresh):
        if p.destination != NONE:
            by_table.setdefault(p.destination, []).append(index)
    for table, indexes in by_table.items():
        last = rows.max_id(conn, table)
        for offset, index in enumerate(indexes, start=1):
            record_ids[index] = last + offset
        conn.executemany(
            _insert_sql(table, with_id=True),
            [(record_ids[i], *_record_row(fresh[i], now)) for i in indexes],
        )
    conn.executemany(
        _LOG_SQL,
        [_log_row(p, rid, run_id, now) for p, rid in zip(fresh, record_ids, strict=True)],
    )
    return [
        PlacementResult(p.chat_id, p.message_id, RouteOutcome.PLACED, p.destination, rid, None)
        for p, rid in zip(fresh, record_ids, strict=True)
    ]


def apply(
    conn: sqlite3.Connection, placements: Sequence[Placement], run_id: int | None, now: str
) -> list[PlacementResult]:
    current = _current_placements(conn, placements)
    # Messages this batch has written (placed, or absorbed as a member): their
    # entry read above is out of date, so a later placement of them reads it again.
    written: set[tuple[int, int]] = set()
    results: list[PlacementResult] = []
    # First placements wait here and are written together; anything else that
    # reads the tables writes them first, so every read sees what came before it.
    fresh: list[Placement] = []

    def flush_fresh() -> None:
        if fresh:
            results.extend(_place_fresh(conn, fresh, run_id, now))
            fresh.clear()

    for p in placements:
        key = (p.chat_id, p.message_id)
        members = [(p.chat_id, m) for m in p.member_ids]
        if (
            key not in written
            and key not in current
            and (p.destination == NONE or p.destination in TABLE_COLUMNS)
            and not any(m in current or m in written for m in members)
        ):
            # Nothing of it is filed yet: no entry to compare, no member to absorb.
            fresh.append(p)
            written.add(key)
            written.update(members)
            continue
        flush_fresh()
        entry = (
            conn.execute(
                f"SELECT {_CURRENT_COLUMNS} FROM routing_log WHERE chat_id = ?"
                " AND message_id = ? AND superseded_at IS NULL",
                key,
            ).fetchone()
            if key in written
            else current.get(key)
        )
        result = _apply_one(conn, p, run_id, now, entry)
        written.add(key)
        if result.outcome is not RouteOutcome.STALE:
            _absorb_members(conn, p, now)
            written.update(members)
        results.append(result)
    flush_fresh()
    _settle_chain(conn, placements, now)
    _mark_processed(conn, [i for p in placements for i in p.processed_ids], now)
    return results


def record_failures(conn: sqlite3.Connection, failures: Sequence[WorkFailure], now: str) -> None:
    conn.executemany(
        "UPDATE raw_messages SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
        " quarantined_at = ?, claimed_by = NULL, claim_expires_at = NULL"
        " WHERE id = ? AND is_processed = 0",
        [
            (f.error, rows.ts(f.next_attempt_at), now if f.quarantine else None, f.raw_message_id)
            for f in failures
        ],
    )


def extend_claims(conn: sqlite3.Connection, worker: str, lease_until: str) -> int:
    cur = conn.execute(
        "UPDATE raw_messages SET claim_expires_at = ? WHERE claimed_by = ? AND is_processed = 0",
        (lease_until, worker),
    )
    return cur.rowcount


def release_claims(conn: sqlite3.Connection, worker: str) -> int:
    cur = conn.execute(
        "UPDATE raw_messages SET claimed_by = NULL, claim_expires_at = NULL"
        " WHERE claimed_by = ? AND is_processed = 0",
        (worker,),
    )
    return cur.rowcount


def requeue_for_reclassify(conn: sqlite3.Connection, classifier: str, version: str) -> int:
    cur = conn.execute(
        "UPDATE raw_messages SET is_processed = 0, processed_at = NULL, attempts = 0"
        " WHERE is_processed = 1"
        " AND id IN (SELECT raw_message_id FROM routing_log WHERE superseded_at IS NULL"
        " AND NOT (classifier = ? AND classifier_version = ?))",
        (classifier, version),
    )
    return cur.rowcount


def requeue_quarantined(conn: sqlite3.Connection) -> int:
    cur = conn.execute(
        "UPDATE raw_messages SET quarantined_at = NULL, attempts = 0, next_attempt_at = NULL"
        " WHERE quarantined_at IS NOT NULL AND is_processed = 0"
    )
    return cur.rowcount


def work_problems(conn: sqlite3.Connection, limit: int) -> list[WorkProblem]:
    return [
        WorkProblem(
            raw_message_id=r["id"],
            chat_id=r["chat_id"],
            message_id=r["message_id"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            next_attempt_at=rows.dt(r["next_attempt_at"]),
            quarantined_at=rows.dt(r["quarantined_at"]),
        )
        for r in conn.execute(
            "SELECT id, chat_id, message_id, attempts, last_error, next_attempt_at,"
            " quarantined_at FROM raw_messages WHERE is_processed = 0 AND attempts > 0"
            " ORDER BY quarantined_at IS NULL, id LIMIT ?",
            (limit,),
        )
    ]


def start_run(
    conn: sqlite3.Connection, classifier: str, version: str, worker: str, now: str
) -> int:
    cur = conn.execute(
        "INSERT INTO batch_runs (started_at, status, classifier, classifier_version, worker)"
        " VALUES (?, 'running', ?, ?, ?)",
        (now, classifier, version, worker),
    )
    return int(cur.lastrowid or 0)


def finish_run(
    conn: sqlite3.Connection, run_id: int, status: str, counts: JSONDict, digest: str, now: str
) -> None:
    conn.execute(
        "UPDATE batch_runs SET finished_at = ?, status = ?, counts = ?, digest = ? WHERE id = ?",
        (now, status, jsonutil.dumps(counts), digest, run_id),
    )


def routing_history(conn: sqlite3.Connection, chat_id: int, message_id: int) -> list[RoutingEntry]:
    return [
        rows.routing_entry(r)
        for r in conn.execute(
            "SELECT * FROM routing_log WHERE chat_id = ? AND message_id = ? ORDER BY id",
            (chat_id, message_id),
        )
    ]


def list_records(conn: sqlite3.Connection, table: str, after_id: int, limit: int) -> list[JSONDict]:
    if table not in TABLE_COLUMNS:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLE_COLUMNS)}")
    cur = conn.execute(f"SELECT * FROM {table} WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
    names = [d[0] for d in cur.description]
    return [{k: _read(k, v) for k, v in zip(names, r, strict=True)} for r in cur.fetchall()]


def set_task_status(conn: sqlite3.Connection, record_id: int, status: str, now: str) -> bool:
    check_task_status(status)
    cur = conn.execute(
        "UPDATE tasks SET status = ?, updated_at = ? WHERE id = ?", (status, now, record_id)
    )
    return cur.rowcount > 0


def _read(column: str, value: Any) -> Any:
    """A structured table's value as every store returns it (JSON lists, bools)."""
    if column in JSON_COLUMNS:
        return jsonutil.loads(value)
    if column in BOOLEAN_COLUMNS and value is not None:
        return bool(value)
    return value
