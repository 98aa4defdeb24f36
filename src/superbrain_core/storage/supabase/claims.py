"""The analyzer's side of the Supabase store: claims, work, placements and batch runs.

These are the ``sql/0003_analyzer.sql`` functions, called with the arguments
:mod:`pgsql.work` builds for the Postgres store too; what is Supabase's own is
chunking claims and peeks, since PostgREST cuts a function's result to Max Rows
only after the function ran.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from superbrain_core.models import (
    JSONDict,
    Placement,
    PlacementResult,
    WorkContext,
    WorkFailure,
    WorkItem,
    WorkProblem,
)
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.pgsql import json_rows as rows
from superbrain_core.storage.pgsql import work
from superbrain_core.storage.run_lock import RunLock, lease_run_lock
from superbrain_core.storage.supabase.rest import Query, RestClient, iso


def _failed_work(query: Query) -> Query:
    """Unprocessed raw rows with at least one failed attempt (``work_problems``)."""
    return query.eq("is_processed", False).gt("attempts", 0)


async def claim_work(
    rest: RestClient, worker: str, *, limit: int, lease_until: datetime, now: datetime
) -> list[WorkItem]:
    # In chunks: PostgREST cuts a function's result to max-rows after the
    # function ran, and a claimed row that is not returned stays leased.
    items: list[WorkItem] = []
    while len(items) < limit:
        size = min(rest.page_size, limit - len(items))
        found = await rest.rpc(
            "claim_work",
            "superbrain_claim_work",
            {
                "p_worker": worker,
                "p_limit": size,
                "p_now": iso(now),
                "p_lease_until": iso(lease_until),
            },
        )
        page = work.work_items(found or [])
        items.extend(page)
        if len(page) < size:
            break
    return items


async def peek_work(
    rest: RestClient,
    *,
    after_id: int,
    limit: int,
    now: datetime,
    reclassify: tuple[str, str] | None,
) -> list[WorkItem]:
    name, version = reclassify or (None, None)
    items: list[WorkItem] = []
    after = after_id
    while len(items) < limit:
        size = min(rest.page_size, limit - len(items))
        found = await rest.rpc(
            "peek_work",
            "superbrain_peek_work",
            {
                "p_after": after,
                "p_limit": size,
                "p_now": iso(now),
                "p_classifier": name,
                "p_version": version,
            },
        )
        page = work.work_items(found or [])
        items.extend(page)
        if len(page) < size:
            break
        after = page[-1].id
    return items


async def pending_work(rest: RestClient, *, now: datetime) -> int:
    found = await rest.rpc("pending_work", "superbrain_pending_work", {"p_now": iso(now)})
    return int(found or 0)


async def load_work_contexts(
    rest: RestClient, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], WorkContext]:
    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    # One call, so one snapshot, like the Postgres store's read-only transaction.
    found = await rest.rpc(
        "load_work_contexts",
        "superbrain_work_contexts_json",
        {"p_chat_ids": [k[0] for k in unique], "p_message_ids": [k[1] for k in unique]},
    )
    contexts = [rows.work_context(c) for c in found or []]
    return {(c.root.chat_id, c.root.message_id): c for c in contexts}


async def apply_placements(
    rest: RestClient, placements: Sequence[Placement], *, run_id: int | None
) -> list[PlacementResult]:
    if not placements:
        return []
    found = await rest.rpc(
        "apply_placements",
        "superbrain_apply_placements",
        {
            "p_placements": json.loads(work.placements_payload(placements)),
            "p_run_id": run_id,
            "p_now": iso(datetime.now(UTC)),
        },
    )
    return work.placement_results(placements, found)


async def record_work_failures(rest: RestClient, failures: Sequence[WorkFailure]) -> None:
    if failures:
        await rest.rpc(
            "record_work_failures",
            "superbrain_record_work_failures",
            {
                "p_failures": json.loads(work.failures_payload(failures)),
                "p_now": iso(datetime.now(UTC)),
            },
        )


async def count_of(rest: RestClient, what: str, function: str, params: JSONDict) -> int:
    """Call a function that answers with one number (a row count or a new id)."""
    return int(await rest.rpc(what, function, params) or 0)


async def extend_claims(
    rest: RestClient, worker: str, *, lease_until: datetime, now: datetime | None = None
) -> int:
    # Only the lease's length crosses over: the database's clock places it.
    seconds = (lease_until - (now or datetime.now(UTC))).total_seconds()
    return await count_of(
        rest,
        "extend_claims",
        "superbrain_renew_claims",
        {"p_worker": worker, "p_lease_seconds": seconds},
    )


async def release_claims(rest: RestClient, worker: str) -> int:
    return await count_of(rest, "release_claims", "superbrain_release_claims", {"p_worker": worker})


async def requeue_for_reclassify(rest: RestClient, classifier: str, version: str) -> int:
    return await count_of(
        rest,
        "requeue_for_reclassify",
        "superbrain_requeue_for_reclassify",
        {"p_classifier": classifier, "p_version": version},
    )


async def requeue_quarantined(rest: RestClient) -> int:
    return await count_of(rest, "requeue_quarantined", "superbrain_requeue_quarantined", {})


async def work_problems(rest: RestClient, *, limit: int) -> list[WorkProblem]:
    # The Postgres store's ORDER BY quarantined_at IS NULL, id: the quarantined
    # rows by id, then the others by id; two keyset walks give that order.
    def quarantined(query: Query) -> Query:
        return _failed_work(query).not_.is_("quarantined_at", "null")

    def waiting(query: Query) -> Query:
        return _failed_work(query).is_("quarantined_at", "null")

    found: list[JSONDict] = []
    for where in (quarantined, waiting):
        if len(found) < limit:
            found += await rest.select(
                "work_problems",
                "raw_messages",
                rows.PROBLEM_SELECT,
                where,
                limit=limit - len(found),
            )
    return [rows.work_problem(r) for r in found]


def run_lock(
    rest: RestClient, name: str, holder: str, *, ttl: float
) -> AbstractAsyncContextManager[RunLock]:
    """A lease row through rpc: no PostgREST session outlives a request."""

    async def rpc(function: str, params: JSONDict) -> Any:
        return await rest.rpc(f"run lock {name!r}", function, params)

    return lease_run_lock(name, holder, ttl, rpc)


async def start_batch_run(rest: RestClient, classifier: str, version: str, worker: str) -> int:
    return await count_of(
        rest,
        "start_batch_run",
        "superbrain_start_batch_run",
        {
            "p_classifier": classifier,
            "p_version": version,
            "p_worker": worker,
            "p_now": iso(datetime.now(UTC)),
        },
    )


async def finish_batch_run(
    rest: RestClient, run_id: int, *, status: str, counts: JSONDict, digest: str
) -> None:
    await rest.rpc(
        "finish_batch_run",
        "superbrain_finish_batch_run",
        {
            "p_run_id": run_id,
            "p_status": status,
            "p_counts": counts,
            "p_digest": pgcodec.clean(digest),
            "p_now": iso(datetime.now(UTC)),
        },
    )
