"""The owner's corrections: move an item to another table, edit its fields, tick a task.

A correction is recorded exactly like a clarification that re-files a message:
one placement applied through :meth:`Store.apply_placements`, which moves or
updates the row and supersedes the current ``routing_log`` entry with a new one.
What marks it as the owner's is the entry itself: ``classifier = "owner"``
(:data:`OWNER_CLASSIFIER`), ``classifier_version = "web"``, confidence 1.0, no
``run_id``, and a stored classification whose ``classifier`` is ``owner`` too. The
analyzer then keeps the owner's verdict on every later night
(:func:`superbrain_core.analyzer.routing.owner_verdict`). The verdict before the
correction stays in the history as the superseded entry, which is what learning
from corrections compares against.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from superbrain_core.analyzer.classify.schema import Classification, EventKind, ItemType
from superbrain_core.analyzer.routing import DESTINATIONS, OWNER_CLASSIFIER, placement_for
from superbrain_core.errors import SuperbrainError
from superbrain_core.models import PlacementResult, WorkContext
from superbrain_core.records import NONE
from superbrain_core.storage.base import Store

#: ``classifier_version`` of a correction made on the web page.
OWNER_VERSION = "web"

#: Table → classification type (the inverse of the analyzer's routing).
TYPE_OF: dict[str, ItemType] = {table: kind for kind, table in DESTINATIONS.items()}
TYPE_OF[NONE] = ItemType.NONE

#: Which classification field each editable column comes from, per table. Editing a
#: column edits that field of the verdict, and the row follows from the verdict the
#: same way the analyzer's does, so an edit is a classification like any other.
EDITABLE: dict[str, dict[str, str]] = {
    "events": {
        "title": "title",
        "starts_at": "starts_at",
        "ends_at": "ends_at",
        "kind": "event_kind",
        "people": "people",
        "recurrence": "recurrence",
    },
    "tasks": {"title": "title", "due_at": "due_at"},
    "notes": {"text": "summary", "tags": "tags"},
    "files": {"title": "title", "tags": "tags"},
    "people": {"name": "people", "phone": "phone", "email": "email", "username": "username"},
    "links": {"url": "url", "title": "title"},
    "expenses": {
        "amount": "amount",
        "currency": "currency",
        "description": "title",
        "spent_at": "starts_at",
    },
}

_TIME_FIELDS = frozenset({"starts_at", "due_at", "ends_at"})
_LIST_FIELDS = frozenset({"people", "tags"})
#: Local times the page shows and accepts.
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


class CorrectionError(SuperbrainError, ValueError):
    """A correction that cannot be made as asked (an unknown table or column, a value
    that does not parse); nothing was written."""


class NotFiled(CorrectionError):
    """The message is not stored, or not analyzed yet, so there is nothing to correct."""


async def _context(store: Store, chat_id: int, message_id: int) -> WorkContext:
    found = await store.load_work_contexts([(chat_id, message_id)])
    ctx = found.get((chat_id, message_id))
    if ctx is None:
        raise NotFiled(f"message {chat_id}:{message_id} is not stored")
    return ctx


def _base_verdict(ctx: WorkContext) -> Classification:
    """The verdict a correction starts from: the current one, or a bare note."""
    if ctx.placement is not None:
        try:
            return Classification.from_json(ctx.placement.classification)
        except ValueError:
            pass
    return Classification(
        type=ItemType.NOTE,
        confidence=1.0,
        classifier=OWNER_CLASSIFIER,
        classifier_version=OWNER_VERSION,
    )


def _as_owner(c: Classification, **changes: Any) -> Classification:
    return attrs.evolve(
        c,
        confidence=1.0,
        classifier=OWNER_CLASSIFIER,
        classifier_version=OWNER_VERSION,
        needs_clarification=False,
        question=None,
        **changes,
    )


async def _apply(store: Store, c: Classification, ctx: WorkContext) -> PlacementResult:
    # ``processed_ids`` stays empty: a correction settles no raw rows of its own,
    # it only replaces the verdict (the night still reads new input, and keeps this).
    placement = placement_for(c, ctx, ())
    (result,) = await store.apply_placements([placement], run_id=None)
    return result


async def move_item(store: Store, chat_id: int, message_id: int, table: str) -> PlacementResult:
    """File the message (its chain's root) in ``table`` as the owner's decision.

    Moving to the table it is already in confirms it (the entry becomes the
    owner's, so the night keeps it). ``none`` takes it out of every table.
    """
    if table not in TYPE_OF:
        raise CorrectionError(f"unknown table {table!r}: one of {', '.join(TYPE_OF)}")
    ctx = await _context(store, chat_id, message_id)
    return await _apply(store, _as_owner(_base_verdict(ctx), type=TYPE_OF[table]), ctx)


def parse_local_time(text: str, zone: ZoneInfo) -> datetime | None:
    """A time as the page shows it (``YYYY-MM-DD HH:MM`` on the owner's clock)."""
    text = text.strip()
    if not text:
        return None
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    raise CorrectionError(f"{text[:40]!r} is not a time like 2026-12-24 15:00")


def _field_value(field: str, text: str, zone: ZoneInfo) -> Any:
    if field in _TIME_FIELDS:
        return parse_local_time(text, zone)
    if field in _LIST_FIELDS:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if field == "event_kind":
        try:
            return EventKind(text.strip()) if text.strip() else None
        except ValueError:
            kinds = ", ".join(k.value for k in EventKind)
            raise CorrectionError(f"event kind must be one of {kinds}") from None
    value = text.strip()
    return value or None


async def edit_item(
    store: Store,
    chat_id: int,
    message_id: int,
    fields: Mapping[str, str],
    *,
    zone: ZoneInfo,
) -> PlacementResult:
    """Change the filed row's columns (as text, the way the page shows them).

    Only the columns of :data:`EDITABLE` for the current table may be given; an
    unknown column or a value that does not parse raises :class:`CorrectionError` and
    nothing is written.
    """
    ctx = await _context(store, chat_id, message_id)
    if ctx.placement is None or ctx.placement.destination not in EDITABLE:
        raise NotFiled(f"message {chat_id}:{message_id} is not filed in a table")
    table = ctx.placement.destination
    allowed = EDITABLE[table]
    unknown = set(fields) - set(allowed)
    if unknown:
        raise CorrectionError(f"{table} has no editable column {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    for column, text in fields.items():
        changes[allowed[column]] = _field_value(allowed[column], text, zone)
    base = _base_verdict(ctx)
    if table == "people" and "people" in changes:  # the name is the first person
        name = changes["people"]
        changes["people"] = (", ".join(name), *base.people[1:]) if name else base.people[1:]
    if table == "notes" and "summary" in changes and base.sensitive:
        raise CorrectionError("a sensitive note's text is the classifier's masked summary")
    try:
        verdict = _as_owner(base, **changes)
    except (TypeError, ValueError) as exc:
        raise CorrectionError(f"cannot set {', '.join(fields)}: {exc}") from exc
    return await _apply(store, verdict, ctx)
