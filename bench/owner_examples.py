"""How well the nearest owner example predicts a message's table, by similarity threshold.

    python bench/owner_examples.py [--corpus tests/corpus] [--split tune]

Leave-one-out on the corpus's lone messages: every other labelled message is an
owner example; the nearest one (Jaccard of content words) "files" the message.
For each threshold it prints the share of messages that have an example at
least that close (coverage) and the share of those filed in the right table
(precision), for pymorphy3 lemmas and for Snowball stems, and the time per
lookup. The rules classifier follows an example only at or above
``examples.OWNER_MATCH``; a wrong follow costs more than a missed one (the
generic rules still decide then), so the threshold is where precision is high.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs

from superbrain_core.analyzer.classify.examples import (
    ExampleIndex,
    content_lemmas,
    examples_of,
)
from superbrain_core.analyzer.classify.rules import RulesClassifier
from superbrain_core.analyzer.evaluation import CorpusItem, load_corpus, table_of
from superbrain_core.search import terms

ROOT = Path(__file__).resolve().parents[1]
MSK = ZoneInfo("Europe/Moscow")
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def stems(text: str) -> frozenset[str]:
    return frozenset(t for t in terms(text) if len(t) > 2 and not any(c.isdigit() for c in t))


def main(args: argparse.Namespace) -> None:
    items = [
        i
        for i in load_corpus(args.corpus)
        if not i.is_chain and (args.split == "all" or i.split == args.split)
    ]
    pairs = [(i.messages[0].text, str(i.expect["type"])) for i in items]
    print(f"{len(pairs)} lone messages ({args.split})")
    for name, words in (("lemmas", content_lemmas), ("stems", stems)):
        found: list[tuple[float, bool]] = []
        started = time.perf_counter()
        for n, (text, kind) in enumerate(pairs):
            others = pairs[:n] + pairs[n + 1 :]
            index = ExampleIndex(examples_of(others), words=words)
            best = index.nearest(text, 1)
            if best:
                found.append((best[0].similarity, best[0].type.value == kind))
        spent = time.perf_counter() - started
        print(f"\n{name}: {spent / len(pairs) * 1000:.1f} ms a message (index built each time)")
        print("threshold  coverage  precision")
        for t in THRESHOLDS:
            hits = [right for s, right in found if s >= t]
            coverage = len(hits) / len(pairs) * 100
            precision = sum(hits) / len(hits) * 100 if hits else 0.0
            print(f"  {t:.1f}      {coverage:5.1f}%    {precision:5.1f}%  ({len(hits)})")
    follow(items, pairs)


def follow(items: list[CorpusItem], pairs: list[tuple[str, str]]) -> None:
    """The rules classifier's right-table share with the other messages as owner examples."""
    inputs = []
    for n, item in enumerate(items):
        index = ExampleIndex(examples_of(pairs[:n] + pairs[n + 1 :]))
        inputs.append(attrs.evolve(item.to_input(MSK), examples=index.nearest(pairs[n][0])))
    print("\nrules classifier, right table, following the nearest example at or above:")
    for t in (*THRESHOLDS, 1.01):
        rules = RulesClassifier(owner_match=t)
        right = sum(
            table_of(rules.classify_sync(i).type.value) == table_of(kind)
            for i, (_, kind) in zip(inputs, pairs, strict=True)
        )
        label = "never" if t > 1 else f"{t:.1f}"
        print(f"  {label:>5}   {right / len(pairs) * 100:5.1f}%")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "corpus")
    parser.add_argument("--split", default="tune", choices=["tune", "holdout", "all"])
    main(parser.parse_args())
