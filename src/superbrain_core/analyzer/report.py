"""What one analyzer run is told (:class:`BatchOptions`) and what it tells back
(:class:`BatchReport` with its failures, questions and dry-run proposals).

Apart from the loop (:mod:`.batch`) and the writer's bookkeeping (:mod:`.filing`)
because both use them, and the CLI, the nightly run and the digest read them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

import attrs

from superbrain_core.analyzer.classify.schema import (
    DEFAULT_TIMEZONE,
)
from superbrain_core.analyzer.digest import Question, render_digest
from superbrain_core.models import (
    JSONDict,
    RouteOutcome,
)

Clock = Callable[[], datetime]
ProgressCallback = Callable[["BatchReport"], Awaitable[None] | None]

#: Most items a report keeps in each of its lists; the counts stay exact. A run
#: over a 200k backlog must not hold one object per message (memory stays flat).
REPORT_LIST_LIMIT = 1000


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


@attrs.frozen
class BatchOptions:
    """How one analyzer run behaves; the CLI flags map onto these."""

    concurrency: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    limit: int | None = None
    """Claim at most this many raw rows (``None``: the whole backlog)."""
    page_size: int = attrs.field(default=1000, validator=attrs.validators.ge(1))
    """Raw rows claimed (and their contexts read) at a time. Every page costs a
    claim, a context read and their round trips whatever its size; at 200 those
    were a tenth of a fast run. A slow classifier does not hold a large page
    against anyone: the heartbeat keeps its leases, and a dead run's expire."""
    dry_run: bool = False
    """Classify and report what would change; write nothing, claim nothing."""
    reclassify: bool = False
    """Also re-file messages placed by another classifier version."""
    lease: timedelta = timedelta(seconds=60)
    """How long a claim outlives its last heartbeat (renewed every third of it):
    short, so a run that died (``kill -9``) holds its messages for a minute at most."""
    exclusive: bool = False
    """The caller holds the run lock (``superbrain batch``, ``nightly``): every
    other run still marked ``running`` is dead, so it is closed as ``crashed``
    and its claims are taken back at once instead of after their lease."""
    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    retry_base: timedelta = timedelta(minutes=30)
    retry_cap: timedelta = timedelta(hours=24)
    classify_timeout: float = 120.0
    """Seconds one classification may take before it counts as a failed attempt."""
    timezone: str = DEFAULT_TIMEZONE
    worker: str | None = None
    flush_size: int = 500
    """Most placements applied in one transaction."""
    flush_wait: float = attrs.field(default=0.05, validator=attrs.validators.ge(0))
    """Seconds the writer waits for more finished messages before applying a group
    smaller than ``flush_size``: a slow classifier finishes a few at a time, and a
    transaction per few messages is what the store would spend its time on."""

    def retry_delay(self, attempts: int) -> timedelta:
        """Back-off before attempt ``attempts + 1``: base × 2^(attempts-1), capped."""
        # Exponent capped so a long-failing row cannot overflow timedelta.
        factor = 2 ** min(max(0, attempts - 1), 32)
        delay: timedelta = self.retry_base * factor
        return min(self.retry_cap, delay)


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
    rescued: int = 0
    """Claims taken back from runs that died."""
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

    list_limit: int = REPORT_LIST_LIMIT
    """Most items kept in each list above; the counts stay exact."""

    def keep(self, items: list[Any], item: Any) -> None:
        if len(items) < self.list_limit:
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
            "rescued": self.rescued,
            "questions": self.asked,
        }
