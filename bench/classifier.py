"""Rules classifier speed on the labelled corpus, on one core, beside a lean baseline.

    python bench/classifier.py [--rounds 5] [--corpus tests/corpus]

The first figure is the cold start (the models pymorphy3 loads on first use);
then each round classifies every corpus item once with ``classify_sync`` in this
one thread. The baseline is the same loop doing only what every classifier must
(build the input and a trivial Classification), so the share says how much of
the time is the rules' own reading. Target: at least 300 messages/s after the
models are loaded. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from superbrain_core.analyzer.classify.schema import Classification, ItemType
from superbrain_core.analyzer.evaluation import load_corpus

ROOT = Path(__file__).resolve().parents[1]
MSK = ZoneInfo("Europe/Moscow")


def main(args: argparse.Namespace) -> None:
    items = load_corpus(args.corpus)
    inputs = [i.to_input(MSK) for i in items]

    started = time.perf_counter()
    from superbrain_core.analyzer.classify.rules import RulesClassifier

    rules = RulesClassifier()
    rules.classify_sync(inputs[0])
    cold = time.perf_counter() - started
    print(f"cold start (import + first message, models loaded): {cold:.2f} s")

    def lean() -> float:
        t = time.perf_counter()
        for item in inputs:
            Classification(ItemType.NOTE, 0.5, "lean", "0", title=item.text)
        return time.perf_counter() - t

    def ours() -> float:
        t = time.perf_counter()
        for item in inputs:
            rules.classify_sync(item)
        return time.perf_counter() - t

    base = statistics.median(lean() for _ in range(args.rounds))
    spent = statistics.median(ours() for _ in range(args.rounds))
    n = len(inputs)
    print(f"corpus: {n} items ({sum(i.is_chain for i in items)} chains)")
    print(f"lean loop:        {n / base:>10,.0f} messages/s")
    print(f"rules classifier: {n / spent:>10,.0f} messages/s  ({spent / n * 1000:.2f} ms each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "corpus")
    main(parser.parse_args())
