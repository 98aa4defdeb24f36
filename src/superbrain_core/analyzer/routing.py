"""Where a classified message is filed: which table, and with which column values.

This module decides *what* a placement looks like in plain Python, once for
every backend; the stores only decide *how* to apply it atomically (a SQLite
transaction, a Postgres SQL function). The tables and their column whitelist
are part of the data model (:mod:`superbrain_core.records`), below storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from superbrain_core import jsonutil
from superbrain_core.analyzer.classify.schema import Classification, EventKind, ItemType
from superbrain_core.models import JSONDict, Placement, WorkContext
from superbrain_core.records import NONE

#: Classification type → structured table.
DESTINATIONS: dict[ItemType, str] = {
    ItemType.EVENT: "events",
    ItemType.TASK: "tasks",
    ItemType.NOTE: "notes",
    ItemType.FILE: "files",
    ItemType.CONTACT: "people",
    ItemType.LINK: "links",
    ItemType.EXPENSE: "expenses",
}

_TITLE_LIMIT = 200

#: The ``classifier`` of a ``routing_log`` entry the owner made by hand (a move or an
#: edit on the web page). Its ``classifier_version`` says where (``web``), its
#: confidence is 1.0 and its ``run_id`` is empty. A later night never undoes it:
#: :func:`owner_verdict` makes the analyzer re-file such a message with the owner's
#: own verdict, whatever its classifier now thinks.
OWNER_CLASSIFIER = "owner"


def destination_of(classification: Classification) -> str:
    return DESTINATIONS.get(classification.type, NONE)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def _decimal_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def _title(c: Classification, ctx: WorkContext) -> str | None:
    text = c.title or c.summary or ctx.root.message_text
    if not text:
        return None
    text = " ".join(text.split())
    return text[: _TITLE_LIMIT - 1] + "…" if len(text) > _TITLE_LIMIT else text


def record_values(c: Classification, ctx: WorkContext) -> JSONDict:
    """The destination table's column values for ``c`` (empty for ``none``)."""
    table = destination_of(c)
    title = _title(c, ctx)
    values: dict[str, Any]
    if table == "events":
        kind = c.event_kind or EventKind.OTHER
        values = {
            "title": title,
            "starts_at": _iso(c.starts_at or c.due_at),
            "ends_at": _iso(c.ends_at),
            "kind": kind.value,
            "people": list(c.people),
            "recurrence": c.recurrence,
        }
    elif table == "tasks":
        values = {"title": title, "due_at": _iso(c.due_at or c.starts_at), "status": "open"}
    elif table == "notes":
        # A secret's note keeps the classifier's masked summary, never the raw text.
        text = c.summary if c.sensitive else (c.summary or ctx.root.message_text or title)
        values = {"text": text, "tags": list(c.tags), "sensitive": c.sensitive}
    elif table == "files":
        first = ctx.files[0].id if ctx.files else None
        values = {"raw_file_id": first, "title": title, "tags": list(c.tags)}
    elif table == "people":
        name = c.people[0] if c.people else title
        values = {"name": name, "phone": c.phone, "email": c.email, "username": c.username}
    elif table == "links":
        values = {"url": c.url, "title": title}
    elif table == "expenses":
        values = {
            # Normalized, so "1500.50" and "1500.5" are one value on every backend.
            "amount": _decimal_text(c.amount),
            "currency": c.currency,
            "description": title,
            "spent_at": _iso(c.starts_at or ctx.root.message_date),
        }
    else:
        values = {}
    return values


def _storable(value: Any) -> Any:
    """``value`` with NUL characters removed from every string.

    Postgres ``text`` and ``jsonb`` reject U+0000, and a classifier may echo the
    raw text back; the raw message keeps its NUL, the structured copy does not
    need it. Lone surrogates become U+FFFD for the same reason.

    Almost every verdict has neither, and one orjson encoding says so (it refuses
    lone surrogates and writes NUL as ``\\u0000``): only then is the value walked
    string by string. The walk per verdict was a sixth of the analyzer's CPU.
    """
    try:
        encoded = orjson.dumps(value)
    except (TypeError, ValueError):  # lone surrogates (or what orjson cannot encode)
        return _cleaned(value)
    return _cleaned(value) if b"\\u0000" in encoded else value


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        # Lone surrogates (half an emoji) cannot be encoded for either backend.
        cleaned = jsonutil.clean_text(value) or ""
        return cleaned.replace("\x00", "") if "\x00" in cleaned else cleaned
    if isinstance(value, dict):
        return {k: _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    return value


def owner_verdict(ctx: WorkContext) -> Classification | None:
    """The owner's verdict when the message's current placement is the owner's.

    The analyzer files such a message with this verdict instead of its own, so new
    input (an edit, a clarification, ``--reclassify``) settles the raw rows but
    leaves the owner's table and fields as they are. ``None`` for any other
    placement, or an owner entry whose stored verdict no longer parses.
    """
    current = ctx.placement
    if current is None or current.classifier != OWNER_CLASSIFIER:
        return None
    try:
        return Classification.from_json(current.classification)
    except ValueError:
        return None


def placement_for(c: Classification, ctx: WorkContext, processed_ids: Sequence[int]) -> Placement:
    """The placement a classification asks for; applying it also settles ``processed_ids``."""
    return Placement(
        chat_id=ctx.root.chat_id,
        message_id=ctx.root.message_id,
        raw_message_id=ctx.root.id,
        destination=destination_of(c),
        values=_storable(record_values(c, ctx)),
        classification=_storable(c.to_json()),
        classifier=c.classifier,
        classifier_version=c.classifier_version,
        confidence=c.confidence,
        input_version=ctx.input_version,
        processed_ids=tuple(sorted(set(processed_ids))),
        member_ids=tuple(sorted({m.message_id for m in ctx.members})),
    )
