"""Desktop export import benchmark: messages/s and peak memory by export size.

    python bench/desktop_import.py                         # 10k, 100k messages, SQLite
    python bench/desktop_import.py --million               # and 1M (about 5 minutes more)
    python bench/desktop_import.py --sizes 5000,50000
    python bench/desktop_import.py --db postgresql://postgres@127.0.0.1:5432/postgres

A synthetic full-account export (several chats; text as plain strings and as
entity lists, ``text_entities``, replies, forwards, service messages, photos
left out of the export, a few real files) is written to a temporary folder.
Each size is imported by a fresh process into an empty database, so its peak
RSS (``VmHWM``) is the import's alone; then the same export is imported again
(everything already stored). Flat memory means the largest export peaks about
where the smallest one does. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lean import lean_desktop_import
from results import record
from scratch import scratch_db_url

from superbrain_core.files import LocalFileStore
from superbrain_core.history.importer import import_desktop_export
from superbrain_core.logs import configure_logging
from superbrain_core.storage import open_store

WORDS = [
    "купить",
    "молоко",
    "завтра",
    "встреча",
    "в",
    "15:00",
    "позвонить",
    "маме",
    "отчёт",
    "проект",
    "счёт",
    "1200",
    "₽",
]
CHATS = 8


def _message(i: int, chat: int, folder: Path) -> dict[str, Any]:
    base = 1_700_000_000 + i * 7
    words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(6 + i % 9))
    msg: dict[str, Any] = {
        "id": i,
        "type": "message",
        "date": "2023-11-14T22:13:20",
        "date_unixtime": str(base),
        "from": "Имя Фамилия",
        "from_id": f"user{4_000_000 + i % 5}",
    }
    if i % 50 == 0:
        return {
            **msg,
            "type": "service",
            "actor_id": msg.pop("from_id"),
            "action": "pin_message",
            "message_id": i - 1,
            "text": "",
            "text_entities": [],
        }
    if i % 3 == 0:
        parts: list[Any] = [words + " ", {"type": "link", "text": f"https://example.com/{i}"}]
        msg["text"] = parts
        msg["text_entities"] = [{"type": "plain", "text": parts[0]}, parts[1]]
    else:
        msg["text"] = words
        msg["text_entities"] = [{"type": "plain", "text": words}]
    if i % 10 == 4:
        msg["reply_to_message_id"] = i - 1
    if i % 25 == 7:
        msg["forwarded_from"] = "Канал новостей"
    if i % 20 == 11:
        msg["photo"] = "(File not included. Change data exporting settings to download.)"
    if i % 1000 == 13:
        name = f"chats/chat_{chat:03d}/files/file_{i}.txt"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(f"attachment {i % 7}\n".encode())  # many duplicates
        msg["file"] = name
        msg["mime_type"] = "text/plain"
    if i % 40 == 9:
        msg["edited"] = "2023-11-14T22:20:00"
        msg["edited_unixtime"] = str(base + 420)
    return msg


def write_export(folder: Path, n: int) -> Path:
    """A full-account ``result.json`` with ``n`` messages, written as a stream."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "result.json"
    per_chat = n // CHATS
    kinds = ["personal_chat", "private_group", "private_supergroup", "public_channel"]
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n "about": "synthetic",\n "chats": {\n  "list": [\n')
        for c in range(CHATS):
            head = {"name": f"Чат {c}", "type": kinds[c % len(kinds)], "id": 1000 + c}
            out.write(("," if c else "") + json.dumps(head, ensure_ascii=False)[:-1])
            out.write(', "messages": [\n')
            count = per_chat if c < CHATS - 1 else n - per_chat * (CHATS - 1)
            for i in range(1, count + 1):
                line = json.dumps(_message(i, c, folder), ensure_ascii=False, indent=None)
                out.write(("," if i > 1 else "") + line + "\n")
            out.write("]}\n")
        out.write("  ]\n }\n}\n")
    return path


def _status_kb(field: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort


def child(db_url: str, export: str, files_dir: str, batch_size: int) -> None:
    """Import once (and again) in this process; print the figures as JSON."""
    configure_logging("json", "WARNING")

    async def go() -> None:
        async with open_store(db_url) as store:
            files = LocalFileStore(files_dir)
            started = time.perf_counter()
            first = await import_desktop_export(store, files, export, batch_size=batch_size)
            first_s = time.perf_counter() - started
            peak = _status_kb("VmHWM")
            started = time.perf_counter()
            again = await import_desktop_export(store, files, export, batch_size=batch_size)
            again_s = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "messages": first.messages_new,
                    "seconds": first_s,
                    "peak_kb": peak,
                    "again_present": again.messages_present,
                    "again_seconds": again_s,
                    "files": [first.files_stored, first.files_deduplicated, first.files_missing],
                    "bytes": first.bytes_total,
                }
            )
        )

    anyio.run(go)


async def main(args: argparse.Namespace) -> None:
    sizes = [int(n) for n in args.sizes.split(",") if n]
    if args.million and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    print(f"[desktop import] batch {args.batch_size}, database {args.db or 'SQLite'}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        peaks = {}
        for n in sizes:
            export = write_export(tmp / f"export-{n}", n)
            lean_rate = lean_desktop_import(export, tmp / f"lean-{n}.db")
            async with scratch_db_url(args.db, tmp) as url:
                out = await anyio.run_process(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        url,
                        str(export),
                        str(tmp / f"files-{n}"),
                        str(args.batch_size),
                    ],
                    env={**os.environ, "SUPERBRAIN_LOG_FORMAT": "json"},
                )
            f = json.loads(out.stdout.decode().strip().splitlines()[-1])
            peaks[n] = f["peak_kb"] / 1024
            rate = f["messages"] / f["seconds"]
            again = f["again_present"] / f["again_seconds"]
            print(
                f"  {n:>9,} messages ({f['bytes'] / 1e6:.0f} MB): {rate:>7.0f} msg/s"
                f" ({f['seconds']:.1f} s) = {rate / lean_rate:.0%} of the lean baseline"
                f" ({lean_rate:,.0f} msg/s: json.load + executemany), peak RSS {peaks[n]:.0f} MB;"
                f" re-import {again:.0f} msg/s, adds nothing;"
                f" files stored/deduplicated/missing {f['files']}"
            )
            if n <= 100_000:
                share = rate / lean_rate
                record(
                    "desktop import",
                    f"{n:,} messages, share of lean",
                    100 * share,
                    "%",
                    ">= 50%",
                    share >= 0.5,
                )
            for stale in (tmp / f"export-{n}", tmp / f"files-{n}"):
                shutil.rmtree(stale, ignore_errors=True)
            for stale in [*tmp.glob(f"lean-{n}.db*"), *tmp.glob("scratch-*.db*")]:
                stale.unlink()
        series = ", ".join(f"{n:,}: {peaks[n]:.0f} MB" for n in sizes)
        growth = peaks[sizes[-1]] - peaks[sizes[0]]
        print(f"  peak RSS by export size: {series}")
        print(f"  peak RSS grows {growth:+.0f} MB from {sizes[0]:,} to {sizes[-1]:,} messages")
        if len(sizes) > 2:
            # From the second size on: the first import's peak is below the fixed
            # caches (SQLite's page cache, the parser's buffers) that fill by then.
            tail = peaks[sizes[-1]] - peaks[sizes[1]]
            print(f"  peak RSS grows {tail:+.0f} MB from {sizes[1]:,} to {sizes[-1]:,} messages")
            record(
                "memory",
                f"desktop import peak RSS growth {sizes[1]:,} → {sizes[-1]:,}",
                tail,
                "MB",
                "< 50 MB",
                tail < 50,
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a postgresql:// server to run on instead of SQLite")
    parser.add_argument(
        "--sizes", default="10000,100000", help="messages per export, comma-separated"
    )
    parser.add_argument(
        "--million", action="store_true", help="add a 1,000,000-message export (about 450 MB)"
    )
    parser.add_argument("--batch-size", type=int, default=5000)
    anyio.run(main, parser.parse_args())
