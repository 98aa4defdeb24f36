"""`superbrain ingest` memory benchmark: peak RSS by file size, shape and input.

    python bench/ingest_memory.py                   # ~100 MB, every shape, and stdin
    python bench/ingest_memory.py --mb 20 --shapes jsonl
    python bench/ingest_memory.py --million         # the series by count up to 1M updates

After the table by size, a series by count (JSON Lines, 10k and 100k updates,
and 1M with ``--million``: about 300 MB, several minutes) shows the same from
10k to 1M updates.

A synthetic update file (``bench/synthetic.py``) of about ``--mb`` megabytes is
written to a temporary folder in each shape ``superbrain ingest`` accepts: JSON
Lines, a JSON array and a ``getUpdates`` reply. Each is ingested by a fresh
``superbrain ingest`` process into an empty SQLite database, and that process's
peak RSS is read from ``wait4``. A 10 MB file of the same shape shows where a
small input peaks, and ``python -c "import superbrain_core.cli.commands"`` the
floor every run starts from: streaming means the large file peaks about where
the small one does, far below the file's own size. (Below ~10 MB the peak is
lower still: SQLite's page cache, 32 MB per connection, is not full yet.)
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record
from synthetic import synthetic_updates

SHAPES = ("jsonl", "array", "envelope", "stdin")
TARGET_MB = 150


def _encoded(updates: Iterator[dict[str, Any]], limit: int) -> Iterator[str]:
    size = 0
    for update in updates:
        line = json.dumps(update, ensure_ascii=False)
        size += len(line.encode("utf-8")) + 1
        yield line
        if size >= limit:
            return


def write_count(path: Path, count: int) -> None:
    """Write ``count`` updates as JSON Lines."""
    with path.open("w", encoding="utf-8") as out:
        for update in synthetic_updates(count):
            out.write(json.dumps(update, ensure_ascii=False))
            out.write("\n")


def write_file(path: Path, shape: str, megabytes: float) -> int:
    """Write about ``megabytes`` of updates in ``shape``; returns how many updates."""
    limit = int(megabytes * 1024 * 1024)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        if shape == "array":
            out.write("[\n")
        elif shape == "envelope":
            out.write('{"ok":true,"result":[\n')
        for line in _encoded(synthetic_updates(10**9), limit):
            if count and shape in {"array", "envelope"}:
                out.write(",\n")
            out.write(line)
            if shape not in {"array", "envelope"}:
                out.write("\n")
            count += 1
        if shape == "array":
            out.write("\n]\n")
        elif shape == "envelope":
            out.write("\n]}\n")
    return count


def peak_rss(
    args: list[str], *, stdin: Path | None = None, env: dict[str, str]
) -> tuple[int, float]:
    """``(peak RSS in bytes, seconds)`` of one child process, from its own ``wait4``."""
    start = time.perf_counter()
    with (
        open(stdin, "rb") if stdin else open(os.devnull, "rb") as source,
        open(os.devnull, "wb") as sink,
    ):
        proc = subprocess.Popen(args, stdin=source, stdout=sink, stderr=subprocess.PIPE, env=env)
        assert proc.stderr is not None
        errors = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{errors.decode(errors='replace')}")
    return usage.ru_maxrss * 1024, elapsed  # ru_maxrss is in KiB on Linux


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:7.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="size of the large file")
    parser.add_argument("--small-mb", type=float, default=10.0, help="size of the small file")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=",".join(SHAPES))
    parser.add_argument(
        "--counts", default="10000,100000", help="updates per file for the series by count"
    )
    parser.add_argument("--million", action="store_true", help="add 1,000,000 to the series")
    args = parser.parse_args()
    shapes = [s for s in args.shapes.split(",") if s]
    for shape in shapes:
        if shape not in SHAPES:
            raise SystemExit(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")

    python = sys.executable
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERBRAIN_", "TELEGRAM_"))}
    with tempfile.TemporaryDirectory(prefix="superbrain-ingest-mem-") as tmp_name:
        tmp = Path(tmp_name)
        env["SUPERBRAIN_DATA_DIR"] = str(tmp / "data")
        env["SUPERBRAIN_LOG_FORMAT"] = "json"
        floor, _ = peak_rss([python, "-c", "import superbrain_core.cli.commands"], env=env)
        print(f"baseline (import superbrain_core.cli.commands): {mb(floor)}")
        print(f"target for a {args.mb:g} MB file: under {TARGET_MB} MB\n")
        columns = ("size", "updates", "peak RSS", "over base", "time")
        widths = (10, 9, 10, 10, 8)
        print(
            f"{'input':<10} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
        )
        runs = 0
        for shape in shapes:
            file_shape = "jsonl" if shape == "stdin" else shape
            for size in (args.small_mb, args.mb):
                path = tmp / f"updates-{file_shape}-{size:g}.json"
                if not path.exists():
                    count = write_file(path, file_shape, size)
                    path.with_suffix(".count").write_text(str(count))
                count = int(path.with_suffix(".count").read_text())
                runs += 1
                env["SUPERBRAIN_DB"] = f"sqlite:///{tmp / f'run-{runs}.db'}"
                target = "-" if shape == "stdin" else str(path)
                command = [python, "-m", "superbrain_core", "ingest", target]
                peak, seconds = peak_rss(command, stdin=path if shape == "stdin" else None, env=env)
                print(
                    f"{shape:<10} {mb(path.stat().st_size):>10} {count:>9,} {mb(peak):>10}"
                    f" {mb(peak - floor):>10} {seconds:7.1f}s"
                )
            for stale in tmp.glob("run-*.db*"):
                stale.unlink()
        counts = [int(n) for n in args.counts.split(",") if n]
        if args.million and 1_000_000 not in counts:
            counts.append(1_000_000)
        print("\nseries by count (JSON Lines):")
        peaks = {}
        for count in counts:
            path = tmp / f"series-{count}.jsonl"
            write_count(path, count)
            runs += 1
            env["SUPERBRAIN_DB"] = f"sqlite:///{tmp / f'run-{runs}.db'}"
            peak, seconds = peak_rss(
                [python, "-m", "superbrain_core", "ingest", str(path)], env=env
            )
            peaks[count] = peak
            print(
                f"{'jsonl':<10} {mb(path.stat().st_size):>10} {count:>9,} {mb(peak):>10}"
                f" {mb(peak - floor):>10} {seconds:7.1f}s  ({count / seconds:,.0f} updates/s)"
            )
            path.unlink()
            for stale in tmp.glob("run-*.db*"):
                stale.unlink()
        growth = peaks[counts[-1]] - peaks[counts[0]]
        print(f"peak RSS grows {mb(growth).strip()} from {counts[0]:,} to {counts[-1]:,} updates")
        record(
            "memory",
            f"ingest peak RSS growth {counts[0]:,} → {counts[-1]:,}",
            growth / 2**20,
            "MB",
            "< 50 MB",
            growth < 50 * 2**20,
        )


if __name__ == "__main__":
    main()
