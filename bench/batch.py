"""Analyzer benchmark: our batch against the original loop, raw throughput, and memory.

    python bench/batch.py                       # everything, on SQLite
    python bench/batch.py --only ratio --n 5000 --latency 0.05   # defaults: 1,500 at 20 ms
    python bench/batch.py --only instant --instant-n 20000
    python bench/batch.py --only memory --small 10000 --large 200000
    python bench/batch.py --db postgresql://postgres@127.0.0.1:5432/postgres

* ratio:   a loopback HTTP classifier (its own process) answers after
  ``--latency`` seconds. The same backlog is processed by ``run_batch`` with the
  webhook classifier at ``--concurrency``, and by a faithful re-implementation of
  the original loop: sequential, a new HTTP client per message, each row marked
  processed in its own commit. Prints both times and the ratio.
* instant: end-to-end messages/s with a classifier that costs nothing, batched
  (the keyword classifier answers ``classify_many``) and one message per call,
  beside a lean SQLite pass that only reads, classifies, writes and marks (no
  claims, contexts, history or idempotency); and with the HTTP classifier at
  zero latency.
* memory:  peak RSS of a process running the batch over a small and a large
  backlog; the difference is what the backlog size costs.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lean import concurrency_limit
from results import record
from scratch import scratch_db_url
from synthetic import synthetic_updates

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.analyzer.classify.schema import Classification, ClassifierInput
from superbrain_core.analyzer.classify.webhook import WebhookClassifier
from superbrain_core.capture import Capturer
from superbrain_core.history.ingest import ingest_text
from superbrain_core.logs import configure_logging
from superbrain_core.storage import CaptureOptions, open_store

HERE = Path(__file__).resolve().parent
KEYWORDS = {"купить": "task", "созвон": "event", "meeting": "event", "₽": "expense", "http": "link"}


async def build_backlog(db_url: str, n: int) -> int:
    """Capture ``n`` synthetic updates; returns how many raw rows await analysis."""
    text = "\n".join(json.dumps(u, ensure_ascii=False) for u in synthetic_updates(n))
    async with open_store(db_url) as store:
        await ingest_text(Capturer(store, CaptureOptions(source="bench")), text, "bench.jsonl")
        return await store.pending_work(now=datetime.now(UTC))


@contextlib.contextmanager
def classifier_server(latency: float) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "classifier_server.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = json.loads(proc.stdout.readline())["port"]
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def original_loop(db_path: str, base_url: str) -> int:
    """The loop this project replaces, re-implemented faithfully for comparison."""
    conn = sqlite3.connect(db_path)
    rows = conn.execute(
        "SELECT id, message_text, message_type, user_id, reply_to_text, is_clarification"
        " FROM raw_messages WHERE is_processed = 0 ORDER BY created_at"
    ).fetchall()
    for row_id, text, message_type, user_id, reply_to, is_clarification in rows:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{base_url}/digital-twin-ask",
                json={
                    "message": text,
                    "message_type": message_type,
                    "user_id": user_id,
                    "reply_to_message": reply_to,
                    "is_clarification": bool(is_clarification),
                },
            )
            response.raise_for_status()
            response.json()
        conn.execute(
            "UPDATE raw_messages SET is_processed = 1, processed_at = ? WHERE id = ?",
            (datetime.now(UTC).isoformat(), row_id),
        )
        conn.commit()
    conn.close()
    return len(rows)


@contextlib.asynccontextmanager
async def backlog_copy(template: Path, tmp: Path, name: str) -> AsyncIterator[Path]:
    path = tmp / name
    shutil.copyfile(template, path)
    yield path


async def ratio(args: argparse.Namespace, tmp: Path) -> None:
    template = tmp / "template.db"
    rows = await build_backlog(f"sqlite:///{template}", args.n)
    print(
        f"\n[ratio] backlog: {rows} raw messages, classifier latency {args.latency * 1000:.0f} ms"
    )
    with classifier_server(args.latency) as url:
        async with backlog_copy(template, tmp, "ours.db") as ours:
            classifier = WebhookClassifier(url, timeout=30)
            async with open_store(f"sqlite:///{ours}") as store:
                start = time.perf_counter()
                report = await run_batch(
                    store, classifier, BatchOptions(concurrency=args.concurrency)
                )
                ours_s = time.perf_counter() - start
            await classifier.aclose()
        print(
            f"ours:     {ours_s:8.1f} s   {report.processed / ours_s:8.0f} raw msgs/s"
            f"   ({report.classified} classifications, concurrency {args.concurrency},"
            f" failed {report.failed})"
        )
        async with backlog_copy(template, tmp, "original.db") as original:
            start = time.perf_counter()
            done = await original_loop(str(original), url)
            orig_s = time.perf_counter() - start
        print(f"original: {orig_s:8.1f} s   {done / orig_s:8.0f} raw msgs/s   (sequential)")
    limit = concurrency_limit(report.classified, args.latency, args.concurrency)
    print(
        f"limit:    {limit:8.1f} s   N·L/C for {report.classified} classifications"
        f"   ours = {ours_s / limit:.2f}× the limit   target <= 1.5×"
    )
    print(f"ratio:    {orig_s / ours_s:8.1f} x faster   target >= 30x")
    record(
        "analyzer",
        "time / N·L/C at 20 ms, C=16",
        ours_s / limit,
        "x",
        "<= 1.5x",
        ours_s / limit <= 1.5,
    )
    record(
        "analyzer",
        "speed-up over the original loop",
        orig_s / ours_s,
        "x",
        ">= 30x",
        orig_s / ours_s >= 30,
    )


class OneAtATime:
    """The keyword classifier without ``classify_many``: the per-message pipeline."""

    def __init__(self) -> None:
        self.inner = KeywordClassifier(KEYWORDS)
        self.name, self.version = self.inner.name, self.inner.version

    async def classify(self, item: ClassifierInput) -> Classification:
        return await self.inner.classify(item)

    async def aclose(self) -> None:
        return None


def lean_instant(path: Path) -> tuple[int, float]:
    """The minimum an analyzer pass over a SQLite backlog does, with none of our guarantees.

    Read the pending rows, classify each by keyword, write one filing row per
    message and mark the rows processed, in one transaction (no claims or leases,
    no chains, no contexts, no routing history, no idempotency).
    """
    keywords = {k.casefold(): v for k, v in KEYWORDS.items()}
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE lean_filed (chat_id INTEGER, message_id INTEGER, kind TEXT, title TEXT)"
    )
    start = time.perf_counter()
    rows = conn.execute(
        "SELECT id, chat_id, message_id, message_text FROM raw_messages WHERE is_processed = 0"
    ).fetchall()
    filed = []
    for _, chat_id, message_id, text in rows:
        folded = (text or "").casefold()
        kind = next((v for k, v in keywords.items() if k in folded), "note")
        filed.append((chat_id, message_id, kind, (text or "")[:80]))
    with conn:
        conn.executemany("INSERT INTO lean_filed VALUES (?, ?, ?, ?)", filed)
        conn.executemany(
            "UPDATE raw_messages SET is_processed = 1, processed_at = ? WHERE id = ?",
            [(datetime.now(UTC).isoformat(), r[0]) for r in rows],
        )
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows), elapsed


async def _instant_run(url: str, classifier: Any) -> tuple[Any, float]:
    async with open_store(url) as store:
        start = time.perf_counter()
        report = await run_batch(store, classifier, BatchOptions())
        return report, time.perf_counter() - start


async def instant(args: argparse.Namespace, tmp: Path) -> None:
    sqlite_backend = not args.db or args.db.startswith("sqlite")
    template = tmp / "instant-template.db"
    if sqlite_backend:
        rows = await build_backlog(f"sqlite:///{template}", args.instant_n)
    figures = []
    for label, make in (
        ("batched", lambda: KeywordClassifier(KEYWORDS)),
        ("per message", OneAtATime),
    ):
        async with scratch_db_url(args.db, tmp) as url:
            if sqlite_backend:
                shutil.copyfile(template, url.removeprefix("sqlite:///"))
            else:
                rows = await build_backlog(url, args.instant_n)
            report, elapsed = await _instant_run(url, make())
        figures.append((label, report, elapsed))
    backend = "sqlite" if sqlite_backend else "postgresql"
    lean_rate = None
    if sqlite_backend:
        lean_copy = tmp / "instant-lean.db"
        shutil.copyfile(template, lean_copy)
        lean_rows, lean_s = lean_instant(lean_copy)
        lean_rate = lean_rows / lean_s
        print(f"\n[instant] lean baseline (sqlite): {lean_rows / lean_s:,.0f} msgs/s")
    for label, report, elapsed in figures:
        rate = report.processed / elapsed
        if label == "batched":
            record("analyzer", f"instant, {backend}", rate, "msgs/s", ">= 10,000", rate >= 10_000)
        share = f"   {rate / lean_rate:.0%} of lean" if lean_rate else ""
        print(
            f"[instant] {backend}, {label}: {rows} raw messages, {report.classified}"
            f" classifications in {elapsed:.2f} s = {rate:,.0f} msgs/s end to end{share}"
            "   target >= 10,000"
        )
    async with scratch_db_url(args.db, tmp) as url:
        rows = await build_backlog(url, min(args.instant_n, 5000))
        with classifier_server(0.0) as server:
            classifier = WebhookClassifier(server, timeout=30)
            report, elapsed = await _instant_run(url, classifier)
            await classifier.aclose()
    print(
        f"[instant] same over loopback HTTP at 0 ms latency: {rows} messages,"
        f" {report.processed / elapsed:,.0f} msgs/s"
    )


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort


def memory_child(db_url: str) -> None:
    """Run one batch over an existing backlog and print peak RSS (a separate process).

    The peak is read from ``VmHWM``, not ``ru_maxrss``: Linux carries a forked
    parent's high-water mark across ``exec`` into ``ru_maxrss``, so the
    parent's size (it built the backlog) would be counted as the child's.
    """
    configure_logging("json", "WARNING")

    async def go() -> None:
        async with open_store(db_url) as store:
            before = _status_kb("VmRSS")
            report = await run_batch(store, KeywordClassifier(KEYWORDS), BatchOptions())
        peak = _status_kb("VmHWM")
        print(json.dumps({"before_kb": before, "peak_kb": peak, "processed": report.processed}))

    anyio.run(go)


async def memory(args: argparse.Namespace, tmp: Path) -> None:
    print("\n[memory] peak RSS of a batch process by backlog size")
    peaks = {}
    for n in (args.small, args.large):
        async with scratch_db_url(args.db, tmp) as url:
            rows = await build_backlog(url, n)
            out = await anyio.run_process(
                [sys.executable, __file__, "--memory-child", url],
                env={**os.environ, "SUPERBRAIN_LOG_FORMAT": "json"},
            )
            figures = json.loads(out.stdout.decode().strip().splitlines()[-1])
            peaks[n] = figures["peak_kb"] / 1024
            print(
                f"backlog {rows:>7} raw messages: peak RSS {peaks[n]:6.1f} MB"
                f"   (processed {figures['processed']})"
            )
    growth = peaks[args.large] - peaks[args.small]
    print(f"growth {args.small} → {args.large}: {growth:+.1f} MB   target < 50 MB")
    record(
        "memory",
        f"analyzer peak RSS growth {args.small:,} → {args.large:,}",
        growth,
        "MB",
        "< 50 MB",
        growth < 50,
    )


async def main(args: argparse.Namespace) -> None:
    configure_logging("json", "WARNING")
    wanted = set(args.only.split(",")) if args.only else {"ratio", "instant", "memory"}
    with tempfile.TemporaryDirectory(prefix="superbrain-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if "instant" in wanted:
            await instant(args, tmp)
        if "ratio" in wanted:
            if args.db and not args.db.startswith("sqlite"):
                print("\n[ratio] runs on SQLite only (the original loop used one connection)")
            await ratio(args, tmp)
        if "memory" in wanted:
            await memory(args, tmp)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql://… server to benchmark on (scratch database)")
    parser.add_argument("--only", help="comma-separated: ratio, instant, memory")
    parser.add_argument("--n", type=int, default=1500, help="backlog for the ratio")
    parser.add_argument("--latency", type=float, default=0.02, help="classifier latency, s")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--instant-n", type=int, default=20000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.memory_child:
        memory_child(parsed.memory_child)
    else:
        anyio.run(main, parsed)
