"""The nightly analyzer: claim raw messages, classify them with their chains, file them.

The loop is a three-stage pipeline joined by bounded streams, so memory stays
flat however large the backlog and the classifier is never idle between pages:

* the *feeder* claims a page of raw rows (with a lease), groups them by the
  message that gets filed (a clarification is folded into its chain's root),
  loads their contexts and hands them on; it claims the next page only when the
  stream has room, so leases do not run out while rows wait;
* *workers* (``concurrency`` of them) classify one target each, shown the
  owner's most similar settled filings (:mod:`.classify.examples`, loaded once
  per run from :meth:`Store.owner_examples`); a classifier that answers several
  messages per call (:class:`~.classify.schema.BatchClassifier`) is handed up
  to its ``batch_size`` targets at once, so a fast one pays the hand-over
  between stages once per batch rather than per message;
* the *writer* applies finished placements in small groups, each group one
  transaction that also marks its raw rows processed, and records failures
  with exponential back-off and quarantine (:mod:`.filing` holds that side).

A run that dies mid-way (``kill -9``) leaves its claims behind with a short
lease (a minute) that only its heartbeat renews; the next run closes the dead
run's ``batch_runs`` row as ``crashed`` and takes the claims back, at once when
it holds the run lock, otherwise once the dead run's heartbeat is a lease old.
Because placements are idempotent every message ends up filed once.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import attrs
from anyio.abc import ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream

from superbrain_core.analyzer.classify.examples import ExampleIndex
from superbrain_core.analyzer.classify.schema import (
    BatchClassifier,
    ChainMessage,
    Classification,
    Classifier,
    ClassifierError,
    ClassifierInput,
)
from superbrain_core.analyzer.filing import Done, Filer, Job
from superbrain_core.analyzer.report import REPORT_LIST_LIMIT
from superbrain_core.analyzer.report import BatchOptions as BatchOptions
from superbrain_core.analyzer.report import BatchReport as BatchReport
from superbrain_core.analyzer.report import Clock as Clock
from superbrain_core.analyzer.report import FailureNote as FailureNote
from superbrain_core.analyzer.report import ProgressCallback as ProgressCallback
from superbrain_core.analyzer.report import Proposal as Proposal
from superbrain_core.logs import get_logger
from superbrain_core.models import (
    WorkContext,
    WorkItem,
)
from superbrain_core.storage.base import Store
from superbrain_core.taskgroups import single_errors

log = get_logger(__name__)

#: The newest owner examples a run compares messages with (the owner's habits
#: change; a few hundred recent corrections say what they are now).
EXAMPLES_LIMIT = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_worker_name() -> str:
    """Unique per run: host, pid and a random suffix (leases are per worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def batch_size_of(classifier: Classifier) -> int:
    """How many messages the batch hands ``classifier`` per call (1: one at a time).

    A :class:`BatchClassifier`'s ``batch_size``, unless a subclass overrides
    ``classify`` below the class that defines ``classify_many``: it has changed
    what a message gets, and the inherited batch answer would not follow it.
    """
    if not isinstance(classifier, BatchClassifier):
        return 1
    for klass in type(classifier).__mro__:
        if "classify_many" in vars(klass):
            break
        if "classify" in vars(klass):
            return 1
    return max(1, int(classifier.batch_size))


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
            list_limit=REPORT_LIST_LIMIT,
        )
        self.filer = Filer(store, options, self.report, clock)
        self.examples = ExampleIndex(())
        #: Targets per classifier call: 1 unless the classifier takes batches.
        self.batch_size = batch_size_of(classifier)

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
            if not opts.dry_run:
                await self._rescue()
            if opts.reclassify and not opts.dry_run:
                report.requeued = await self.store.requeue_for_reclassify(
                    self.classifier.name, self.classifier.version
                )
            # The owner's examples, once per run: every message is compared with them.
            self.examples = ExampleIndex(await self.store.owner_examples(limit=EXAMPLES_LIMIT))
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

    async def _rescue(self) -> None:
        """Close runs that died and take their messages back (see ``BatchOptions.exclusive``)."""
        rescued = await self.store.rescue_crashed_runs(
            self.worker,
            stale_after=self.options.lease,
            exclusive=self.options.exclusive,
            now=self.clock(),
        )
        self.report.rescued = rescued.released
        if rescued.run_ids:
            log.warning(
                "batch_rescued_crashed_runs",
                runs=list(rescued.run_ids),
                released=rescued.released,
            )

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
        # Each item is one classifier call's worth: a single job, or a batch of
        # them for a classifier that takes batches.
        jobs_send, jobs_recv = anyio.create_memory_object_stream[list[Job]](0)
        done_send, done_recv = anyio.create_memory_object_stream[list[Done]](self.options.page_size)
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
            now = self.clock()
            await self.store.extend_claims(
                self.worker, lease_until=now + self.options.lease, now=now
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

    async def _feed(self, jobs: ObjectSendStream[list[Job]]) -> None:
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
                chunk: list[Job] = []
                for key, group in groups.items():
                    ctx = contexts.get(key)
                    if ctx is None:
                        # The claim saw the target; it cannot vanish (raw rows are
                        # never deleted), so this is a store bug worth surfacing.
                        raise RuntimeError(f"work target {key[0]}:{key[1]} has no stored message")
                    chunk.append(Job(ctx, tuple(group)))
                    if len(chunk) >= self.batch_size:
                        await jobs.send(chunk)
                        chunk = []
                if chunk:
                    await jobs.send(chunk)

    async def _classify_jobs(
        self, jobs: MemoryObjectReceiveStream[list[Job]], done: ObjectSendStream[list[Done]]
    ) -> None:
        async with jobs, done:
            async for chunk in jobs:
                if self.batch_size > 1:
                    await done.send(await self._classify_many(chunk))
                else:
                    await done.send([await self._classify(job) for job in chunk])

    def _input(self, job: Job) -> ClassifierInput:
        item = classifier_input(job.context, self.timezone)
        if len(self.examples):
            item = attrs.evolve(item, examples=self.examples.nearest(item.text))
        return item

    async def _classify(self, job: Job) -> Done:
        item = self._input(job)
        try:
            with anyio.fail_after(self.options.classify_timeout):
                verdict = await self.classifier.classify(item)
        except ClassifierError as exc:
            return Done(job, None, str(exc), exc.retryable)
        except TimeoutError:
            limit = self.options.classify_timeout
            return Done(job, None, f"classifier took longer than {limit:g}s")
        except Exception as exc:  # a classifier bug: recorded per message, never lost
            log.exception("classifier_crashed", chat_id=item.chat_id, message_id=item.message_id)
            return Done(job, None, f"{type(exc).__name__}: {exc}")
        return Done(job, verdict)

    async def _classify_many(self, chunk: list[Job]) -> list[Done]:
        """One ``classify_many`` call for ``chunk``; ``classify_timeout`` bounds the call.

        A call that fails as a whole fails each of its messages with the same
        error (retried by a later run, or quarantined, exactly as alone).
        """
        assert isinstance(self.classifier, BatchClassifier)
        items = [self._input(job) for job in chunk]
        try:
            with anyio.fail_after(self.options.classify_timeout):
                answers = await self.classifier.classify_many(items)
        except ClassifierError as exc:
            return [Done(job, None, str(exc), exc.retryable) for job in chunk]
        except TimeoutError:
            limit = self.options.classify_timeout
            return [Done(job, None, f"classifier took longer than {limit:g}s") for job in chunk]
        except Exception as exc:  # a classifier bug: recorded per message, never lost
            log.exception("classifier_crashed", messages=len(chunk))
            return [Done(job, None, f"{type(exc).__name__}: {exc}") for job in chunk]
        if len(answers) != len(chunk):
            error = f"classifier answered {len(answers)} of {len(chunk)} messages"
            return [Done(job, None, error) for job in chunk]
        return [_done(job, answer) for job, answer in zip(chunk, answers, strict=True)]

    async def _group(
        self, first: list[Done], done: MemoryObjectReceiveStream[list[Done]]
    ) -> list[Done]:
        """``first`` and whatever else finishes within ``flush_wait``, up to ``flush_size``.

        Whatever finished while the previous group was being written joins this
        one, and a group that is still small waits a moment for more: the store's
        transaction is shared by all of them. Polled with ``receive_nowait``, never
        a cancelled ``receive`` (a result handed over as the wait ends would be lost).
        """
        batch = list(first)
        deadline = anyio.current_time() + self.options.flush_wait
        while len(batch) < self.options.flush_size:
            try:
                batch.extend(done.receive_nowait())
            except anyio.EndOfStream:
                break
            except anyio.WouldBlock:
                left = deadline - anyio.current_time()
                if left <= 0:
                    break
                await anyio.sleep(min(left, 0.005))
        return batch

    async def _write(
        self,
        done: MemoryObjectReceiveStream[list[Done]],
        scope: anyio.CancelScope,
    ) -> None:
        async with done:
            async for first in done:
                await self.filer.flush(await self._group(first, done))
                if self.on_progress is not None:
                    result = self.on_progress(self.report)
                    if result is not None:
                        await result
        # Every result is written: stop the heartbeat (the only task left).
        scope.cancel()


def _done(job: Job, answer: Classification | ClassifierError) -> Done:
    if isinstance(answer, Classification):
        return Done(job, answer)
    if isinstance(answer, ClassifierError):
        return Done(job, None, str(answer), answer.retryable)
    return Done(job, None, f"classifier answered {type(answer).__name__}, not a classification")


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
