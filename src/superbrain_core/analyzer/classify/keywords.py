"""A deterministic keyword classifier: for tests, benchmarks and notebook experiments.

It costs next to nothing per message, so a benchmark that uses it measures the
analyzer's own overhead; and because its answer is a pure function of the chain
text, tests can predict every placement. The last keyword found in the chain
wins, so a clarification ("это встреча") overrides the root's guess, the way a
real classifier is expected to behave.

It answers whole batches too (:class:`~.schema.BatchClassifier`): a classifier
that costs nothing per message should not pay the pipeline's per-call overhead
per message either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from superbrain_core.analyzer.classify.schema import (
    Classification,
    ClassifierError,
    ClassifierInput,
    ItemType,
)


class KeywordClassifier:
    """Classifies by the last keyword (case-insensitive) found in the chain's text."""

    name = "keywords"
    #: Messages per ``classify_many`` call.
    batch_size = 64

    def __init__(
        self,
        keywords: Mapping[str, ItemType | str],
        *,
        default: ItemType | str = ItemType.NOTE,
        confidence: float = 0.95,
        version: str = "1",
    ) -> None:
        self.keywords = {k.casefold(): ItemType(v) for k, v in keywords.items()}
        self.default = ItemType(default)
        self.confidence = confidence
        self.version = version

    async def classify(self, item: ClassifierInput) -> Classification:
        return self.verdict(item)

    async def classify_many(
        self, items: Sequence[ClassifierInput]
    ) -> list[Classification | ClassifierError]:
        return [self.verdict(item) for item in items]

    def verdict(self, item: ClassifierInput) -> Classification:
        """The classification of ``item`` (a pure function of its chain's text)."""
        text = item.combined_text().casefold()
        found: tuple[int, ItemType] | None = None
        for keyword, kind in self.keywords.items():
            at = text.rfind(keyword)
            if at >= 0 and (found is None or at > found[0]):
                found = (at, kind)
        kind = found[1] if found else self.default
        if not text.strip() and not item.files:
            kind = ItemType.NONE
        return Classification(
            type=kind,
            confidence=self.confidence if found else min(self.confidence, 0.5),
            classifier=self.name,
            classifier_version=self.version,
            title=(item.text or "")[:80] or None,
            summary=item.combined_text() or None,
            question=None if found else "Что это?",
            needs_clarification=found is None,
        )

    async def aclose(self) -> None:
        return None
