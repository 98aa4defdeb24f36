"""Whether a message is something the owner means to do: it opens with an infinitive.

Russian to-dos are written as bare infinitives ("разобрать балкон", "взять у
Семёна дрель", "с Егором Семёновичем обсудить смету", "в 5 вечера зайти в
МФЦ") far more often than with a verb from any list, so the part of speech
decides, by pymorphy3 (already loaded for names): an infinitive among the
first words, not negated ("не забыть торт" is no new to-do of its own).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from superbrain_core.analyzer.classify.extract.people import morph

__all__ = ["opens_with_infinitive"]

_RUSSIAN_WORD: Final = re.compile(r"[а-яё]+", re.IGNORECASE)
#: How many words may come before the verb ("с Егором Семёновичем обсудить").
_LEAD: Final = 4


def opens_with_infinitive(text: str) -> bool:
    """True when one of the first words of ``text`` is an infinitive, not after "не"."""
    words = [w.lower() for w in _RUSSIAN_WORD.findall(text)[:_LEAD]]
    for index, word in enumerate(words):
        if len(word) < 4 or (index and words[index - 1] == "не"):
            continue
        if _infinitive(word):
            return True
    return False


@lru_cache(maxsize=50_000)
def _infinitive(word: str) -> bool:
    best = morph().parse(word)[0]
    return bool(best.tag.POS == "INFN" and best.score >= 0.5)
