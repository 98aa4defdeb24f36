"""The analyzer's side of the Postgres store: thin calls of the ``sql/0003`` functions.

Claims (``FOR UPDATE SKIP LOCKED`` with a lease), placements (advisory-locked
per message, moves in one transaction) and bookkeeping all live in SQL, so the
Supabase backend runs exactly the same code through ``rpc``. Reading the
contexts is plain SELECTs over a whole page at once: five round trips per page,
not per message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
import psycopg
from psycopg.rows import DictRow, TupleRow, dict_row

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
from superbrain_core.routing import JSON_COLUMNS, TABLE_COLUMNS
from superbrain_core.storage import postgres_rows as rows

Connection = psycopg.AsyncConnection[TupleRow]


async def _dicts(conn: Connection, query: str, params: Sequence[Any] = ()) -> list[DictRow]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query.encode("utf-8"), params)
    return await cur.fetchall()


async def _scalar(conn: Connection, query: str, params: Sequence[Any] = ()) -> Any:
    cur = await conn.execute(query.encode("utf-8"), params)
    row = await cur.fetchone()
    return row[0] if row else None


def work_items(found: list[DictRow]) -> list[WorkItem]:
    """Rows of ``superbrain_claim_work``/``superbrain_peek_work`` (driver rows or JSON objects)."""
    return [
        WorkItem(
            id=r["id"],
            chat_id=r["chat_id"],
            message_id=r["message_id"],
            target_message_id=r["target_message_id"],
            attempts=r["attempts"],
        )
        for r in found
    ]


async def claim(
    conn: Connection, worker: str, limit: int, now: datetime, lease_until: datetime
) -> list[WorkItem]:
    return work_items(
        await _dicts(
            conn,
            "SELECT * FROM superbrain_claim_work(%s, %s, %s, %s)",
            (worker, limit, now, lease_until),
        )
    )


async def peek(
    conn: Connection,
    after_id: int,
    limit: int,
    now: datetime,
    reclassify: tuple[str, str] | None,
) -> list[WorkItem]:
    name, version = reclassify or (None, None)
    return work_items(
        await _dicts(
            conn,
            "SELECT * FROM superbrain_peek_work(%s, %s, %s, %s, %s)",
            (after_id, limit, now, name, version),
        )
    )


async def pending(conn: Connection, now: datetime) -> int:
    return int(await _scalar(conn, "SELECT superbrain_pending_work(%s)", (now,)) or 0)


async def load_contexts(
    conn: Connection, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], WorkContext]:
    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    chats = [k[0] for k in unique]
    messages = [k[1] for k in unique]
    pairs = "(SELECT * FROM unnest(%s::bigint[], %s::bigint[]))"
    roots = [
        rows.raw_message(r)
        for r in await _dicts(
            conn,
            f"SELECT DISTINCT ON (chat_id, message_id) {rows.MESSAGE_COLUMNS}"
            f" FROM raw_messages WHERE (chat_id, message_id) IN {pairs}"
            " ORDER BY chat_id, message_id, version DESC",
            (chats, messages),
        )
    ]
    unchained = [r for r in roots if r.chain_id is None]
    if unchained:
        # An older version may know the chain (a version written while a reply
        # created the chain in a concurrent transaction): the chain is the
        # message's, not one version's.
        known = {
            (r["chat_id"], r["message_id"]): str(r["chain_id"])
            for r in await _dicts(
                conn,
                "SELECT DISTINCT ON (chat_id, message_id) chat_id, message_id, chain_id"
                " FROM raw_messages WHERE chain_id IS NOT NULL"
                f" AND (chat_id, message_id) IN {pairs}"
                " ORDER BY chat_id, message_id, version",
                ([r.chat_id for r in unchained], [r.message_id for r in unchained]),
            )
        }
        roots = [
            attrs.evolve(r, chain_id=known[(r.chat_id, r.message_id)])
            if r.chain_id is None and (r.chat_id, r.message_id) in known
            else r
            for r in roots
        ]
    chains = sorted({r.chain_id for r in roots if r.chain_id})
    members: dict[str, list[RawMessage]] = {}
    bots: dict[str, list[BotResponse]] = {}
    if chains:
        for r in await _dicts(
            conn,
            f"SELECT DISTINCT ON (chat_id, message_id) {rows.MESSAGE_COLUMNS}"
            " FROM raw_messages WHERE chain_id = ANY(%s::uuid[])"
            " ORDER BY chat_id, message_id, version DESC",
            (chains,),
        ):
            member = rows.raw_message(r)
            members.setdefault(str(member.chain_id), []).append(member)
        for r in await _dicts(
            conn,
            f"SELECT {rows.BOT_COLUMNS} FROM bot_responses WHERE chain_id = ANY(%s::uuid[])"
            " ORDER BY id",
            (chains,),
        ):
            bot = rows.bot_response(r)
            bots.setdefault(str(bot.chain_id), []).append(bot)
    files: dict[tuple[int, int], list[RawFile]] = {}
    for r in await _dicts(
        conn,
        f"SELECT {rows.FILE_COLUMNS} FROM raw_files WHERE (chat_id, message_id) IN {pairs}"
        " ORDER BY id",
        (chats, messages),
    ):
        f = rows.raw_file(r)
        files.setdefault((f.chat_id, f.message_id), []).append(f)
    placements = {
        (e.chat_id, e.message_id): e
        for e in (
            rows.routing_entry(r)
            for r in await _dicts(
                conn,
                f"SELECT {rows.ROUTING_COLUMNS} FROM routing_log WHERE superseded_at IS NULL"
                f" AND (chat_id, message_id) IN {pairs}",
                (chats, messages),
            )
        )
    }
    contexts: dict[tuple[int, int], WorkContext] = {}
    for root in roots:
        key = (root.chat_id, root.message_id)
        others = [
            m
            for m in members.get(str(root.chain_id), [])
            if m.chat_id == root.chat_id and m.message_id != root.message_id
        ]
        others.sort(key=lambda m: (m.message_date, m.message_id))
        contexts[key] = WorkContext(
            root=root,
            members=tuple(others),
            bot_messages=tuple(bots.get(str(root.chain_id), [])) if root.chain_id else (),
            files=tuple(files.get(key, [])),
            placement=placements.get(key),
            input_version=max([root.id, *(m.id for m in others)]),
        )
    return contexts


def placements_payload(placements: Sequence[Placement]) -> str:
    """The jsonb argument of ``superbrain_apply_placements`` (NUL already stripped)."""
    return jsonutil.dumps(
        [
            {
                "chat_id": p.chat_id,
                "message_id": p.message_id,
                "raw_message_id": p.raw_message_id,
                "destination": p.destination,
                "values": p.values,
                "classification": p.classification,
                "classifier": p.classifier,
                "classifier_version": p.classifier_version,
                "confidence": p.confidence,
                "input_version": p.input_version,
                "processed_ids": list(p.processed_ids),
                "member_ids": list(p.member_ids),
            }
            for p in placements
        ]
    )


def placement_results(placements: Sequence[Placement], found: Any) -> list[PlacementResult]:
    results = found if isinstance(found, list) else json.loads(found or "[]")
    return [
        PlacementResult(
            chat_id=p.chat_id,
            message_id=p.message_id,
            outcome=RouteOutcome(r["outcome"]),
            destination=r["destination"],
            record_id=r["record_id"],
            previous_destination=r.get("previous_destination"),
        )
        for p, r in zip(placements, results, strict=True)
    ]


async def apply(
    conn: Connection, placements: Sequence[Placement], run_id: int | None, now: datetime
) -> list[PlacementResult]:
    found = await _scalar(
        conn,
        "SELECT superbrain_apply_placements(%s::jsonb, %s, %s)",
        (placements_payload(placements), run_id, now),
    )
    return placement_results(placements, found)


def failures_payload(failures: Sequence[WorkFailure]) -> str:
    return jsonutil.dumps(
        [
            {
                "raw_message_id": f.raw_message_id,
                "error": f.error.replace("\x00", ""),
                "next_attempt_at": f.next_attempt_at.isoformat(),
                "quarantine": f.quarantine,
            }
            for f in failures
        ]
    )


async def record_failures(conn: Connection, failures: Sequence[WorkFailure], now: datetime) -> None:
    await conn.execute(
        "SELECT superbrain_record_work_failures(%s::jsonb, %s)", (failures_payload(failures), now)
    )


async def count_of(conn: Connection, function: str, *args: Any) -> int:
    marks = ", ".join(["%s"] * len(args))
    return int(await _scalar(conn, f"SELECT {function}({marks})", args) or 0)


async def work_problems(conn: Connection, limit: int) -> list[WorkProblem]:
    return [
        WorkProblem(
            raw_message_id=r["id"],
            chat_id=r["chat_id"],
            message_id=r["message_id"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            next_attempt_at=rows.utc(r["next_attempt_at"]) if r["next_attempt_at"] else None,
            quarantined_at=rows.utc(r["quarantined_at"]) if r["quarantined_at"] else None,
        )
        for r in await _dicts(
            conn,
            "SELECT id, chat_id, message_id, attempts, last_error, next_attempt_at,"
            " quarantined_at FROM raw_messages WHERE NOT is_processed AND attempts > 0"
            " ORDER BY quarantined_at IS NULL, id LIMIT %s",
            (limit,),
        )
    ]


async def routing_history(conn: Connection, chat_id: int, message_id: int) -> list[RoutingEntry]:
    return [
        rows.routing_entry(r)
        for r in await _dicts(
            conn,
            f"SELECT {rows.ROUTING_COLUMNS} FROM routing_log"
            " WHERE chat_id = %s AND message_id = %s ORDER BY id",
            (chat_id, message_id),
        )
    ]


async def list_records(conn: Connection, table: str, after_id: int, limit: int) -> list[JSONDict]:
    if table not in TABLE_COLUMNS:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLE_COLUMNS)}")
    found = await _dicts(
        conn, f"SELECT * FROM {table} WHERE id > %s ORDER BY id LIMIT %s", (after_id, limit)
    )
    return [
        {
            k: (json.loads(v) if isinstance(v, str) else v) if k in JSON_COLUMNS else v
            for k, v in r.items()
        }
        for r in found
    ]
