"""Stored records to pandas DataFrames with fixed columns and dtypes.

Every frame has the same columns, in the same order, with the same dtypes
whatever the backend and even when empty, so notebook code written against
one database runs on another. Nullable integers are ``Int64``, text is
``string``, flags ``bool``; times are tz-aware in the owner's zone, because a
question like "what did I send on Tuesday evening" is asked on the owner's
clock, not in UTC. Lists and JSON objects stay Python values (``object``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from superbrain_core.models import (
    BatchRun,
    MessageChain,
    RawFile,
    RawMessage,
    RoutingEntry,
)
from superbrain_core.records import JSON_COLUMNS, TABLE_COLUMNS
from superbrain_core.search import SearchHit

try:
    import pandas as pd  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "superbrain_core.explore.notebook needs pandas (and matplotlib for plots):"
        " pip install 'superbrain-core[notebook]'"
    ) from exc

DataFrame = pd.DataFrame
#: A filter bound: an aware or naive datetime, a date, or text like ``"2026-11-24 18:00"``.
Moment = datetime | date | str | None

#: Column kinds; :func:`frame` turns each into one dtype.
INT, NULLABLE_INT, TEXT, FLAG, TIME, FLOAT, VALUE, DURATION = (
    "int",
    "Int64",
    "text",
    "flag",
    "time",
    "float",
    "value",
    "duration",
)
Schema = Mapping[str, str]

MESSAGES: Schema = {
    "id": INT,
    "chat_id": INT,
    "message_id": INT,
    "version": INT,
    "message_date": TIME,
    "edit_date": TIME,
    "user_id": NULLABLE_INT,
    "sender_is_bot": FLAG,
    "message_type": TEXT,
    "message_text": TEXT,
    "reply_to_message_id": NULLABLE_INT,
    "reply_to_text": TEXT,
    "is_clarification": FLAG,
    "chain_id": TEXT,
    "media_group_id": TEXT,
    "message_thread_id": NULLABLE_INT,
    "forward_origin": VALUE,
    "entities": VALUE,
    "update_id": NULLABLE_INT,
    "source": TEXT,
    "is_processed": FLAG,
    "processed_at": TIME,
    "created_at": TIME,
}
RAW_JSON: Schema = {"raw_telegram_json": VALUE}

FILES: Schema = {
    "id": INT,
    "chat_id": INT,
    "message_id": INT,
    "user_id": NULLABLE_INT,
    "file_type": TEXT,
    "file_name": TEXT,
    "mime_type": TEXT,
    "file_size": NULLABLE_INT,
    "status": TEXT,
    "download_reason": TEXT,
    "file_hash": TEXT,
    "file_path": TEXT,
    "file_id": TEXT,
    "file_unique_id": TEXT,
    "raw_metadata": VALUE,
    "is_processed": FLAG,
    "processed_at": TIME,
    "uploaded_at": TIME,
}

CHAINS: Schema = {
    "chain_id": TEXT,
    "chat_id": INT,
    "user_id": NULLABLE_INT,
    "original_message_id": INT,
    "original_text": TEXT,
    "n_replies": INT,
    "reply_message_ids": VALUE,
    "replies": VALUE,
    "created_at": TIME,
    "updated_at": TIME,
    "last_reply_at": TIME,
}

CHAIN_MEMBERS: Schema = {
    "position": INT,
    "message_id": INT,
    "role": TEXT,
    "text": TEXT,
    "date": TIME,
    "user_id": NULLABLE_INT,
    "reply_to_message_id": NULLABLE_INT,
    "reply_to_text": TEXT,
}

ROUTING: Schema = {
    "id": INT,
    "created_at": TIME,
    "chat_id": INT,
    "message_id": INT,
    "destination": TEXT,
    "type": TEXT,
    "title": TEXT,
    "record_id": NULLABLE_INT,
    "confidence": FLOAT,
    "classifier": TEXT,
    "classifier_version": TEXT,
    "input_version": INT,
    "run_id": NULLABLE_INT,
    "raw_message_id": INT,
    "current": FLAG,
    "superseded_at": TIME,
    "classification": VALUE,
}

BATCH_RUNS: Schema = {
    "id": INT,
    "started_at": TIME,
    "finished_at": TIME,
    "duration": DURATION,
    "status": TEXT,
    "classifier": TEXT,
    "digest": TEXT,
    "counts": VALUE,
}

SEARCH_HITS: Schema = {
    "chat_id": INT,
    "message_id": INT,
    "date": TIME,
    "message_type": TEXT,
    "snippet": TEXT,
    "highlights": VALUE,
    "matched_in": TEXT,
    "file_names": VALUE,
    "destination": TEXT,
    "record_id": NULLABLE_INT,
    "version": INT,
    "raw_message_id": INT,
    "source": TEXT,
    "from_bot": FLAG,
}


def record_schema(table: str) -> Schema:
    """A structured table's columns: its own (``records.TABLE_COLUMNS``) between the keys
    and the timestamps. Amounts become floats (SQLite keeps text, Postgres numeric)."""
    own: dict[str, str] = {}
    for column in TABLE_COLUMNS[table]:
        if column.endswith("_at"):
            own[column] = TIME
        elif column in JSON_COLUMNS:
            own[column] = VALUE
        elif column.endswith("_id"):
            own[column] = NULLABLE_INT
        elif column == "amount":
            own[column] = FLOAT
        else:
            own[column] = TEXT
    return {
        "id": INT,
        "raw_message_id": INT,
        "chat_id": INT,
        "message_id": INT,
        **own,
        "created_at": TIME,
        "updated_at": TIME,
    }


# -- records to rows ---------------------------------------------------------------


def message_row(message: RawMessage, *, raw: bool) -> dict[str, Any]:
    row = attrs.asdict(message, recurse=False)
    if not raw:
        del row["raw_telegram_json"]
    return row


def file_row(raw_file: RawFile) -> dict[str, Any]:
    row = attrs.asdict(raw_file, recurse=False)
    row["status"] = raw_file.status.value
    return row


def chain_row(chain: MessageChain, zone: str) -> dict[str, Any]:
    replies = [
        {
            "message_id": r.message_id,
            "text": r.text,
            "date": pd.Timestamp(r.date).tz_convert(zone),
            "user_id": r.user_id,
            "reply_to_message_id": r.reply_to_message_id,
            "reply_to_text": r.reply_to_text,
        }
        for r in chain.replies
    ]
    return {
        "chain_id": chain.chain_id,
        "chat_id": chain.chat_id,
        "user_id": chain.user_id,
        "original_message_id": chain.original_message_id,
        "original_text": chain.original_text,
        "n_replies": len(chain.replies),
        "reply_message_ids": [r.message_id for r in chain.replies],
        "replies": replies,
        "created_at": chain.created_at,
        "updated_at": chain.updated_at,
        "last_reply_at": max((r.date for r in chain.replies), default=None),
    }


def chain_member_rows(chain: MessageChain, root: RawMessage | None) -> list[dict[str, Any]]:
    """The root (its newest stored version, when it is stored) then each reply in order."""
    members = [
        {
            "position": 0,
            "message_id": chain.original_message_id,
            "role": "root",
            "text": root.message_text if root is not None else chain.original_text,
            "date": root.message_date if root is not None else None,
            "user_id": root.user_id if root is not None else chain.user_id,
            "reply_to_message_id": root.reply_to_message_id if root is not None else None,
            "reply_to_text": root.reply_to_text if root is not None else None,
        }
    ]
    for position, reply in enumerate(chain.replies, start=1):
        members.append(
            {
                "position": position,
                "message_id": reply.message_id,
                "role": "reply",
                "text": reply.text,
                "date": reply.date,
                "user_id": reply.user_id,
                "reply_to_message_id": reply.reply_to_message_id,
                "reply_to_text": reply.reply_to_text,
            }
        )
    return members


def routing_row(entry: RoutingEntry) -> dict[str, Any]:
    row = attrs.asdict(entry, recurse=False)
    classification = entry.classification if isinstance(entry.classification, dict) else {}
    row["type"] = classification.get("type")
    row["title"] = classification.get("title")
    row["current"] = entry.superseded_at is None
    return row


def search_hit_row(hit: SearchHit) -> dict[str, Any]:
    row = attrs.asdict(hit, recurse=False)
    row["highlights"] = list(hit.highlights)
    row["file_names"] = list(hit.file_names)
    return row


def batch_run_row(run: BatchRun) -> dict[str, Any]:
    row = attrs.asdict(run, recurse=False)
    row["duration"] = run.finished_at - run.started_at if run.finished_at else None
    return row


def batch_run_schema(runs: Iterable[BatchRun]) -> Schema:
    """:data:`BATCH_RUNS` plus one column per count the runs recorded (``claimed``,
    ``moved``…): integers as ``Int64``, nested counts (``routed``) as values."""
    schema = dict(BATCH_RUNS)
    for run in runs:
        for key, value in run.counts.items():
            if key not in schema:
                is_number = isinstance(value, int) and not isinstance(value, bool)
                schema[key] = NULLABLE_INT if is_number else VALUE
    return schema


def batch_run_rows(runs: Iterable[BatchRun], schema: Schema) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        row = batch_run_row(run)
        for key, value in run.counts.items():
            if key not in BATCH_RUNS and key in schema:
                row[key] = value
        rows.append(row)
    return rows


# -- rows to a frame -----------------------------------------------------------------


def frame(rows: list[dict[str, Any]], schema: Schema, zone: str) -> pd.DataFrame:
    """``rows`` as a DataFrame of exactly ``schema``'s columns and dtypes (extra keys dropped)."""
    df = pd.DataFrame.from_records(rows, columns=list(schema)) if rows else None
    if df is None:
        df = pd.DataFrame({column: pd.Series([], dtype=object) for column in schema})
    for column, kind in schema.items():
        df[column] = _typed(df[column], kind, zone)
    return df


def _typed(values: pd.Series, kind: str, zone: str) -> pd.Series:
    if kind == INT:
        return values.astype("int64")
    if kind == NULLABLE_INT:
        return values.astype("Int64")
    if kind == TEXT:
        return values.astype("string")
    if kind == FLAG:
        return values.astype("bool")
    if kind == FLOAT:
        return values.map(_number, na_action="ignore").astype("float64")
    if kind == TIME:
        return times(values, zone)
    if kind == DURATION:
        return pd.to_timedelta(values).astype("timedelta64[us]")
    return values.astype(object)


def _number(value: Any) -> float:
    if isinstance(value, (Decimal, str, int, float)):
        return float(value)
    raise TypeError(f"not a number: {value!r}")


def times(values: pd.Series, zone: str) -> pd.Series:
    """Datetimes or ISO strings (any offset), ``None`` as ``NaT``, in ``zone`` (µs).

    A time pandas cannot hold or show (a task due in the year 3000 overflows
    pandas 2's nanoseconds; one past 9999 on the owner's clock has no printable
    form) makes the column ``object`` instead: Python datetimes in ``zone``, a
    value that zone cannot reach kept in UTC. The frame stays printable.
    """
    try:
        converted = pd.to_datetime(values, utc=True, format="ISO8601")
        local = converted.dt.tz_convert(zone).astype(pd.DatetimeTZDtype("us", zone))
    except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        return _python_times(values, zone)
    present = local.dropna()
    if not present.empty and not (present.min().year >= 1 and present.max().year <= 9999):
        return _python_times(values, zone)
    return local


def _python_times(values: pd.Series, zone: str) -> pd.Series:
    """:func:`times` as an ``object`` column of aware Python datetimes (``None`` for
    missing); a value that is not a time is kept as it is."""
    tz = ZoneInfo(zone)

    def one(value: Any) -> Any:
        if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
            return None
        when = value
        if isinstance(when, pd.Timestamp):
            try:
                when = when.to_pydatetime()
            except (ValueError, OverflowError):
                return value
        if isinstance(when, str):
            try:
                when = datetime.fromisoformat(when)
            except ValueError:
                return value
        if not isinstance(when, datetime):
            return value
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # as pandas reads a naive time with utc=True
        try:
            return when.astimezone(tz)
        except (OverflowError, ValueError):
            return when.astimezone(UTC)

    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def moment(value: Moment, zone: str) -> datetime | None:
    """A filter bound as an aware datetime; a naive value is read on ``zone``'s clock
    (``"2026-11-24"`` is midnight there, not in UTC)."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a date or time: {value!r}") from exc
    if stamp is pd.NaT:
        raise ValueError(f"not a date or time: {value!r}")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(zone)
    found: datetime = stamp.to_pydatetime()
    return found
