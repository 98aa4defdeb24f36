"""The nightly analyzer: claim raw messages, classify them with their chains, file them.

The loop is a three-stage pipeline joined by bounded streams, so memory stays
flat however large the backlog and the classifier is never idle between pages:

* the *feeder* claims a page of raw rows (with a lease), groups them by the
  message that gets filed (a clarification is folded into its chain's root),
  loads their contexts and hands them on; it claims the next page only when the
  stream has room, so leases do not run out while rows wait;
* *workers* (``concurrency`` of them) classify one target each;
* the *writer* applies finished placements in small groups, each group one
  transaction that also marks its raw rows processed, and records failures
  with exponential back-off and quarantine.

A run that dies mid-way leaves its claims to expire; the next run takes them
again, and because placements are idempotent every message ends up filed once.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import attrs
from anyio.abc import ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream

from superbrain_core.analyzer.classify.schema import (
    DEFAULT_TIMEZONE,
    ChainMessage,
    Classification,
    Classifier,
    ClassifierError,
    ClassifierInput,
)
from superbrain_core.analyzer.digest import Question, render_digest
from superbrain_core.analyzer.routing import destination_of, placement_for
from superbrain_core.errors import StorageError, TransientStorageError
from superbrain_core.logs import get_logger
from superbrain_core.models import (
    JSONDict,
    Placement,
    PlacementResult,
    RouteOutcome,
    WorkContext,
    WorkFailure,
    WorkItem,
)
from superbrain_core.storage.base import Store
from superbrain_core.taskgroups import single_errors

log = get_logger(__name__)

Clock = Callable[[], datetime]
ProgressCallback = Callable[["BatchReport"], Awaitable[None] | None]

_ERROR_LIMIT = 500
#: Most items a report keeps in each of its lists; the counts stay exact. A run
#: over a 200k backlog must not hold one object per message (memory stays flat).
REPORT_LIST_LIMIT = 1000


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_worker_name() -> str:
    """Unique per run: host, pid and a random suffix (leases are per worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@attrs.frozen
class BatchOptions:
    """How one analyzer run behaves; the CLI flags map onto these."""

    concurrency: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    limit: int | None = None
    """Claim at most this many raw rows (``None``: the whole backlog)."""
    page_size: int = attrs.field(default=200, validator=attrs.validators.ge(1))
    dry_run: bool = False
    """Classify and report what would change; write nothing, claim nothing."""
    reclassify: bool = False
    """Also re-file messages placed by another classifier version."""
    lease: timedelta = timedelta(minutes=15)
    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    retry_base: timedelta = timedelta(minutes=30)
    retry_cap: timedelta = timedelta(hours=24)
    classify_timeout: float = 120.0
    """Seconds one classification may take before it counts as a failed attempt."""
    timezone: str = DEFAULT_TIMEZONE
    worker: str | None = None
    flush_size: int = 200
    """Most placements applied in one transaction."""

    def retry_delay(self, attempts: int) -> timedelta:
        """Back-off before attempt ``attempts + 1``: base × 2^(attempts-1), capped."""
        # Exponent capped so a long-failing row cannot overflow timedelta.
        factor = 2 ** min(max(0, attempts - 1), 32)
        delay: timedelta = self.retry_base * factor
        return min(self.retry_cap, delay)


@attrs.frozen
class FailureNote:
    chat_id: int
    message_id: int
    error: str
    attempts: int
    quarantined: bool


@attrs.frozen
class Proposal:
    """A dry run's verdict: where the message is now and where it would go."""

    chat_id: int
    message_id: int
    current: str | None
    proposed: str
    confidence: float


@attrs.define
class BatchReport:
    """What a run did; ``counts()`` is what ``batch_runs.counts`` stores."""

    classifier: str
    classifier_version: str
    started_at: datetime
    dry_run: bool = False
    run_id: int | None = None
    finished_at: datetime | None = None
    status: str = "running"
    requeued: int = 0
    claimed: int = 0
    processed: int = 0
    classified: int = 0
    routed: Counter[str] = attrs.field(factory=Counter)
    outcomes: Counter[str] = attrs.field(factory=Counter)
    failed: int = 0
    quarantined: int = 0
    asked: int = 0
    """Items filed with low confidence; ``questions`` keeps the first of them."""
    changes: int = 0
    """Dry run: messages whose destination would change; ``proposals`` keeps the first."""
    failures: list[FailureNote] = attrs.field(factory=list)
    questions: list[Question] = attrs.field(factory=list)
    proposals: list[Proposal] = attrs.field(factory=list)

    def keep(self, items: list[Any], item: Any) -> None:
        if len(items) < REPORT_LIST_LIMIT:
            items.append(item)

    digest: str = ""

    @property
    def ok(self) -> bool:
        """True when every claimed row was processed."""
        return self.failed == 0 and self.quarantined == 0

    @property
    def moved(self) -> int:
        return self.outcomes[RouteOutcome.MOVED.value]

    def render_digest(self, timezone: tzinfo, *, asked_separately: Sequence[Question] = ()) -> str:
        """The owner's digest of this run; ``asked_separately`` are questions sent on
        their own (as replies to their messages), which the digest then only counts."""
        apart = set(asked_separately)
        return render_digest(
            started_at=self.started_at,
            timezone=timezone,
            messages=self.classified,
            routed=self.routed,
            moved=self.moved,
            failed=self.failed,
            quarantined=self.quarantined,
            questions=[q for q in self.questions if q not in apart],
            asked=self.asked,
            dry_run=self.dry_run,
            asked_separately=len(apart),
        )

    def counts(self) -> JSONDict:
        return {
            "claimed": self.claimed,
            "processed": self.processed,
            "classified": self.classified,
            "routed": dict(self.routed),
            "placed": self.outcomes[RouteOutcome.PLACED.value],
            "updated": self.outcomes[RouteOutcome.UPDATED.value],
            "moved": self.moved,
            "unchanged": self.outcomes[RouteOutcome.UNCHANGED.value],
            "stale": self.outcomes[RouteOutcome.STALE.value],
            "failed": self.failed,
            "quarantined": self.quarantined,
            "requeued": self.requeued,
            "questions": self.asked,
        }


@attrs.frozen
class _Job:
    context: WorkContext
    items: tuple[WorkItem, ...]


@attrs.frozen
class _Done:
    job: _Job
    classification: Classification | None
    error: str | None = None
    retryable: bool = True


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT]


def classifier_input(ctx: WorkContext, timezone: Any) -> ClassifierInput:
    """What the classifier sees: the root's newest text and the whole chain in order."""
    root = ctx.root
    others = [
        ChainMessage(
            message_id=m.message_id,
            text=m.message_text,
            date=m.message_date,
            from_bot=m.sender_is_bot,
            reply_to_message_id=m.reply_to_message_id,
        )
        for m in ctx.members
    ]
    others.extend(
        ChainMessage(
            message_id=b.message_id or 0,
            text=b.response_text,
            date=b.created_at,
            from_bot=True,
            reply_to_message_id=b.related_user_message_id,
        )
        for b in ctx.bot_messages
        if b.message_id is not None and b.error is None
    )
    others.sort(key=lambda m: (m.date, m.message_id))
    head = ChainMessage(
        message_id=root.message_id,
        text=root.message_text,
        date=root.message_date,
        from_bot=root.sender_is_bot,
        reply_to_message_id=root.reply_to_message_id,
    )
    return ClassifierInput(
        chat_id=root.chat_id,
        message_id=root.message_id,
        user_id=root.user_id,
        message_type=root.message_type,
        text=root.message_text,
        message_date=root.message_date,
        chain=(head, *others),
        files=ctx.files,
        reply_to_text=root.reply_to_text,
        timezone=timezone,
    )


class BatchRunner:
    """One analyzer run over one store with one classifier. Use :func:`run_batch`."""

    def __init__(
        self,
        store: Store,
        classifier: Classifier,
        options: BatchOptions,
        *,
        clock: Clock = _utcnow,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.store = store
        self.classifier = classifier
        self.options = options
        self.clock = clock
        self.on_progress = on_progress
        self.timezone = ZoneInfo(options.timezone)
        self.worker = options.worker or default_worker_name()
        self.report = BatchReport(
            classifier=classifier.name,
            classifier_version=classifier.version,
            started_at=clock(),
            dry_run=options.dry_run,
        )

    async def run(self) -> BatchReport:
        opts, report = self.options, self.report
        if not opts.dry_run:
            report.run_id = await self.store.start_batch_run(
                self.classifier.name, self.classifier.version, self.worker
            )
        log.info(
            "batch_started",
            run_id=report.run_id,
            classifier=self.classifier.name,
            version=self.classifier.version,
            concurrency=opts.concurrency,
            dry_run=opts.dry_run,
        )
        try:
            if opts.reclassify and not opts.dry_run:
                report.requeued = await self.store.requeue_for_reclassify(
                    self.classifier.name, self.classifier.version
                )
            await self._pipeline()
            report.status = "ok" if report.ok else "partial"
        except anyio.get_cancelled_exc_class():
            # Stopped from outside (SIGTERM from Kubernetes): claims are released
            # below and the next run picks up where this one stopped.
            report.status = "interrupted"
            raise
        except BaseException:
            report.status = "failed"
            raise
        finally:
            report.finished_at = self.clock()
            report.digest = self._digest()
            if not opts.dry_run:
                with anyio.CancelScope(shield=True):
                    await self._close_run()
            log.info(
                "batch_finished", run_id=report.run_id, status=report.status, **report.counts()
            )
        return report

    async def _close_run(self) -> None:
        report = self.report
        assert report.run_id is not None
        try:
            await self.store.release_claims(self.worker)
            await self.store.finish_batch_run(
                report.run_id, status=report.status, counts=report.counts(), digest=report.digest
            )
        except Exception as exc:  # the run's own error (if any) is the one to raise
            log.error("batch_close_failed", run_id=report.run_id, error=str(exc))
            if report.status not in {"failed", "interrupted"}:
                raise

    def _digest(self) -> str:
        return self.report.render_digest(self.timezone)

    # -- the pipeline ------------------------------------------------------------

    async def _pipeline(self) -> None:
        # Jobs are handed over unbuffered: the next page is claimed only once the
        # workers have taken the previous one, so few claimed rows wait at a time.
        jobs_send, jobs_recv = anyio.create_memory_object_stream[_Job](0)
        done_send, done_recv = anyio.create_memory_object_stream[_Done](self.options.page_size)
        # One failing stage cancels the others; the cause surfaces as itself.
        with single_errors():
            async with anyio.create_task_group() as tg:
                if not self.options.dry_run:
                    tg.start_soon(self._heartbeat)
                tg.start_soon(self._feed, jobs_send)
                async with done_send:
                    for _ in range(self.options.concurrency):
                        tg.start_soon(self._classify_jobs, jobs_recv.clone(), done_send.clone())
                jobs_recv.close()
                tg.start_soon(self._write, done_recv, tg.cancel_scope)

    async def _heartbeat(self) -> None:
        """Keep this run's leases alive while its rows wait or a classifier is slow.

        Without it a claimed row queued behind slow classifications could outlive
        its lease and be claimed again (by this run or another), paying for the
        classification twice.
        """
        interval = max(0.05, self.options.lease.total_seconds() / 3)
        while True:
            await anyio.sleep(interval)
            await self.store.extend_claims(
                self.worker, lease_until=self.clock() + self.options.lease
            )

    async def _next_page(self, after_id: int) -> list[WorkItem]:
        opts = self.options
        want = opts.page_size
        if opts.limit is not None:
            want = min(want, opts.limit - self.report.claimed)
            if want <= 0:
                return []
        now = self.clock()
        if opts.dry_run:
            reclassify = (
                (self.classifier.name, self.classifier.version) if opts.reclassify else None
            )
            return await self.store.peek_work(
                after_id=after_id, limit=want, now=now, reclassify=reclassify
            )
        return await self.store.claim_work(
            self.worker, limit=want, lease_until=now + opts.lease, now=now
        )

    async def _feed(self, jobs: ObjectSendStream[_Job]) -> None:
        async with jobs:
            after_id = 0
            while True:
                items = await self._next_page(after_id)
                if not items:
                    return
                self.report.claimed += len(items)
                after_id = max(i.id for i in items)
                groups: dict[tuple[int, int], list[WorkItem]] = {}
                for item in items:
                    groups.setdefault((item.chat_id, item.target_message_id), []).append(item)
                contexts = await self.store.load_work_contexts(list(groups))
                for key, group in groups.items():
                    ctx = contexts.get(key)
                    if ctx is None:
                        # The claim saw the target; it cannot vanish (raw rows are
                        # never deleted), so this is a store bug worth surfacing.
                        raise RuntimeError(f"work target {key[0]}:{key[1]} has no stored message")
                    await jobs.send(_Job(ctx, tuple(group)))

    async def _classify_jobs(
        self, jobs: MemoryObjectReceiveStream[_Job], done: ObjectSendStream[_Done]
    ) -> None:
        async with jobs, done:
            async for job in jobs:
                await done.send(await self._classify(job))

    async def _classify(self, job: _Job) -> _Done:
        item = classifier_input(job.context, self.timezone)
        try:
            with anyio.fail_after(self.options.classify_timeout):
                verdict = await self.classifier.classify(item)
        except ClassifierError as exc:
            return _Done(job, None, str(exc), exc.retryable)
        except TimeoutError:
            limit = self.options.classify_timeout
            return _Done(job, None, f"classifier took longer than {limit:g}s")
        except Exception as exc:  # a classifier bug: recorded per message, never lost
            log.exception("classifier_crashed", chat_id=item.chat_id, message_id=item.message_id)
            return _Done(job, None, f"{type(exc).__name__}: {exc}")
        return _Done(job, verdict)

    async def _write(
        self,
        done: MemoryObjectReceiveStream[_Done],
        scope: anyio.CancelScope,
    ) -> None:
        async with done:
            async for first in done:
                batch = [first]
                while len(batch) < self.options.flush_size:
                    try:
                        batch.append(done.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await self._flush(batch)
                if self.on_progress is not None:
                    result = self.on_progress(self.report)
                    if result is not None:
                        await result
        # Every result is written: stop the heartbeat (the only task left).
        scope.cancel()

    async def _flush(self, batch: Sequence[_Done]) -> None:
        report = self.report
        ready: list[tuple[_Done, Placement]] = []
        failed = [d for d in batch if d.classification is None]
        for d in batch:
            if d.classification is None:
                continue
            report.classified += 1
            if self.options.dry_run:
                self._propose(d)
                continue
            try:
                ids = [i.id for i in d.job.items]
                ready.append((d, placement_for(d.classification, d.job.context, ids)))
            except Exception as exc:  # an unfilable verdict (a date out of range...)
                failed.append(
                    attrs.evolve(d, classification=None, error=_why(exc), retryable=False)
                )
        if ready:
            await self._apply(ready)
        if failed:
            await self._fail(failed)

    async def _apply(self, ready: Sequence[tuple[_Done, Placement]]) -> None:
        """Apply a group in one transaction; if the store refuses it for a reason
        other than a transient fault, apply one at a time so that one bad
        placement is quarantined instead of failing every run that meets it."""
        run_id = self.report.run_id
        try:
            results = await self.store.apply_placements([p for _, p in ready], run_id=run_id)
        except TransientStorageError:
            raise
        except (StorageError, ValueError, UnicodeError) as exc:
            if len(ready) == 1:
                d, _ = ready[0]
                log.error("batch_placement_refused", error=_why(exc))
                await self._fail(
                    [attrs.evolve(d, classification=None, error=_why(exc), retryable=False)]
                )
                return
            for one in ready:
                await self._apply([one])
            return
        for (d, _), result in zip(ready, results, strict=True):
            self._count(d, result)

    def _propose(self, d: _Done) -> None:
        assert d.classification is not None
        ctx = d.job.context
        proposed = destination_of(d.classification)
        current = ctx.placement.destination if ctx.placement else None
        self.report.routed[proposed] += 1
        self._maybe_ask(d)
        if current == proposed:
            return
        self.report.changes += 1
        self.report.keep(
            self.report.proposals,
            Proposal(
                ctx.root.chat_id,
                ctx.root.message_id,
                current,
                proposed,
                d.classification.confidence,
            ),
        )

    def _count(self, d: _Done, result: PlacementResult) -> None:
        report = self.report
        report.outcomes[result.outcome.value] += 1
        report.processed += len(d.job.items)
        if result.outcome is not RouteOutcome.STALE:
            report.routed[result.destination] += 1
        if result.outcome in (RouteOutcome.PLACED, RouteOutcome.UPDATED, RouteOutcome.MOVED):
            self._maybe_ask(d)
        if result.outcome is RouteOutcome.MOVED:
            log.info(
                "batch_moved",
                chat_id=result.chat_id,
                message_id=result.message_id,
                source=result.previous_destination,
                destination=result.destination,
            )

    def _maybe_ask(self, d: _Done) -> None:
        c = d.classification
        if c is None or not c.unsure:
            return
        root = d.job.context.root
        self.report.asked += 1
        self.report.keep(
            self.report.questions,
            Question(
                chat_id=root.chat_id,
                message_id=root.message_id,
                title=c.title or root.message_text,
                question=c.question or "Куда это отнести?",
                confidence=c.confidence,
                source=root.source,
            ),
        )

    async def _fail(self, failed: Sequence[_Done]) -> None:
        now = self.clock()
        opts, report = self.options, self.report
        records: list[WorkFailure] = []
        for d in failed:
            error = (d.error or "unknown error")[:_ERROR_LIMIT]
            for item in d.job.items:
                attempts = item.attempts + 1
                quarantine = not d.retryable or attempts >= opts.max_attempts
                records.append(
                    WorkFailure(item.id, error, now + opts.retry_delay(attempts), quarantine)
                )
                if quarantine:
                    report.quarantined += 1
                else:
                    report.failed += 1
                report.keep(
                    report.failures,
                    FailureNote(item.chat_id, item.message_id, error, attempts, quarantine),
                )
            log.warning(
                "batch_classify_failed",
                chat_id=d.job.context.root.chat_id,
                message_id=d.job.context.root.message_id,
                error=error,
            )
        if not opts.dry_run:
            await self.store.record_work_failures(records)


async def run_batch(
    store: Store,
    classifier: Classifier,
    options: BatchOptions | None = None,
    *,
    clock: Clock = _utcnow,
    on_progress: ProgressCallback | None = None,
) -> BatchReport:
    """Run the analyzer once over everything claimable and return its report.

    Raises only for storage failures (the run is then recorded as ``failed``
    and its claims released); classifier failures are counted per message,
    retried by later runs and quarantined after ``max_attempts``.
    """
    runner = BatchRunner(
        store, classifier, options or BatchOptions(), clock=clock, on_progress=on_progress
    )
    return await runner.run()
