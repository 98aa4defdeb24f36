"""Capture benchmark: bulk ingest throughput and single-update latency.

    python bench/capture.py [--n 20000] [--single 2000] [--db postgresql://…]

Bulk goes through exactly what ``superbrain ingest`` does (decode, normalize,
batched atomic capture). Single measures one ``Capturer.capture`` call per update,
each its own transaction, as the bot does. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lean import lean_ingest, lean_single_capture
from results import record
from scratch import scratch_db_url
from synthetic import synthetic_updates

from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.history.ingest import ingest_text
from superbrain_core.storage import CaptureOptions, open_store


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    tmp = tempfile.TemporaryDirectory(prefix="superbrain-bench-")
    text = "\n".join(json.dumps(u, ensure_ascii=False) for u in synthetic_updates(args.n))
    lines = text.split("\n")
    backend = "postgresql" if args.db and not args.db.startswith("sqlite") else "sqlite"
    print(f"backend: {backend}   bulk updates: {args.n}   single updates: {args.single}")
    shares: list[float] = []
    rates: list[float] = []
    for attempt in range(1, args.repeat + 1):
        # Each run beside a lean run just before it: on a shared machine the
        # share is what holds still; the median of the runs is the figure.
        lean_rate = lean_ingest(lines, Path(tempfile.mkdtemp(prefix="superbrain-lean-")) / "l.db")
        async with scratch_db_url(args.db, Path(tmp.name)) as db_url:
            rate, tally = await bulk(db_url, text)
        shares.append(rate / lean_rate)
        rates.append(rate)
        print(
            f"run {attempt}: lean baseline (json.loads + executemany, SQLite WAL)"
            f" {lean_rate:,.0f} updates/s;  bulk ingest {rate:,.0f} updates/s"
            f" (new {tally.new}, edits {tally.edits}, duplicates {tally.duplicate})"
            f" = {rate / lean_rate:.0%}"
        )
    print(
        f"bulk ingest: median {statistics.median(shares):.0%} of the lean baseline"
        f" over {len(shares)} runs   (target: sqlite >= 50%, postgres >= 10,000/s)"
    )
    if backend == "sqlite":
        share = statistics.median(shares)
        record("bulk capture", "sqlite, share of lean", 100 * share, "%", ">= 50%", share >= 0.5)
    else:
        median_rate = statistics.median(rates)
        record(
            "bulk capture",
            "postgres, search on",
            median_rate,
            "updates/s",
            ">= 10,000/s",
            median_rate >= 10_000,
        )
    async with scratch_db_url(args.db, Path(tmp.name)) as db_url:
        await single(args, db_url, backend)
    tmp.cleanup()


async def bulk(db_url: str, text: str) -> tuple[float, CaptureTally]:
    """Updates/s of exactly what ``superbrain ingest`` does, into an empty database."""
    async with open_store(db_url) as store:
        capturer = Capturer(store, CaptureOptions(source="bench"))
        start = time.perf_counter()
        tally = await ingest_text(capturer, text, "synthetic.jsonl")
        return tally.total / (time.perf_counter() - start), tally


async def single(args: argparse.Namespace, db_url: str, backend: str) -> None:
    """Latency of one ``Capturer.capture`` per update, on a store that holds a bulk load."""
    text = "\n".join(json.dumps(u, ensure_ascii=False) for u in synthetic_updates(args.n))
    async with open_store(db_url) as store:
        capturer = Capturer(store, CaptureOptions(source="bench"))
        await ingest_text(capturer, text, "synthetic.jsonl")
        singles = list(synthetic_updates(args.single, seed=11, first_update_id=10_000_000))
        for update in singles:
            # distinct chat so single-capture messages do not collide with bulk ones
            body = update.get("message") or update.get("edited_message")
            body["chat"] = dict(body["chat"], id=555)
        lean_p50, lean_p99 = lean_single_capture(
            singles, Path(tempfile.mkdtemp(prefix="superbrain-lean-")) / "single.db"
        )
        print(f"lean single transaction: p50 {lean_p50:.3f} ms   p99 {lean_p99:.3f} ms")
        latencies: list[float] = []
        for update in singles:
            t0 = time.perf_counter()
            await capturer.capture(update)
            latencies.append((time.perf_counter() - t0) * 1000)
        p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
        print(
            f"single capture: p50 {p50:.3f} ms   p99 {p99:.3f} ms"
            f"   max {max(latencies):.3f} ms   target p99 <= 1 ms"
        )
        if backend == "sqlite":
            record("single capture", "sqlite p99", p99, "ms", "<= 1 ms", p99 <= 1.0)
        stats = await store.stats()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows: {stats.tables}")
    print(f"peak RSS: {rss_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="updates for the bulk ingest")
    parser.add_argument("--single", type=int, default=2_000, help="updates captured one at a time")
    parser.add_argument("--repeat", type=int, default=3, help="bulk runs (the median is shown)")
    parser.add_argument(
        "--db",
        default=None,
        help="a Postgres server to run on (a scratch database is created and dropped);"
        " default: a temporary SQLite file",
    )
    anyio.run(main, parser.parse_args())
