"""The Supabase store's write path: capture, bot responses, imports and file statuses.

Each write is one call of the SQL function the Postgres store calls, with the
jsonb arguments built by the same code (:mod:`pgcodec`, :mod:`importing`), so a
write means exactly the same on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from superbrain_core.errors import StorageError
from superbrain_core.models import (
    BotResponse,
    BotResponseIn,
    CaptureResult,
    FileStatus,
    ImportedMessage,
    ImportResult,
    NormalizedUpdate,
)
from superbrain_core.records import check_task_status
from superbrain_core.storage.base import CaptureOptions, runs_of_one_kind
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.supabase.rest import RestClient, iso


async def capture_many(
    rest: RestClient, updates: Sequence[NormalizedUpdate], options: CaptureOptions | None
) -> list[CaptureResult]:
    if not updates:
        return []
    items = json.loads(pgcodec.capture_items(updates, options or CaptureOptions()))
    found = await rest.rpc("capture", "superbrain_capture_many", {"p_items": items})
    return pgcodec.capture_results(updates, found or [])


async def record_bot_responses(
    rest: RestClient, responses: Sequence[BotResponseIn]
) -> list[BotResponse]:
    if not responses:
        return []
    items = json.loads(pgcodec.bot_response_items(responses))
    found = await rest.rpc(
        "record_bot_responses", "superbrain_record_bot_responses", {"p_items": items}
    )
    return [pgcodec.bot_response_from_row(r) for r in found or []]


async def write_batch(
    rest: RestClient,
    items: Sequence[NormalizedUpdate | BotResponseIn],
    options: CaptureOptions | None,
) -> list[CaptureResult | BotResponse]:
    """Updates and bot responses, interleaved, in one call of ``superbrain_write_batch``:
    one transaction, so a batch is stored whole or not at all (several calls
    would each commit on their own)."""
    runs = runs_of_one_kind(items)
    if not runs:
        return []
    opts = options or CaptureOptions()
    payload = [
        {
            "kind": "bot_responses",
            "items": json.loads(pgcodec.bot_response_items(run)),  # type: ignore[arg-type]
        }
        if isinstance(run[0], BotResponseIn)
        else {
            "kind": "updates",
            "items": json.loads(pgcodec.capture_items(run, opts)),  # type: ignore[arg-type]
        }
        for run in runs
    ]
    found = await rest.rpc("write", "superbrain_write_batch", {"p_runs": payload})
    answers = found if isinstance(found, list) else []
    if len(answers) != len(runs):
        raise StorageError(f"Supabase write: {len(answers)} answers for {len(runs)} runs")
    results: list[CaptureResult | BotResponse] = []
    for run, answer in zip(runs, answers, strict=True):
        if isinstance(run[0], BotResponseIn):
            results.extend(pgcodec.bot_response_from_row(r) for r in answer or [])
        else:
            results.extend(pgcodec.capture_results(run, answer or []))  # type: ignore[arg-type]
    return results


async def import_messages(
    rest: RestClient, messages: Sequence[ImportedMessage], options: CaptureOptions | None
) -> ImportResult:
    """The Postgres store's function (``sql/0006``), in calls of at most ``page_size``
    messages: each call is atomic on its own, and a request body stays small."""
    from superbrain_core.storage.pgsql import importing as imports

    opts = options or CaptureOptions(source="desktop_export")
    ids: list[int | None] = []
    for start in range(0, len(messages), rest.page_size):
        chunk = messages[start : start + rest.page_size]
        items, source, bot_id = imports.arguments(imports.import_items(chunk), opts)
        found = await rest.rpc(
            "import_messages",
            imports.FUNCTION,
            {"p_items": json.loads(items), "p_source": source, "p_bot_id": bot_id},
        )
        ids.extend(imports.import_ids(chunk, found))
    return ImportResult(tuple(ids))


async def stored_message_keys(
    rest: RestClient, keys: Sequence[tuple[int, int]]
) -> set[tuple[int, int]]:
    """``superbrain_stored_message_keys`` (``sql/0006``): one call per ``page_size``
    keys, where the base class would ask once per key."""
    found: set[tuple[int, int]] = set()
    for start in range(0, len(keys), rest.page_size):
        chunk = [[int(c), int(m)] for c, m in keys[start : start + rest.page_size]]
        rows = await rest.rpc(
            "stored_message_keys", "superbrain_stored_message_keys", {"p_keys": chunk}
        )
        if not isinstance(rows, list):
            raise StorageError("Supabase stored_message_keys: expected a list of keys")
        for row in rows:
            if not (isinstance(row, list) and len(row) == 2):
                raise StorageError("Supabase stored_message_keys: a key is not a pair")
            found.add((int(row[0]), int(row[1])))
    return found


async def set_file_status(
    rest: RestClient,
    file_row_id: int,
    status: FileStatus,
    *,
    file_hash: str | None,
    file_path: str | None,
    reason: str | None,
) -> None:
    await rest.rpc(
        "set_file_status",
        "superbrain_set_file_status",
        {
            "p_file_row_id": file_row_id,
            "p_status": status.value,
            "p_file_hash": pgcodec.clean(file_hash),
            "p_file_path": pgcodec.clean(file_path),
            "p_reason": pgcodec.clean(reason),
        },
    )


async def set_task_status(rest: RestClient, record_id: int, status: str) -> bool:
    """The one row update that is not a SQL function: a task's status is the owner's
    to change, and one row with two columns is atomic by itself."""
    changed = await rest.update(
        "set_task_status",
        "tasks",
        {"status": check_task_status(status), "updated_at": iso(datetime.now(UTC))},
        lambda q: q.eq("id", record_id),
    )
    return bool(changed)
