"""One line per headline figure, so ``make bench`` can end with the issue's targets
side by side.

Each benchmark still prints its own detail; :func:`record` also appends the
figure that a target is about to the file named by ``SUPERBRAIN_BENCH_RESULTS``
(``make bench`` sets it), and ``bench/summary.py`` reads that file at the end.
Run alone, a benchmark records nothing.
"""

from __future__ import annotations

import json
import os


def record(path: str, figure: str, value: float, unit: str, target: str, met: bool) -> None:
    """Note one figure: ``met`` is whether it reaches ``target`` in this run."""
    out = os.environ.get("SUPERBRAIN_BENCH_RESULTS")
    if not out:
        return
    line = {
        "path": path,
        "figure": figure,
        "value": value,
        "unit": unit,
        "target": target,
        "met": bool(met),
    }
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
