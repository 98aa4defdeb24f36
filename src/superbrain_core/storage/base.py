"""The one storage interface every backend implements.

Code above this line (capture, the CLI, the bot integration, the analyzer) only
ever talks to :class:`Store`. Backends differ in how they make the operations
atomic (a SQLite write transaction, a Postgres SQL function), never in what the
operations mean; the shared conformance suite in ``tests/conformance`` holds
each backend to the same behaviour.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Self

import attrs

from superbrain_core import jsonutil
from superbrain_core.models import (
    OWNER_CLASSIFIER,
    BatchRun,
    BotResponse,
    BotResponseIn,
    CaptureResult,
    FileDescriptor,
    FileStatus,
    ImportedMessage,
    ImportResult,
    JSONDict,
    MessageChain,
    NormalizedMessage,
    NormalizedUpdate,
    OwnerExample,
    Placement,
    PlacementResult,
    RawFile,
    RawMessage,
    RawUpdate,
    RoutingEntry,
    StoreStats,
    UpdateConflict,
    WorkContext,
    WorkFailure,
    WorkItem,
    WorkProblem,
)
from superbrain_core.search import SearchHit
from superbrain_core.storage.outbox import Notification, OutboxEntry, RescuedRuns
from superbrain_core.storage.run_lock import DEFAULT_RUN_LOCK_TTL, RunLock

#: The public Bot API's ``getFile`` limit; files above it can only be described.
BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024


@attrs.frozen
class CaptureOptions:
    """How an update is captured: who received it, from where, and the download limit.

    ``bot_id`` scopes ``update_id`` (Telegram numbers updates per bot). ``source``
    tells live capture (``bot``) from ``ingest`` and imports apart.
    ``max_download_bytes`` decides at capture time which files can never be
    fetched, so their descriptor carries the reason right away.
    """

    bot_id: int = 0
    source: str = "bot"
    max_download_bytes: int | None = BOT_API_DOWNLOAD_LIMIT


def require_aware(value: datetime | None) -> datetime | None:
    """``value`` unchanged when it has a time zone (or is ``None``); a naive one is refused."""
    if value is not None and value.utcoffset() is None:
        raise ValueError(
            f"{value.isoformat()} has no time zone: a store cannot guess whose clock it is"
        )
    return value


@attrs.frozen
class MessageFilter:
    """Which raw message versions :meth:`Store.list_messages` returns; ``None`` matches all.

    ``since``/``until`` are a half-open range ``[since, until)`` over Telegram's
    ``message_date``. An edit keeps the original's date, so every version of a
    message is in or out of a range together. Both must be timezone-aware.
    """

    since: datetime | None = attrs.field(default=None, converter=require_aware)
    until: datetime | None = attrs.field(default=None, converter=require_aware)
    chat_id: int | None = None
    message_type: str | None = None
    processed: bool | None = None


def content_hash(msg: NormalizedMessage) -> str:
    """What tells two versions with the same ``edit_date`` apart (Telegram dates have
    one-second resolution, so two quick edits can share one)."""
    files = ",".join(f.file_unique_id or f.file_id or "" for f in msg.files)
    material = jsonutil.dumps([msg.message_type, msg.text, msg.entities, files])
    return hashlib.blake2b(material.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def version_hash(msg: NormalizedMessage) -> str:
    """The ``content_hash`` column: only an edit needs its content told apart (an
    original has one content by definition), so originals store ``""``."""
    return content_hash(msg) if msg.edit_date is not None else ""


def payload_fingerprint(payload: JSONDict) -> str:
    """What tells two contents under one ``update_id`` apart in ``update_conflicts``:
    a hash of the payload with sorted keys, so key order never makes a conflict."""
    material = jsonutil.dumps_sorted(payload)
    return hashlib.blake2b(material.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


#: Chat ids of business chats are scoped by their business connection (message ids
#: are numbered per business account: two businesses' chats with one customer share
#: the chat id and reuse message ids). The ``n``-th connection a database sees owns
#: the block ``-(n * BUSINESS_CHAT_SPAN + chat_id)``, far past every Bot API chat id
#: and every Desktop-import block, so each (connection, chat, message) is one key.
BUSINESS_CHAT_SPAN = 2**52
#: Connections one database can keep apart (the blocks must fit in 64 bits).
MAX_BUSINESS_CONNECTIONS = 2047


def business_chat_key(connection_number: int, chat_id: int) -> int | None:
    """The stored ``chat_id`` of a business chat (``None`` when it has no block: a chat
    id outside ``0 .. 2**52 - 1`` or a connection past the 2047th, which are then
    stored under their own chat id, as before)."""
    if not 1 <= connection_number <= MAX_BUSINESS_CONNECTIONS:
        return None
    if not 0 <= chat_id < BUSINESS_CHAT_SPAN:
        return None
    return -(connection_number * BUSINESS_CHAT_SPAN + chat_id)


def initial_file_status(
    desc: FileDescriptor, opts: CaptureOptions
) -> tuple[FileStatus, str | None]:
    """Decided at capture time, so a file that can never be fetched says why at once."""
    limit = opts.max_download_bytes
    if limit is not None and desc.file_size is not None and desc.file_size > limit:
        return FileStatus.TOO_LARGE, (
            f"file is {desc.file_size} bytes; downloads are limited to {limit} bytes"
        )
    if desc.file_id is None:
        return FileStatus.MISSING, "descriptor has no file_id to download with"
    return FileStatus.PENDING, None


def runs_of_one_kind(
    items: Sequence[NormalizedUpdate | BotResponseIn],
) -> list[list[NormalizedUpdate | BotResponseIn]]:
    """Consecutive updates and bot responses grouped, order kept (for ``write_batch``)."""
    runs: list[list[NormalizedUpdate | BotResponseIn]] = []
    for item in items:
        if runs and isinstance(runs[-1][0], BotResponseIn) == isinstance(item, BotResponseIn):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class Store(abc.ABC):
    """Async storage of raw Telegram data. Use as ``async with open_store(url) as store``."""

    #: Short backend name for logs and stats (``sqlite``, ``postgres``, ``supabase``).
    backend: str = "abstract"
    #: Which database this is, for people: a SQLite file's absolute path, Postgres's
    #: ``user@host:port/db`` (never a password), the Supabase project's host.
    where: str = "?"

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and make sure the schema is current."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; safe to call twice."""

    # -- capture -------------------------------------------------------------

    async def capture(
        self, update: NormalizedUpdate, options: CaptureOptions | None = None
    ) -> CaptureResult:
        """Store one update atomically: raw update, message version, file descriptors, chain.

        Idempotent: the same update delivered again adds nothing and reports
        :attr:`CaptureOutcome.DUPLICATE`.
        """
        (result,) = await self.capture_many([update], options)
        return result

    @abc.abstractmethod
    async def capture_many(
        self, updates: Sequence[NormalizedUpdate], options: CaptureOptions | None = None
    ) -> list[CaptureResult]:
        """Store several updates in order, as one atomic unit, with :meth:`capture`'s semantics."""

    @abc.abstractmethod
    async def record_bot_response(self, response: BotResponseIn) -> BotResponse:
        """Record what the bot sent (or failed to send).

        When it answers a user message that belongs to a chain, the response is
        linked to that chain. Recording the same sent message twice (same chat
        and message id) returns the existing row.
        """

    async def write_batch(
        self,
        items: Sequence[NormalizedUpdate | BotResponseIn],
        options: CaptureOptions | None = None,
    ) -> list[CaptureResult | BotResponse]:
        """Capture updates and record bot responses, in order, as one unit where possible.

        This is what group commit uses: the bot's traffic interleaves the two.
        The default runs consecutive items of one kind together; backends that
        can do the whole batch in one transaction override it.
        """
        results: list[CaptureResult | BotResponse] = []
        for run in runs_of_one_kind(items):
            if isinstance(run[0], BotResponseIn):
                results.extend(await self.record_bot_responses(run))  # type: ignore[arg-type]
            else:
                results.extend(await self.capture_many(run, options))  # type: ignore[arg-type]
        return results

    async def record_bot_responses(self, responses: Sequence[BotResponseIn]) -> list[BotResponse]:
        """Record several responses in order; backends make it one transaction."""
        return [await self.record_bot_response(r) for r in responses]

    @abc.abstractmethod
    async def import_messages(
        self, messages: Sequence[ImportedMessage], options: CaptureOptions | None = None
    ) -> ImportResult:
        """Store messages from an export (``superbrain import-desktop``), in order, atomically.

        A message whose ``(chat_id, message_id)`` is already stored, in any
        version and from any source, is skipped: a re-import adds nothing, and a
        message the bot captured live keeps exactly the versions it has. A new
        message becomes version 1 with ``source = options.source`` and no
        ``update_id`` (no ``raw_updates`` row: nobody delivered it), joins reply
        chains like a captured one, and its files are stored with the status
        they come with.
        """

    async def stored_message_keys(self, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        """Which of the ``(chat_id, message_id)`` keys have a stored version.

        Lets an import skip copying the files of messages it will not store.
        This default asks per key; every bundled backend overrides it with one
        query per batch (SQLite, Postgres) or one rpc per page of keys
        (Supabase: ``superbrain_stored_message_keys``).
        """
        return {key for key in keys if await self.get_message(*key) is not None}

    # -- reads ---------------------------------------------------------------

    @abc.abstractmethod
    async def get_update(self, update_id: int, *, bot_id: int = 0) -> RawUpdate | None: ...

    @abc.abstractmethod
    async def update_conflicts(
        self, *, after_id: int = 0, limit: int = 1000
    ) -> list[UpdateConflict]:
        """Contents that arrived under an already stored ``update_id`` and differ from it
        (:attr:`CaptureOutcome.CONFLICT`), by ascending id; page with ``after_id``."""

    @abc.abstractmethod
    async def business_chat_id(self, business_connection_id: str, chat_id: int) -> int | None:
        """The ``chat_id`` a business chat's messages are stored under (the block of its
        connection, :func:`business_chat_key`), for every read that takes a chat id;
        ``None`` when no message of that connection was stored."""

    @abc.abstractmethod
    async def message_versions(self, chat_id: int, message_id: int) -> list[RawMessage]:
        """Every stored version of a message, oldest first."""

    async def get_message(self, chat_id: int, message_id: int) -> RawMessage | None:
        """The newest stored version of a message."""
        versions = await self.message_versions(chat_id, message_id)
        return versions[-1] if versions else None

    @abc.abstractmethod
    async def get_chain(self, chain_id: str) -> MessageChain | None: ...

    @abc.abstractmethod
    async def chain_of(self, chat_id: int, message_id: int) -> MessageChain | None:
        """The chain a message belongs to, as its root or as a reply."""

    @abc.abstractmethod
    async def get_file(self, file_row_id: int) -> RawFile | None: ...

    @abc.abstractmethod
    async def files_of_message(self, chat_id: int, message_id: int) -> list[RawFile]: ...

    @abc.abstractmethod
    async def list_files(
        self, *, status: FileStatus | None = None, limit: int = 1000, after_id: int = 0
    ) -> list[RawFile]:
        """Files by ascending id, optionally of one status; page with ``after_id``."""

    @abc.abstractmethod
    async def set_file_status(
        self,
        file_row_id: int,
        status: FileStatus,
        *,
        file_hash: str | None = None,
        file_path: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Record where a file's bytes stand (stored under a hash, failed with a reason...)."""

    @abc.abstractmethod
    async def bot_responses(self, chat_id: int) -> list[BotResponse]:
        """What the bot sent in one chat, oldest first."""

    @abc.abstractmethod
    async def stats(self) -> StoreStats: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Cheap round trip proving the store answers; raises :class:`StorageError` if not."""

    @abc.abstractmethod
    async def last_batch_run(self) -> BatchRun | None:
        """The newest analyzer run, for the bot's ``/last``."""

    # -- the analyzer --------------------------------------------------------
    #
    # The nightly batch claims raw message versions with a lease, loads what it
    # needs to classify their targets, and applies placements. Every write below
    # is one atomic unit (a transaction, or one SQL function call on Postgres).

    @abc.abstractmethod
    async def claim_work(
        self, worker: str, *, limit: int, lease_until: datetime, now: datetime
    ) -> list[WorkItem]:
        """Claim up to ``limit`` unprocessed raw rows for ``worker``, oldest first.

        Claimable: not processed, not quarantined, no live lease (a crashed
        run's lease expires), and past its retry back-off. Two workers never
        claim the same row while a lease is live.
        """

    @abc.abstractmethod
    async def peek_work(
        self,
        *,
        after_id: int,
        limit: int,
        now: datetime,
        reclassify: tuple[str, str] | None = None,
    ) -> list[WorkItem]:
        """What :meth:`claim_work` would take, without writing (``--dry-run``).

        With ``reclassify=(classifier, version)`` rows whose current placement
        was made by any other classifier version are included too.
        """

    @abc.abstractmethod
    async def pending_work(self, *, now: datetime) -> int:
        """How many raw rows are claimable now (for progress bars)."""

    @abc.abstractmethod
    async def load_work_contexts(
        self, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], WorkContext]:
        """For each ``(chat_id, message_id)``: newest version, chain, files, current placement."""

    @abc.abstractmethod
    async def apply_placements(
        self, placements: Sequence[Placement], *, run_id: int | None
    ) -> list[PlacementResult]:
        """Apply placements and mark their raw rows processed, all in one transaction.

        Moving deletes the row from the wrong table and inserts it into the
        right one; every change supersedes the current ``routing_log`` entry and
        adds a new one. A placement computed from older input than the current
        one's is dropped (:attr:`RouteOutcome.STALE`).
        """

    @abc.abstractmethod
    async def record_work_failures(self, failures: Sequence[WorkFailure]) -> None:
        """Count a failed attempt, keep the error, schedule the retry or quarantine."""

    @abc.abstractmethod
    async def extend_claims(
        self, worker: str, *, lease_until: datetime, now: datetime | None = None
    ) -> int:
        """Renew the lease on ``worker``'s unfinished claims (a heartbeat while rows
        wait in the run's queue or in a slow classifier) and mark its run alive.

        On Postgres and Supabase only the lease's length (``lease_until - now``,
        ``now`` defaulting to this machine's clock) is used: the lease then ends
        that long after the *database's* now, so workers with skewed clocks agree.
        ``claim_work`` treats its ``now``/``lease_until`` the same way there.
        """

    @abc.abstractmethod
    async def rescue_crashed_runs(
        self, worker: str, *, stale_after: timedelta, exclusive: bool, now: datetime
    ) -> RescuedRuns:
        """Close runs that died as ``crashed`` and hand their claims back.

        With ``exclusive`` the caller holds the run lock, so every other
        ``running`` run is dead and every claim not ``worker``'s is released at
        once. Otherwise only runs whose heartbeat is older than ``stale_after``
        (by the database's clock where it has one) count as dead.
        """

    # -- notifications -----------------------------------------------------------

    @abc.abstractmethod
    async def claim_notification(
        self, notification: Notification, holder: str, *, force: bool = False
    ) -> bool:
        """Take the outbox row of ``notification`` for sending; ``False`` when it was
        already sent or is being sent (at most once), unless ``force``."""

    @abc.abstractmethod
    async def finish_notification(
        self,
        notification: Notification,
        holder: str,
        *,
        message_id: int | None,
        error: str | None,
    ) -> None:
        """Record Telegram's answer for a claimed notification: sent, or failed."""

    @abc.abstractmethod
    async def open_questions(
        self, owner_id: int, *, before: date, max_asks: int
    ) -> list[OutboxEntry]:
        """Questions from nights before ``before`` to ask again: the newest ask failed
        or got no reply, and fewer than ``max_asks`` nights asked it."""

    @abc.abstractmethod
    async def notifications(self, night: date) -> list[OutboxEntry]:
        """Every outbox row of one night, in the order they were first claimed."""

    @abc.abstractmethod
    async def release_claims(self, worker: str) -> int:
        """Give back ``worker``'s unfinished claims (a run stopping early)."""

    @abc.abstractmethod
    async def requeue_for_reclassify(self, classifier: str, version: str) -> int:
        """Mark unprocessed again every message placed by another classifier version."""

    @abc.abstractmethod
    async def requeue_quarantined(self) -> int:
        """Give quarantined rows a fresh set of attempts."""

    @abc.abstractmethod
    async def work_problems(self, *, limit: int = 100) -> list[WorkProblem]:
        """Unprocessed rows that failed at least once, quarantined first."""

    @abc.abstractmethod
    def run_lock(
        self, name: str, holder: str, *, ttl: float = DEFAULT_RUN_LOCK_TTL
    ) -> AbstractAsyncContextManager[RunLock]:
        """Hold the named run lock for the body; raise :class:`RunLockHeld` if taken.

        ``async with store.run_lock("batch", worker):`` keeps a second analyzer
        run from starting while one is active, across processes and hosts that
        share the database. ``ttl`` bounds how long a lease outlives a holder
        that died without releasing it, on backends that need a lease.
        """

    @abc.abstractmethod
    async def start_batch_run(self, classifier: str, version: str, worker: str) -> int:
        """Open a ``batch_runs`` row and return its id."""

    @abc.abstractmethod
    async def finish_batch_run(
        self, run_id: int, *, status: str, counts: JSONDict, digest: str
    ) -> None: ...

    @abc.abstractmethod
    async def routing_history(self, chat_id: int, message_id: int) -> list[RoutingEntry]:
        """Every placement ever made for a message, oldest first."""

    async def owner_examples(self, *, limit: int = 200) -> list[OwnerExample]:
        """The owner's settled filings, newest first: examples the classifiers learn from.

        A message counts when its current placement was made by the owner by
        hand (classifier ``owner``), or moved it to another table after the
        owner's clarification: an earlier placement had another destination,
        and the current one was decided with the owner's replies in view (its
        ``input_version`` is past the root's own row). Messages without text are
        skipped. One shared implementation over :meth:`list_routing` and
        :meth:`get_message`, so every backend answers alike without a schema
        change; it pages through the routing log once (the analyzer calls it
        once per run).
        """
        if limit <= 0:
            return []
        current: dict[tuple[int, int], RoutingEntry] = {}
        seen: dict[tuple[int, int], set[str]] = {}
        after_id = 0
        while True:
            page = await self.list_routing(after_id=after_id, limit=1000)
            if not page:
                break
            after_id = page[-1].id
            for entry in page:
                key = (entry.chat_id, entry.message_id)
                seen.setdefault(key, set()).add(entry.destination)
                if entry.superseded_at is None:
                    current[key] = entry
        chosen = [
            e
            for key, e in current.items()
            if e.classifier == OWNER_CLASSIFIER
            or (len(seen[key]) > 1 and e.input_version > e.raw_message_id)
        ]
        examples: list[OwnerExample] = []
        for entry in sorted(chosen, key=lambda e: e.id, reverse=True):
            message = await self.get_message(entry.chat_id, entry.message_id)
            text = (message.message_text or "").strip() if message is not None else ""
            if not text:
                continue
            examples.append(
                OwnerExample(
                    chat_id=entry.chat_id,
                    message_id=entry.message_id,
                    text=text,
                    destination=entry.destination,
                    classification=entry.classification,
                    classifier=entry.classifier,
                    routing_id=entry.id,
                    created_at=entry.created_at,
                )
            )
            if len(examples) >= limit:
                break
        return examples

    @abc.abstractmethod
    async def list_records(
        self, table: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[JSONDict]:
        """Rows of a structured table by ascending id; page with ``after_id``."""

    async def set_task_status(self, record_id: int, status: str) -> bool:
        """Tick a task off (``done``) or open it again (``open``), as the owner does by hand.

        ``status`` is insert-only for the analyzer (a re-filed task keeps it), so
        this is the one way it changes. ``False`` when no task has that id;
        ``ValueError`` for a status other than ``open``/``done``. Every bundled
        store implements it; a backend that cannot raises
        :class:`~superbrain_core.errors.StorageError` saying so.
        """
        from superbrain_core.errors import StorageError

        raise StorageError(f"the {self.backend} store cannot change a task's status")

    # -- exploration (notebooks) ---------------------------------------------
    #
    # Pages by key, never by offset: rows inserted (or moved by the analyzer)
    # between two pages are then neither skipped nor repeated.

    @abc.abstractmethod
    async def list_messages(
        self, where: MessageFilter | None = None, *, after_id: int = 0, limit: int = 1000
    ) -> list[RawMessage]:
        """Raw message versions matching ``where`` by ascending id; page with ``after_id``."""

    @abc.abstractmethod
    async def list_chains(
        self, *, chat_id: int | None = None, after: str | None = None, limit: int = 1000
    ) -> list[MessageChain]:
        """Chains by ascending ``chain_id``, optionally of one chat; page with ``after``
        (the last ``chain_id`` seen)."""

    @abc.abstractmethod
    async def list_routing(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        run_id: int | None = None,
        chat_id: int | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[RoutingEntry]:
        """``routing_log`` entries, current and superseded, by ascending id.

        ``since``/``until`` bound ``created_at`` (half-open, timezone-aware);
        ``run_id`` picks what one analyzer run placed. Page with ``after_id``.
        """

    @abc.abstractmethod
    async def list_batch_runs(self, *, after_id: int = 0, limit: int = 1000) -> list[BatchRun]:
        """Analyzer runs by ascending id; page with ``after_id``."""

    # -- full-text search ----------------------------------------------------

    @abc.abstractmethod
    async def search(
        self,
        query: str,
        *,
        limit: int = 50,
        chat_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        """Messages whose newest version's text or file names hold every word of ``query``.

        Words match in any form (Russian and English stemming: "встречу" finds
        "встреча"). Newest message first; each message once. ``since``/``until``
        bound Telegram's message date (half-open, timezone-aware). Raises
        :class:`~superbrain_core.search.SearchQueryError` (a ``ValueError``) for a
        query with no searchable word or a ``limit`` outside 1..1000. How it works:
        ``docs/search.md``.
        """
