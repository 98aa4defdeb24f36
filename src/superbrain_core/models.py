"""Typed records for what superbrain_core stores and passes around.

Two families live here:

* *normalized* records (:class:`NormalizedUpdate`, :class:`NormalizedMessage`,
  :class:`FileDescriptor`, :class:`ForwardOrigin`) are what
  :mod:`superbrain_core.telegram` derives from Bot API JSON. They are pure values
  and never touch storage.
* *stored* records (:class:`RawUpdate`, :class:`RawMessage`, :class:`RawFile`,
  :class:`BotResponse`, :class:`MessageChain`) are rows as every storage backend
  returns them, so code above the storage interface never sees a driver type.

All datetimes are timezone-aware UTC; every record is frozen, because a raw
record is history and must not be edited in place.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

JSONDict = dict[str, Any]


class CaptureOutcome(enum.StrEnum):
    """What capturing one update did."""

    NEW = "new"
    """The update was stored for the first time (and its message, if any, as version 1)."""
    EDIT = "edit"
    """The update was new and added another version of an already stored message."""
    DUPLICATE = "duplicate"
    """Nothing new: the update was already stored, or it carries a message version that is
    (a redelivery through another route; the raw update itself is then still kept)."""
    CONFLICT = "conflict"
    """The ``update_id`` was already stored with *different* content (two bots sharing a
    database under one ``bot_id``, a hand-edited file): the first content stays in
    ``raw_updates``, the new one is kept in ``update_conflicts`` with it, and it is reported."""


class FileStatus(enum.StrEnum):
    """Where the bytes of a file stand; the descriptor is always stored regardless."""

    PENDING = "pending"
    """Descriptor stored, bytes not fetched yet."""
    STORED = "stored"
    """Bytes are in the FileStore under ``file_hash``."""
    TOO_LARGE = "too_large"
    """Over the download limit (20 MB on the public Bot API); kept as metadata only."""
    FAILED = "failed"
    """Fetching failed; ``download_reason`` says why and a retry may succeed."""
    MISSING = "missing"
    """The source never had the bytes (for example an export made without media)."""


@attrs.frozen
class FileDescriptor:
    """One file a message carries, as Telegram describes it (no bytes)."""

    file_type: str
    file_id: str | None
    file_unique_id: str | None
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    raw: JSONDict = attrs.field(factory=dict)


@attrs.frozen
class ForwardOrigin:
    """Who a forwarded message originally came from, old and new Bot API shapes unified."""

    kind: str
    """``user``, ``hidden_user``, ``chat`` or ``channel`` (the Bot API ``MessageOrigin`` types)."""
    date: datetime | None = None
    user_id: int | None = None
    chat_id: int | None = None
    message_id: int | None = None
    name: str | None = None
    signature: str | None = None

    def to_json(self) -> JSONDict:
        data = attrs.asdict(self)
        data["date"] = self.date.isoformat() if self.date else None
        return {k: v for k, v in data.items() if v is not None}


@attrs.frozen
class NormalizedMessage:
    """The analyzable facts of one message-like update, derived purely from its JSON."""

    chat_id: int
    message_id: int
    user_id: int | None
    date: datetime
    message_type: str
    raw: JSONDict
    chat_type: str | None = None
    sender_is_bot: bool = False
    edit_date: datetime | None = None
    text: str | None = None
    entities: list[JSONDict] = attrs.field(factory=list)
    reply_to_message_id: int | None = None
    reply_to_text: str | None = None
    reply_to_is_bot: bool = False
    is_clarification: bool = False
    forward_origin: ForwardOrigin | None = None
    media_group_id: str | None = None
    message_thread_id: int | None = None
    files: tuple[FileDescriptor, ...] = ()
    business_connection_id: str | None = None
    """Set on a message in a chat of a business account the bot serves: message ids
    are numbered per business account, so the connection is part of its identity."""


@attrs.frozen
class NormalizedUpdate:
    """Any Bot API update: always its id, type and verbatim payload; a message when it has one."""

    update_id: int
    update_type: str
    payload: JSONDict
    message: NormalizedMessage | None = None
    problem: str | None = None
    """Why a message-like update yielded no message (it is still stored raw)."""


@attrs.frozen
class CaptureResult:
    """What :meth:`Store.capture` did with one update."""

    update_id: int
    update_type: str
    outcome: CaptureOutcome
    raw_message_id: int | None = None
    version: int | None = None
    chain_id: str | None = None
    file_row_ids: tuple[int, ...] = ()


@attrs.frozen
class ImportedFile:
    """A file an imported message carried, with where its bytes already stand.

    Unlike live capture, an import knows the outcome before the row is written
    (the bytes are in the export folder or they are not), so the row is stored
    with its final status, hash and reason in one go.
    """

    descriptor: FileDescriptor
    status: FileStatus
    reason: str | None = None
    file_hash: str | None = None
    file_path: str | None = None


@attrs.frozen
class ImportedMessage:
    """One message from an export (no update id: nobody delivered it) and its files."""

    message: NormalizedMessage
    files: tuple[ImportedFile, ...] = ()


@attrs.frozen
class ImportResult:
    """What :meth:`Store.import_messages` did, one entry per message in input order:
    the new ``raw_messages`` row id, or ``None`` when the key was already stored."""

    raw_message_ids: tuple[int | None, ...]

    @property
    def new(self) -> int:
        return sum(1 for i in self.raw_message_ids if i is not None)

    @property
    def present(self) -> int:
        return len(self.raw_message_ids) - self.new


@attrs.frozen
class RawUpdate:
    id: int
    bot_id: int
    update_id: int
    update_type: str
    payload: JSONDict
    received_at: datetime
    source: str


@attrs.frozen
class UpdateConflict:
    """A second, different content that arrived under an already stored ``update_id``.

    Both payloads are kept verbatim: ``stored_payload`` is what ``raw_updates`` holds
    (the first content), ``payload`` what arrived later. One row per distinct content.
    """

    id: int
    bot_id: int
    update_id: int
    update_type: str
    stored_payload: JSONDict
    payload: JSONDict
    received_at: datetime
    source: str


@attrs.frozen
class RawMessage:
    """One stored version of a message. ``(chat_id, message_id, version)`` is unique."""

    id: int
    chat_id: int
    message_id: int
    version: int
    user_id: int | None
    message_type: str
    message_text: str | None
    message_date: datetime
    edit_date: datetime | None
    reply_to_message_id: int | None
    reply_to_text: str | None
    is_clarification: bool
    chain_id: str | None
    media_group_id: str | None
    message_thread_id: int | None
    sender_is_bot: bool
    entities: list[JSONDict]
    forward_origin: JSONDict | None
    raw_telegram_json: JSONDict
    update_id: int | None
    source: str
    is_processed: bool
    processed_at: datetime | None
    created_at: datetime


@attrs.frozen
class RawFile:
    """A file descriptor a message carried, with where its bytes stand."""

    id: int
    chat_id: int
    message_id: int
    user_id: int | None
    file_type: str
    file_id: str | None
    file_unique_id: str | None
    file_name: str | None
    mime_type: str | None
    file_size: int | None
    file_path: str | None
    file_hash: str | None
    status: FileStatus
    download_reason: str | None
    raw_metadata: JSONDict
    is_processed: bool
    processed_at: datetime | None
    uploaded_at: datetime


@attrs.frozen
class BotResponseIn:
    """What the bot sent (or tried to send), to be recorded by :meth:`Store.record_bot_response`.

    ``related_user_message_id`` is the id of the user's message this answers, in
    the same chat; it is what lets a later reply to the bot's message find the
    user's original message and join its chain.
    """

    chat_id: int
    message_id: int | None
    response_text: str | None
    response_type: str = "text"
    user_id: int | None = None
    related_user_message_id: int | None = None
    ai_analysis: JSONDict | None = None
    method: str | None = None
    request: JSONDict | None = None
    result: JSONDict | None = None
    error: str | None = None
    created_at: datetime | None = None
    is_edit: bool = False
    """An edit of an earlier message: recorded as a row of its own, never merged."""
    idempotency_key: str | None = None
    """Recording twice with the same key stores one row (retries, spool replays)."""

    def to_json(self) -> JSONDict:
        data = attrs.asdict(self)
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        return data

    @classmethod
    def from_json(cls, data: JSONDict) -> BotResponseIn:
        values = dict(data)
        if values.get("created_at"):
            values["created_at"] = datetime.fromisoformat(values["created_at"])
        return cls(**values)


@attrs.frozen
class BotResponse:
    id: int
    chat_id: int
    message_id: int | None
    user_id: int | None
    response_text: str | None
    response_type: str
    related_user_message_id: int | None
    chain_id: str | None
    ai_analysis: JSONDict | None
    method: str | None
    request: JSONDict | None
    result: JSONDict | None
    error: str | None
    created_at: datetime
    is_edit: bool = False


@attrs.frozen
class BatchRun:
    """One run of the nightly analyzer, as the bot's ``/last`` reports it."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    classifier: str | None
    counts: JSONDict
    digest: str | None


@attrs.frozen
class ChainReply:
    """One clarification in a chain, in arrival order."""

    message_id: int
    text: str | None
    date: datetime
    user_id: int | None
    reply_to_message_id: int | None
    reply_to_text: str | None

    def to_json(self) -> JSONDict:
        return {
            "message_id": self.message_id,
            "text": self.text,
            "date": self.date.isoformat(),
            "user_id": self.user_id,
            "reply_to_message_id": self.reply_to_message_id,
            "reply_to_text": self.reply_to_text,
        }


@attrs.frozen
class MessageChain:
    """A root user message and every reply that clarifies it, however deep the reply tree."""

    chain_id: str
    chat_id: int
    user_id: int | None
    original_message_id: int
    original_text: str | None
    replies: tuple[ChainReply, ...]
    created_at: datetime
    updated_at: datetime


@attrs.frozen
class StoreStats:
    """Row counts per table and raw message counts per ``message_type``."""

    tables: dict[str, int]
    message_types: dict[str, int]
    file_statuses: dict[str, int]


# -- the analyzer's bookkeeping --------------------------------------------------


class RouteOutcome(enum.StrEnum):
    """What applying one placement did to the structured tables."""

    PLACED = "placed"
    """First placement of the message."""
    UPDATED = "updated"
    """Same table, changed fields (or a newer classifier confirmed it)."""
    MOVED = "moved"
    """Deleted from the wrong table and inserted into the right one."""
    UNCHANGED = "unchanged"
    """Same table, same fields: nothing written but the processing bookkeeping."""
    STALE = "stale"
    """A concurrent run already placed it from newer input; this verdict was dropped."""


@attrs.frozen
class WorkItem:
    """One claimed (or, in a dry run, peeked) raw message version awaiting analysis.

    ``target_message_id`` is the message that gets filed: the chain's root when
    the root is stored, otherwise the message itself. Clarifications are folded
    into their root this way.
    """

    id: int
    chat_id: int
    message_id: int
    target_message_id: int
    attempts: int = 0


@attrs.frozen
class RoutingEntry:
    """One placement ever made (``routing_log``); the current one has no ``superseded_at``."""

    id: int
    raw_message_id: int
    chat_id: int
    message_id: int
    destination: str
    record_id: int | None
    classification: JSONDict
    classifier: str
    classifier_version: str
    confidence: float
    input_version: int
    run_id: int | None
    created_at: datetime
    superseded_at: datetime | None


#: The classifier name of a placement the owner made by hand (the web page's
#: corrections): such a placement is never second-guessed and teaches the classifiers.
OWNER_CLASSIFIER = "owner"


@attrs.frozen
class OwnerExample:
    """A message whose filing the owner settled, and where it was settled to.

    Read by :meth:`~superbrain_core.storage.base.Store.owner_examples` from the
    routing history: a placement the owner made by hand (classifier ``owner``),
    or one that moved the message after the owner's clarification. ``text`` is
    the message's newest text; ``classification`` the settled entry's JSON.
    """

    chat_id: int
    message_id: int
    text: str
    destination: str
    classification: JSONDict
    classifier: str
    routing_id: int
    created_at: datetime


@attrs.frozen
class WorkContext:
    """Everything stored about one target message that its classification may use.

    ``members`` are the newest versions of the chain's other messages in arrival
    order; ``input_version`` is the highest raw row id looked at, which lets a
    store drop a verdict made from older input than the current placement's.
    """

    root: RawMessage
    members: tuple[RawMessage, ...]
    bot_messages: tuple[BotResponse, ...]
    files: tuple[RawFile, ...]
    placement: RoutingEntry | None
    input_version: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.root.chat_id, self.root.message_id)


@attrs.frozen
class Placement:
    """Where one message should now live, and the raw rows this settles.

    ``destination`` is a structured table name or ``none``; ``values`` are that
    table's columns (JSON-ready primitives). Applying it is idempotent.
    """

    chat_id: int
    message_id: int
    raw_message_id: int
    destination: str
    values: JSONDict
    classification: JSONDict
    classifier: str
    classifier_version: str
    confidence: float
    input_version: int
    processed_ids: tuple[int, ...]
    member_ids: tuple[int, ...] = ()
    """Message ids of the chain's other stored messages. Applying the placement
    takes each of them out of any place it was filed on its own (a root that
    arrived after its reply), and settles their raw rows up to ``input_version``."""


@attrs.frozen
class PlacementResult:
    chat_id: int
    message_id: int
    outcome: RouteOutcome
    destination: str
    record_id: int | None
    previous_destination: str | None = None


@attrs.frozen
class WorkFailure:
    """A raw row whose analysis failed this time: retried after ``next_attempt_at``."""

    raw_message_id: int
    error: str
    next_attempt_at: datetime
    quarantine: bool = False


@attrs.frozen
class WorkProblem:
    """A raw row that failed at least once and is not processed yet."""

    raw_message_id: int
    chat_id: int
    message_id: int
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    quarantined_at: datetime | None
