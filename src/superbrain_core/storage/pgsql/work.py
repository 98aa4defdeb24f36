"""The SQL functions' payloads and results for the analyzer, shared by Postgres and Supabase.

Claims (``FOR UPDATE SKIP LOCKED`` with a lease), placements (advisory-locked
per message, moves in one transaction) and bookkeeping all live in SQL
(``sql/0003``), so both backends call the same functions: the Postgres store
through psycopg (:mod:`superbrain_core.storage.postgres.work`), the Supabase
store through ``rpc``. What goes in and what comes back is built here, once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from superbrain_core import jsonutil
from superbrain_core.models import (
    Placement,
    PlacementResult,
    RouteOutcome,
    WorkFailure,
    WorkItem,
)
from superbrain_core.storage.pgsql.rows import Row


def work_items(found: Sequence[Row]) -> list[WorkItem]:
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
