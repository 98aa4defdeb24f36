"""The Supabase store's reads: lookups, listings, search and stats as PostgREST selects.

Each read is a keyset-paged table select (or one search function call) turned
into the same records the Postgres store returns, by the converters in
:mod:`.rows`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from superbrain_core import search as search_text
from superbrain_core.models import (
    BatchRun,
    BotResponse,
    FileStatus,
    JSONDict,
    MessageChain,
    RawFile,
    RawMessage,
    RawUpdate,
    RoutingEntry,
    StoreStats,
    UpdateConflict,
)
from superbrain_core.records import TABLE_COLUMNS
from superbrain_core.records import TABLES as ROUTING_TABLES
from superbrain_core.search import SearchHit
from superbrain_core.storage.base import MessageFilter, require_aware
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.pgsql import json_rows as rows
from superbrain_core.storage.pgsql import search as postgres_search
from superbrain_core.storage.supabase.rest import Query, RestClient, iso

#: The tables :meth:`SupabaseStore.stats` counts: the Postgres store's ``TABLES``.
STATS_TABLES = (
    "raw_updates",
    "update_conflicts",
    "raw_messages",
    "raw_files",
    "bot_responses",
    "message_chains",
    *ROUTING_TABLES,
    "routing_log",
    "batch_runs",
)

# -- lookups ----------------------------------------------------------------------------------


async def get_update(rest: RestClient, update_id: int, *, bot_id: int) -> RawUpdate | None:
    found = await rest.select(
        "get_update",
        "raw_updates",
        rows.UPDATE_SELECT,
        lambda q: q.eq("bot_id", bot_id).eq("update_id", update_id),
        limit=1,
    )
    return rows.raw_update(found[0]) if found else None


async def update_conflicts(rest: RestClient, *, after_id: int, limit: int) -> list[UpdateConflict]:
    found = await rest.select(
        "update_conflicts",
        "update_conflicts",
        "id,bot_id,update_id,update_type,stored_payload,payload,received_at,source",
        after=after_id,
        limit=limit,
    )
    return [
        UpdateConflict(
            id=r["id"],
            bot_id=r["bot_id"],
            update_id=r["update_id"],
            update_type=r["update_type"],
            stored_payload=pgcodec.unescape_json(r["stored_payload"]),
            payload=pgcodec.unescape_json(r["payload"]),
            received_at=pgcodec.parse_timestamp(r["received_at"]),
            source=r["source"],
        )
        for r in found
    ]


async def message_versions(rest: RestClient, chat_id: int, message_id: int) -> list[RawMessage]:
    found = await rest.select(
        "message_versions",
        "raw_messages",
        rows.MESSAGE_SELECT,
        lambda q: q.eq("chat_id", chat_id).eq("message_id", message_id),
        key="version",
    )
    return [rows.raw_message(r) for r in found]


async def get_chain(rest: RestClient, chain_id: str) -> MessageChain | None:
    try:
        key = uuid.UUID(str(chain_id))
    except ValueError:
        return None  # not a chain id this store could have issued
    found = await rest.select(
        "get_chain",
        "message_chains",
        rows.CHAIN_SELECT,
        lambda q: q.eq("chain_id", str(key)),
        key="chain_id",
        limit=1,
    )
    return rows.chain(found[0]) if found else None


async def chain_id_of(rest: RestClient, chat_id: int, message_id: int) -> str | None:
    """The id of the chain holding a message (``superbrain_chain_id_of``), if any."""
    chain_id: str | None = await rest.rpc(
        "chain_of",
        "superbrain_chain_id_of",
        {"p_chat_id": chat_id, "p_message_id": message_id},
    )
    return chain_id


async def get_file(rest: RestClient, file_row_id: int) -> RawFile | None:
    found = await rest.select(
        "get_file", "raw_files", rows.FILE_SELECT, lambda q: q.eq("id", file_row_id), limit=1
    )
    return rows.raw_file(found[0]) if found else None


async def files_of_message(rest: RestClient, chat_id: int, message_id: int) -> list[RawFile]:
    found = await rest.select(
        "files_of_message",
        "raw_files",
        rows.FILE_SELECT,
        lambda q: q.eq("chat_id", chat_id).eq("message_id", message_id),
    )
    return [rows.raw_file(r) for r in found]


async def list_files(
    rest: RestClient, *, status: FileStatus | None, limit: int, after_id: int
) -> list[RawFile]:
    def of_status(query: Query) -> Query:
        return query if status is None else query.eq("status", status.value)

    found = await rest.select(
        "list_files", "raw_files", rows.FILE_SELECT, of_status, after=after_id, limit=limit
    )
    return [rows.raw_file(r) for r in found]


async def bot_responses(rest: RestClient, chat_id: int) -> list[BotResponse]:
    found = await rest.select(
        "bot_responses", "bot_responses", rows.BOT_SELECT, lambda q: q.eq("chat_id", chat_id)
    )
    return [pgcodec.bot_response_from_row(r) for r in found]


async def routing_history(rest: RestClient, chat_id: int, message_id: int) -> list[RoutingEntry]:
    found = await rest.select(
        "routing_history",
        "routing_log",
        rows.ROUTING_SELECT,
        lambda q: q.eq("chat_id", chat_id).eq("message_id", message_id),
    )
    return [rows.routing_entry(r) for r in found]


# -- health -----------------------------------------------------------------------------------


async def stats(rest: RestClient) -> StoreStats:
    def counter(table: str) -> Callable[[], Awaitable[int]]:
        return lambda: rest.count("stats", table)

    counts = await rest.gather([counter(t) for t in STATS_TABLES])
    types = await rest.value_counts("stats", "raw_messages", "message_type")
    statuses = await rest.value_counts("stats", "raw_files", "status")
    return StoreStats(
        tables=dict(zip(STATS_TABLES, counts, strict=True)),
        # The Postgres store's order: most frequent type first, then by name.
        message_types=dict(sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))),
        file_statuses=dict(sorted(statuses.items())),
    )


async def ping(rest: RestClient) -> None:
    await rest.page("ping", rest.api.from_("schema_migrations").select("name").limit(1))


async def last_batch_run(rest: RestClient) -> BatchRun | None:
    query = rest.api.from_("batch_runs").select(rows.BATCH_RUN_SELECT)
    found = await rest.page("last_batch_run", query.order("id", desc=True).limit(1))
    return rows.batch_run(found[0]) if found else None


# -- exploration ------------------------------------------------------------------------------


async def list_records(
    rest: RestClient, table: str, *, after_id: int, limit: int
) -> list[JSONDict]:
    if table not in TABLE_COLUMNS:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLE_COLUMNS)}")
    found = await rest.select("list_records", table, "*", after=after_id, limit=limit)
    return [rows.record(r) for r in found]


async def list_messages(
    rest: RestClient, where: MessageFilter | None, *, after_id: int, limit: int
) -> list[RawMessage]:
    wanted = where or MessageFilter()

    def matching(query: Query) -> Query:
        if wanted.since is not None:
            query = query.gte("message_date", iso(wanted.since.astimezone(UTC)))
        if wanted.until is not None:
            query = query.lt("message_date", iso(wanted.until.astimezone(UTC)))
        if wanted.chat_id is not None:
            query = query.eq("chat_id", wanted.chat_id)
        if wanted.message_type is not None:
            query = query.eq("message_type", wanted.message_type)
        if wanted.processed is not None:
            query = query.eq("is_processed", wanted.processed)
        return query

    found = await rest.select(
        "list_messages",
        "raw_messages",
        rows.MESSAGE_SELECT,
        matching,
        after=after_id,
        limit=limit,
    )
    return [rows.raw_message(r) for r in found]


async def list_chains(
    rest: RestClient, *, chat_id: int | None, after: str | None, limit: int
) -> list[MessageChain]:
    def of_chat(query: Query) -> Query:
        return query if chat_id is None else query.eq("chat_id", chat_id)

    found = await rest.select(
        "list_chains",
        "message_chains",
        rows.CHAIN_SELECT,
        of_chat,
        key="chain_id",
        after=after,
        limit=limit,
    )
    return [rows.chain(r) for r in found]


async def list_routing(
    rest: RestClient,
    *,
    since: datetime | None,
    until: datetime | None,
    run_id: int | None,
    chat_id: int | None,
    after_id: int,
    limit: int,
) -> list[RoutingEntry]:
    since, until = require_aware(since), require_aware(until)

    def matching(query: Query) -> Query:
        if since is not None:
            query = query.gte("created_at", iso(since.astimezone(UTC)))
        if until is not None:
            query = query.lt("created_at", iso(until.astimezone(UTC)))
        if run_id is not None:
            query = query.eq("run_id", run_id)
        if chat_id is not None:
            query = query.eq("chat_id", chat_id)
        return query

    found = await rest.select(
        "list_routing",
        "routing_log",
        rows.ROUTING_SELECT,
        matching,
        after=after_id,
        limit=limit,
    )
    return [rows.routing_entry(r) for r in found]


async def list_batch_runs(rest: RestClient, *, after_id: int, limit: int) -> list[BatchRun]:
    found = await rest.select(
        "list_batch_runs",
        "batch_runs",
        rows.BATCH_RUN_SELECT,
        after=after_id,
        limit=limit,
    )
    return [rows.batch_run(r) for r in found]


async def search(
    rest: RestClient,
    query: str,
    *,
    limit: int,
    chat_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> list[SearchHit]:
    wanted = search_text.prepare(query, limit, since, until)
    found = await rest.rpc(
        "search",
        "superbrain_search_all",
        {
            "p_query": pgcodec.clean(query),
            "p_limit": limit,
            "p_chat_id": chat_id,
            "p_since": iso(since) if since else None,
            "p_until": iso(until) if until else None,
        },
    )
    return postgres_search.hits(found or [], wanted, pgcodec.parse_timestamp)
