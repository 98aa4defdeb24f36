"""Search benchmark: what the index costs capture, and how fast queries answer.

    python bench/search.py [--n 200000] [--single 2000] [--repeat 50] [--db postgresql://…]

1. Bulk ingest and single-update capture with the search index, then the same
   on a database whose index triggers were dropped: the difference is what
   keeping the index current costs capture.
2. Query latency p50/p99 over the indexed database for rare, common, two-word
   and mixed-language queries, with and without a chat filter.
3. The first search: on SQLite, capture only queues messages for the index
   and searches index what is queued, so the first search after the bulk
   ingest indexes all ``--n`` messages (what an upgraded database or an import
   pays once).

Messages are synthetic: 8-24 words drawn with a Zipf-like skew from a few
thousand made-up Russian word forms and English words, so posting lists range
from a handful of messages to a third of them. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import scratch_db_url

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import DAY_START, make_message
from superbrain_core.history.ingest import ingest_text
from superbrain_core.storage import CaptureOptions, open_store

STEMS = ["встреч", "бюджет", "проект", "задач", "звон", "отчет", "молок", "поездк", "врач"]
ENDINGS = ["а", "у", "и", "ой", "ами", "е", "ах", "ы"]
SYLLABLES = ["ка", "ро", "ми", "ла", "ту", "не", "зо", "вы", "пе", "да", "ше", "гу"]
ENGLISH = ["meeting", "budget", "report", "call", "trip", "doctor", "invoice", "plan"]
ENGLISH_FORMS = ["", "s", "ing", "ed"]
QUERIES = [
    ("rare (one message)", "#{rare}"),
    ("common Russian", "встречу"),
    ("common English", "meetings"),
    ("two words", "бюджета проект"),
    ("mixed language", "встреча budget"),
    ("middling made-up word", "{word}"),
]

_PROFILE = """\
SQLite: sqlite:///… in a temporary directory (default); Postgres: --db postgresql://…
(a scratch database is created, migrated and dropped)."""


def vocabulary(rng: random.Random) -> list[str]:
    words = [s + e for s in STEMS for e in ENDINGS]
    words += [w + f for w in ENGLISH for f in ENGLISH_FORMS]
    for _ in range(3000):
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        words.append(word + rng.choice(ENDINGS))
    return words


def updates(n: int, *, seed: int = 3, chats: int = 5, first: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    for i in range(n):
        text = " ".join(rng.choices(words, weights, k=rng.randint(8, 24)))
        chat = {"id": 100 + i % chats, "type": "private"}
        message = make_message(
            first + i, text=f"{text} #{first + i}", date=DAY_START + timedelta(seconds=i), chat=chat
        )
        yield {"update_id": first + i, "message": message}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drop_index_triggers(db_url: str) -> None:
    """Turn index maintenance off in a scratch database (the "without" figures)."""
    if db_url.startswith("sqlite"):
        import sqlite3

        from superbrain_core.storage.sqlite.connection import sqlite_path_from_url

        with sqlite3.connect(sqlite_path_from_url(db_url)) as conn:
            names = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'search_%'"
            ).fetchall()
            for (name,) in names:
                conn.execute(f'DROP TRIGGER "{name}"')
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for table in ("raw_messages", "raw_files"):
            cur = await conn.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass"
                " AND tgname LIKE 'superbrain_search_%%'",
                (table,),
            )
            for (name,) in await cur.fetchall():
                await conn.execute(f'DROP TRIGGER "{name}" ON {table}')


async def capture_figures(db_url: str, text: str, n: int, single: int) -> tuple[float, list[float]]:
    async with open_store(db_url) as store:
        capturer = Capturer(store, CaptureOptions(source="bench"))
        start = time.perf_counter()
        await ingest_text(capturer, text, "search-bench.jsonl")
        rate = n / (time.perf_counter() - start)
        latencies = []
        for update in updates(single, seed=99, chats=1, first=50_000_000):
            t0 = time.perf_counter()
            await capturer.capture(update)
            latencies.append((time.perf_counter() - t0) * 1000)
    return rate, latencies


async def main(args: argparse.Namespace) -> None:
    tmp = tempfile.TemporaryDirectory(prefix="superbrain-search-bench-")
    text = "\n".join(json.dumps(u, ensure_ascii=False) for u in updates(args.n))
    rng = random.Random(5)
    words = vocabulary(random.Random(3))
    backend = "sqlite" if not args.db or args.db.startswith("sqlite") else "postgres"
    print(f"backend: {backend}   messages: {args.n:,}   single captures: {args.single:,}")

    async with scratch_db_url(args.db, Path(tmp.name)) as plain_url:
        async with open_store(plain_url):  # creates the schema; then the triggers go
            pass
        await drop_index_triggers(plain_url)
        plain_rate, plain_lat = await capture_figures(plain_url, text, args.n, args.single)

    async with scratch_db_url(args.db, Path(tmp.name)) as url:
        rate, lat = await capture_figures(url, text, args.n, args.single)
        for label, r, ls in (("with index", rate, lat), ("no index", plain_rate, plain_lat)):
            print(
                f"capture {label:>10}: bulk {r:,.0f} updates/s   single p50"
                f" {statistics.median(ls):.3f} ms   p99 {percentile(ls, 0.99):.3f} ms"
            )
        print(f"index cost: bulk {100 * (rate / plain_rate - 1):+.0f}% throughput")

        async with open_store(url) as store:
            # SQLite indexes at search time: the first search takes the backlog.
            t0 = time.perf_counter()
            await store.search("встреча")
            took = time.perf_counter() - t0
            print(f"first search (indexes what capture queued on SQLite): {took:.2f} s")
            for label, template in QUERIES:
                for chat in (None, 101):
                    timings, found = [], 0
                    for _ in range(args.repeat):
                        query = template.format(
                            rare=rng.randint(1, args.n), word=words[len(words) // 3]
                        )
                        t0 = time.perf_counter()
                        hits = await store.search(query, limit=50, chat_id=chat)
                        timings.append((time.perf_counter() - t0) * 1000)
                        found = max(found, len(hits))
                    where = "one chat" if chat else "all chats"
                    print(
                        f"query {label:<22} {where:<9}: p50 {statistics.median(timings):7.2f} ms"
                        f"   p99 {percentile(timings, 0.99):7.2f} ms   ({found} hits shown)"
                    )
    tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=_PROFILE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000, help="messages in the database")
    parser.add_argument("--single", type=int, default=2_000, help="updates captured one by one")
    parser.add_argument("--repeat", type=int, default=50, help="runs of each query")
    parser.add_argument("--db", default=None, help="a Postgres server (default: SQLite)")
    anyio.run(main, parser.parse_args())
