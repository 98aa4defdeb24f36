"""What the last analyzer runs filed, item by item, for the morning review.

The review starts from the runs (``batch_runs``) and the ``routing_log`` entries
they wrote, and shows each message as it stands *now*: a message the owner has
since moved shows up in its new table, marked as the owner's. Each item carries
what ``superbrain explain`` shows (versions, chain, every placement) and the row
it lives in, so the page can say what was filed, where, and why.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from superbrain_core.analyzer.classify.schema import CONFIDENCE_THRESHOLD
from superbrain_core.analyzer.explain import Explanation, explain_message
from superbrain_core.analyzer.routing import OWNER_CLASSIFIER
from superbrain_core.models import BatchRun, JSONDict, RoutingEntry
from superbrain_core.records import NONE, TABLES
from superbrain_core.storage.base import Store

_PAGE = 1000


@attrs.frozen
class ReviewItem:
    """One filed message: where it is now and why."""

    chat_id: int
    message_id: int
    explanation: Explanation
    entry: RoutingEntry
    """The current placement (the owner's after a correction)."""

    @property
    def table(self) -> str:
        return self.entry.destination

    @property
    def record(self) -> JSONDict | None:
        return self.explanation.record

    @property
    def text(self) -> str | None:
        """The newest text of the message that was filed (the chain's root)."""
        return self.explanation.versions[-1].message_text

    @property
    def sensitive(self) -> bool:
        """The classifier found a secret in it: the page shows only the masked row."""
        return bool(self.entry.classification.get("sensitive"))

    @property
    def by_owner(self) -> bool:
        return self.entry.classifier == OWNER_CLASSIFIER

    @property
    def question(self) -> str | None:
        """What the classifier asks the owner, while the owner has not answered."""
        c = self.entry.classification
        if self.by_owner:
            return None
        if c.get("needs_clarification") or self.entry.confidence < CONFIDENCE_THRESHOLD:
            return str(c.get("question") or "Куда это отнести?")
        return None


@attrs.frozen
class NightReview:
    runs: tuple[BatchRun, ...]
    items: tuple[ReviewItem, ...]

    def by_table(self) -> list[tuple[str, list[ReviewItem]]]:
        """Items grouped by their table, in the tables' fixed order, ``none`` last."""
        groups: dict[str, list[ReviewItem]] = {t: [] for t in (*TABLES, NONE)}
        for item in self.items:
            groups.setdefault(item.table, []).append(item)
        return [(table, items) for table, items in groups.items() if items]

    @property
    def questions(self) -> list[ReviewItem]:
        return [i for i in self.items if i.question is not None]


async def last_runs(store: Store, count: int) -> list[BatchRun]:
    """The newest ``count`` analyzer runs, newest first."""
    newest = await store.last_batch_run()
    if newest is None or count <= 0:
        return []
    runs = await store.list_batch_runs(after_id=max(0, newest.id - count), limit=count)
    return sorted(runs, key=lambda r: r.id, reverse=True)


async def _entries_of(store: Store, run_id: int) -> list[RoutingEntry]:
    entries: list[RoutingEntry] = []
    after = 0
    while True:
        page = await store.list_routing(run_id=run_id, after_id=after, limit=_PAGE)
        entries.extend(page)
        if len(page) < _PAGE:
            return entries
        after = page[-1].id


async def review_runs(store: Store, runs: Sequence[BatchRun]) -> NightReview:
    """Every message the ``runs`` placed, as it stands now, newest run first."""
    keys: dict[tuple[int, int], None] = {}
    for run in runs:
        for entry in await _entries_of(store, run.id):
            keys[(entry.chat_id, entry.message_id)] = None
    items: list[ReviewItem] = []
    for chat_id, message_id in keys:
        found = await explain_message(store, chat_id, message_id)
        if found is None or found.current is None or found.filed_under != message_id:
            continue  # folded into its chain's root since; the root is listed instead
        items.append(ReviewItem(chat_id, message_id, found, found.current))
    return NightReview(tuple(runs), tuple(items))


async def review_last(store: Store, count: int = 2) -> NightReview:
    """:func:`review_runs` of the newest ``count`` runs."""
    return await review_runs(store, await last_runs(store, count))
