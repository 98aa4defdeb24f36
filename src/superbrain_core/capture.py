"""The one capture path: Bot API JSON in, raw records stored.

``superbrain ingest``, the aiogram middleware and the demo all call
:class:`Capturer`, so an update stored from a file and the same update stored
live are indistinguishable (and deduplicated against each other).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from superbrain_core.models import CaptureOutcome, CaptureResult, NormalizedUpdate
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.telegram import normalize_update


@attrs.define
class CaptureTally:
    """Running counts of what capture did, for reports and the CLI."""

    new: int = 0
    duplicate: int = 0
    edits: int = 0
    conflicts: int = 0
    problems: list[str] = attrs.field(factory=list)
    by_update_type: Counter[str] = attrs.field(factory=Counter)

    @property
    def total(self) -> int:
        return self.new + self.duplicate + self.edits + self.conflicts

    def add(self, result: CaptureResult, update: NormalizedUpdate | None = None) -> None:
        if result.outcome is CaptureOutcome.NEW:
            self.new += 1
        elif result.outcome is CaptureOutcome.EDIT:
            self.edits += 1
        elif result.outcome is CaptureOutcome.CONFLICT:
            self.conflicts += 1
            self.problems.append(
                f"update {result.update_id}: a different update was already stored under this"
                " update_id; both are kept (see update_conflicts)"
            )
        else:
            self.duplicate += 1
        self.by_update_type[result.update_type] += 1
        if update is not None and update.problem:
            kept = "kept raw only: " if update.message is None else ""
            self.problems.append(f"{kept}update {update.update_id}: {update.problem}")

    def merge(self, other: CaptureTally) -> None:
        """Add another tally's counts to this one (several files into one report)."""
        self.new += other.new
        self.duplicate += other.duplicate
        self.edits += other.edits
        self.conflicts += other.conflicts
        self.problems.extend(other.problems)
        self.by_update_type.update(other.by_update_type)

    def add_all(
        self, results: Iterable[CaptureResult], updates: Sequence[NormalizedUpdate]
    ) -> None:
        for result, update in zip(results, updates, strict=True):
            self.add(result, update)


class Capturer:
    """Normalizes and stores updates with fixed :class:`CaptureOptions`."""

    def __init__(self, store: Store, options: CaptureOptions | None = None) -> None:
        self.store = store
        self.options = options or CaptureOptions()

    async def capture(self, payload: dict[str, Any]) -> CaptureResult:
        """Store one Bot API update (a JSON dict). Raises ``NotAnUpdateError`` on non-updates."""
        return await self.store.capture(normalize_update(payload), self.options)

    async def capture_normalized(self, updates: Sequence[NormalizedUpdate]) -> list[CaptureResult]:
        """Store already-normalized updates in one atomic batch."""
        return await self.store.capture_many(updates, self.options)
