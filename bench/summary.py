"""The end of ``make bench``: every recorded figure beside its target, in one table.

    python bench/summary.py RESULTS_FILE

Reads the lines :func:`results.record` wrote during this run. Prints; exits 0
whether or not the targets were met (benchmarks are reports, not tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str) -> None:
    file = Path(path)
    if not file.exists():
        print("no figures were recorded")
        return
    rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line]
    width = max((len(f"{r['path']}: {r['figure']}") for r in rows), default=10)
    print()
    print("summary of this run (issue 17 targets)")
    for r in rows:
        name = f"{r['path']}: {r['figure']}"
        value = r["value"]
        shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
        mark = "met" if r["met"] else "NOT met"
        print(f"  {name:<{width}}  {shown:>10} {r['unit']:<10} target {r['target']:<14} {mark}")
    met = sum(r["met"] for r in rows)
    print(f"  {met} of {len(rows)} targets met")


if __name__ == "__main__":
    main(sys.argv[1])
