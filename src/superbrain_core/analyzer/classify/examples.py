"""The owner's examples: find the settled filings most like a new message.

Every clarification that moved an item and every correction the owner made by
hand is a message labelled by the owner (:meth:`Store.owner_examples`). The
batch loads them once per run into an :class:`ExampleIndex`; for each message
it attaches the few most similar ones to the classifier's input
(:attr:`ClassifierInput.examples`). The rules classifier files a message the
way its nearest example was filed when the two are close enough
(:data:`OWNER_MATCH`); the LLM classifiers get them as few-shot examples.

Similarity is the Jaccard index of the two messages' *content words*: lemmas
by pymorphy3 (so "разобрать балкон" and "разобрал балконы" are one set), with
numbers, one- and two-letter words and a short list of function words dropped
("в", "на", "про", "the": they make unrelated messages look alike). How the
threshold was chosen, measured on the corpus (``bench/owner_examples.py``):
``docs/analyzer.md``.

pymorphy3 is loaded only when an index with at least one example is asked to
compare: a store without examples (and so ``batch --classifier webhook`` on a
new install) never loads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Final

from superbrain_core.analyzer.classify.schema import ItemType, Precedent
from superbrain_core.models import OwnerExample

__all__ = ["OWNER_MATCH", "ExampleIndex", "content_lemmas"]

#: The similarity at which the rules classifier follows the owner's example.
OWNER_MATCH: Final = 0.5
#: How many examples a classifier is shown for one message.
FEW: Final = 3

_WORD: Final = re.compile(r"[^\W\d_]+", re.UNICODE)
_FUNCTION_TEXT: Final = """
и а но или да же ли бы не ни что это как так вот ну там тут уже еще ещё
для про под над при без от до из за по со во ко об обо через после перед
мне меня мой моя мое моё мои твой его ее её их наш ваш себя себе сам
надо нужно можно потом сегодня завтра
the and but for with from into about this that these those then than
you your our its his her their was were are has have had not just
"""
_FUNCTION_WORDS: Final = frozenset(_FUNCTION_TEXT.split())


@lru_cache(maxsize=50_000)
def _lemma(word: str) -> str:
    from superbrain_core.analyzer.classify.extract.people import morph

    if not re.search("[а-яё]", word):
        return word
    parses = morph().parse(word)
    return str(parses[0].normal_form).replace("ё", "е") if parses else word


def content_lemmas(text: str) -> frozenset[str]:
    """The lemmas of ``text``'s content words (see the module doc)."""
    words = (w.lower() for w in _WORD.findall(text))
    lemmas = (_lemma(w) for w in words if len(w) > 2 and w not in _FUNCTION_WORDS)
    return frozenset(w for w in lemmas if w not in _FUNCTION_WORDS)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


class ExampleIndex:
    """The owner's examples of one run, compared by content words.

    ``words`` turns a text into the set compared (lemmas by default; the bench
    passes Snowball stems to measure the alternative).
    """

    def __init__(
        self,
        examples: Sequence[OwnerExample],
        *,
        words: Callable[[str], frozenset[str]] = content_lemmas,
    ) -> None:
        self._examples = [e for e in examples if e.destination and e.text.strip()]
        self._words = words
        self._sets: list[frozenset[str]] | None = None  # computed on first use

    def __len__(self) -> int:
        return len(self._examples)

    def nearest(self, text: str | None, k: int = FEW) -> tuple[Precedent, ...]:
        """Up to ``k`` examples sharing a content word with ``text``, most similar first."""
        if not self._examples or not text or not text.strip():
            return ()
        if self._sets is None:
            self._sets = [self._words(e.text) for e in self._examples]
        wanted = self._words(text)
        scored = [
            (jaccard(wanted, words), -index)
            for index, words in enumerate(self._sets)
            if wanted & words
        ]
        scored.sort(reverse=True)
        return tuple(_precedent(self._examples[-i], s) for s, i in scored[:k])


def _precedent(example: OwnerExample, similarity: float) -> Precedent:
    kind = example.classification.get("type")
    try:
        item_type = ItemType(str(kind))
    except ValueError:
        item_type = ItemType.NONE
    return Precedent(
        text=example.text,
        type=item_type,
        fields={k: v for k, v in example.classification.items() if k in _FIELDS and v},
        similarity=round(similarity, 3),
        source=f"{example.chat_id}:{example.message_id}",
    )


#: The settled fields a precedent carries (the type's own, never the bookkeeping).
_FIELDS: Final = frozenset(
    {"title", "event_kind", "people", "tags", "amount", "currency", "url", "phone", "email"}
)


def examples_of(pairs: Iterable[tuple[str, str]]) -> list[OwnerExample]:
    """Examples from ``(text, type)`` pairs, for measuring and tests (no store needed)."""
    from datetime import UTC, datetime

    from superbrain_core.analyzer.routing import DESTINATIONS

    out = []
    for n, (text, kind) in enumerate(pairs, start=1):
        destination = DESTINATIONS.get(ItemType(kind), "none")
        out.append(
            OwnerExample(
                chat_id=0,
                message_id=n,
                text=text,
                destination=destination,
                classification={"type": kind},
                classifier="owner",
                routing_id=n,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    return out
