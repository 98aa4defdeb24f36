"""Rows in their JSON form (PostgREST, or ``to_jsonb`` inside a SQL function) to model records.

PostgREST hands each row over as a JSON object: ``jsonb`` columns arrive as JSON
values rather than text, timestamps as ISO 8601 strings, ``uuid`` as strings and
``numeric`` as JSON numbers. The Postgres store reads the same columns through
psycopg (:mod:`.rows`); the converters here take the JSON form of those
rows, whether from a table select or from ``to_jsonb(row)`` inside
``superbrain_work_contexts``, and build records equal to the Postgres store's.

The column lists are derived from :mod:`.rows` rather than restated, so
both stores always read the same columns, and the tolerance for rows inherited
from the seed schema (NULLs where capture never writes one) is the same. Raw
JSON columns go through :func:`pgcodec.unescape_json`, which undoes the
NUL-safe escape, exactly where the Postgres store calls ``loads_raw``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from superbrain_core.models import (
    BatchRun,
    JSONDict,
    MessageChain,
    RawFile,
    RawMessage,
    RawUpdate,
    RoutingEntry,
    WorkContext,
    WorkProblem,
)
from superbrain_core.records import TABLE_COLUMNS
from superbrain_core.storage import rows as shared_rows
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.pgsql import rows as pg

Row = dict[str, Any]


def select_list(columns: str) -> str:
    """A :mod:`postgres_rows` column list as PostgREST's ``select`` parameter.

    ``chain_id::text AS chain_id`` becomes ``chain_id``: the casts exist for
    psycopg (to read jsonb and uuid as text); PostgREST already sends JSON.
    """
    names = []
    for part in columns.split(","):
        expression = part.strip()
        names.append(expression.rsplit(" AS ", 1)[1] if " AS " in expression else expression)
    return ",".join(names)


MESSAGE_SELECT = select_list(pg.MESSAGE_COLUMNS)
FILE_SELECT = select_list(pg.FILE_COLUMNS)
BOT_SELECT = select_list(pg.BOT_COLUMNS)
CHAIN_SELECT = select_list(pg.CHAIN_COLUMNS)
ROUTING_SELECT = select_list(pg.ROUTING_COLUMNS)
# The Postgres store spells these out in its queries; the same columns here.
UPDATE_SELECT = "id,bot_id,update_id,update_type,payload,received_at,source"
BATCH_RUN_SELECT = "id,started_at,finished_at,status,classifier,counts,digest"
PROBLEM_SELECT = "id,chat_id,message_id,attempts,last_error,next_attempt_at,quarantined_at"

#: Timestamp columns of the structured tables: psycopg returns them as datetimes,
#: so :func:`record` does too.
RECORD_TIMESTAMPS = frozenset(
    {"created_at", "updated_at"}
    | {c for cols in TABLE_COLUMNS.values() for c in cols if c.endswith("_at")}
)
#: ``numeric`` columns of the structured tables: psycopg returns ``Decimal``.
RECORD_NUMERICS = frozenset({"amount"})


#: PostgREST rows: ISO timestamps, JSON values that may carry pgcodec's escape.
POSTGREST = shared_rows.Decoding(ts=pgcodec.parse_timestamp, raw=pgcodec.unescape_json)


def _ts(value: str | None) -> datetime:
    return pgcodec.parse_timestamp(value)


def _maybe_ts(value: str | None) -> datetime | None:
    return pgcodec.parse_timestamp(value) if value else None


def raw_update(row: Row) -> RawUpdate:
    return RawUpdate(
        id=row["id"],
        bot_id=row["bot_id"],
        update_id=row["update_id"],
        update_type=row["update_type"],
        payload=pgcodec.unescape_json(row["payload"]),
        received_at=_ts(row["received_at"]),
        source=row["source"],
    )


def raw_message(row: Row) -> RawMessage:
    return shared_rows.raw_message(row, POSTGREST)


def raw_file(row: Row) -> RawFile:
    return shared_rows.raw_file(row, POSTGREST)


def chain(row: Row) -> MessageChain:
    created_at = _ts(row["created_at"])
    return MessageChain(
        chain_id=row["chain_id"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        original_message_id=row["original_message_id"],
        original_text=row["original_text"],
        replies=tuple(pg.chain_replies_from(row["replies"], created_at)),
        created_at=created_at,
        updated_at=_ts(row["updated_at"] or row["created_at"]),
    )


def routing_entry(row: Row) -> RoutingEntry:
    return shared_rows.routing_entry(row, POSTGREST)


def batch_run(row: Row) -> BatchRun:
    return BatchRun(
        id=row["id"],
        started_at=_ts(row["started_at"]),
        finished_at=_maybe_ts(row["finished_at"]),
        status=row["status"],
        classifier=row["classifier"],
        counts=pgcodec.unescape_json(row["counts"]) or {},
        digest=row["digest"],
    )


def work_problem(row: Row) -> WorkProblem:
    return WorkProblem(
        raw_message_id=row["id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        next_attempt_at=_maybe_ts(row["next_attempt_at"]),
        quarantined_at=_maybe_ts(row["quarantined_at"]),
    )


def work_context(ctx: Row) -> WorkContext:
    """One element of ``superbrain_work_contexts``: ``{root, chain_id, members,
    bot_messages, files, placement, input_version}``, each row as ``to_json(row)``,
    already in the Postgres store's order (members by date then id, bot messages
    and files by id)."""
    root = raw_message(ctx["root"])
    # sql/0011 gives the chain any version knows beside the root (0008 wrote it
    # into the root): the chain is the message's, not one version's.
    chain_id = ctx.get("chain_id")
    if chain_id is not None and root.chain_id is None:
        root = attrs.evolve(root, chain_id=chain_id)
    members = tuple(raw_message(m) for m in _rows(ctx.get("members")))
    placement = ctx.get("placement")
    return WorkContext(
        root=root,
        members=members,
        bot_messages=tuple(
            pgcodec.bot_response_from_row(b) for b in _rows(ctx.get("bot_messages"))
        ),
        files=tuple(raw_file(f) for f in _rows(ctx.get("files"))),
        placement=routing_entry(placement) if placement else None,
        # sql/0008 computes it over every version of the chain; the fallback is for
        # a context built by hand from rows.
        input_version=int(ctx.get("input_version") or max([root.id, *(m.id for m in members)])),
    )


def _rows(value: Any) -> Sequence[Row]:
    return value if isinstance(value, list) else []


def record(row: Row) -> JSONDict:
    """A structured table's row as the Postgres store returns it: timestamps as aware
    UTC datetimes and ``numeric`` as ``Decimal`` (psycopg's types), JSON lists as lists."""
    out: JSONDict = {}
    for key, value in row.items():
        if value is not None and key in RECORD_TIMESTAMPS:
            value = pgcodec.parse_timestamp(value)
        elif value is not None and key in RECORD_NUMERICS:
            # repr() of a float is its shortest round-trip form: 450.5 -> Decimal("450.5").
            value = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        out[key] = value
    return out
