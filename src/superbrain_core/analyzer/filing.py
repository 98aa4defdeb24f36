"""The analyzer's writer side: turn finished classifications into placements and failures.

The batch loop (:mod:`.batch`) only moves work between its stages; what a
verdict means for the store (a placement applied in a group, a refusal
quarantined alone, a failure backed off) and for the run's report (counts,
questions, dry-run proposals) is decided here.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from superbrain_core.analyzer.classify.schema import Classification
from superbrain_core.analyzer.digest import Question
from superbrain_core.analyzer.report import BatchOptions, BatchReport, Clock, FailureNote, Proposal
from superbrain_core.analyzer.routing import destination_of, owner_verdict, placement_for
from superbrain_core.errors import StorageError, TransientStorageError
from superbrain_core.logs import get_logger
from superbrain_core.models import (
    Placement,
    PlacementResult,
    RouteOutcome,
    WorkContext,
    WorkFailure,
    WorkItem,
)
from superbrain_core.storage.base import Store

log = get_logger(__name__)

_ERROR_LIMIT = 500


@attrs.frozen
class Job:
    """One message to classify: its context and the raw rows it files."""

    context: WorkContext
    items: tuple[WorkItem, ...]


@attrs.frozen
class Done:
    """A classified job: the verdict, or why there is none."""

    job: Job
    classification: Classification | None
    error: str | None = None
    retryable: bool = True


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT]


class Filer:
    """Files one run's finished jobs into ``store`` and counts them in ``report``."""

    def __init__(
        self, store: Store, options: BatchOptions, report: BatchReport, clock: Clock
    ) -> None:
        self.store = store
        self.options = options
        self.report = report
        self.clock = clock

    async def flush(self, batch: Sequence[Done]) -> None:
        report = self.report
        ready: list[tuple[Done, Placement]] = []
        # The owner's correction stands: their verdict replaces the classifier's.
        batch = [self._owners(d) for d in batch]
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

    @staticmethod
    def _owners(d: Done) -> Done:
        owner = owner_verdict(d.job.context)
        return d if owner is None else attrs.evolve(d, classification=owner, error=None)

    async def _apply(self, ready: Sequence[tuple[Done, Placement]]) -> None:
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

    def _propose(self, d: Done) -> None:
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

    def _count(self, d: Done, result: PlacementResult) -> None:
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

    def _maybe_ask(self, d: Done) -> None:
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

    async def _fail(self, failed: Sequence[Done]) -> None:
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
