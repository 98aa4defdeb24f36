"""A deterministic keyword classifier: for tests, benchmarks and notebook experiments.

It costs next to nothing per message, so a benchmark that uses it measures the
analyzer's own overhead; and because its answer is a pure function of the chain
text, tests can predict every placement. The last keyword found in the chain
wins, so a clarification ("это встреча") overrides the root's guess, the way a
real classifier is expected to behave.
"""

from __future__ import annotations

from collections.abc import Mapping

from superbrain_core.analyzer.classify.schema import Classification, ClassifierInput, ItemType


class KeywordClassifier:
    """Classifies by the last keyword (case-insensitive) found in the chain's text."""

    name = "keywords"

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
