"""``superbrain demo``: the whole pipeline on a fresh embedded store, narrated.

It captures a day of sample updates through the same path the bot uses, records
the bot's answers, stores file bytes once per hash, then runs the nightly
analyzer twice: the first night files the day's messages, then the owner's
clarification (a reply to the bot's question) arrives and the second night moves
the item it clarifies. It prints what happened. No network, no token.

Its database is ``<data-dir>/demo/demo.db`` unless told otherwise, its file bytes
go to ``files/`` beside it. Starting fresh removes only what an earlier demo
wrote there: that database (with SQLite's ``-wal``/``-shm``/``-journal``) and the
blobs it records. A database the demo did not make is refused, never replaced,
and anything else in the folder is left alone.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from superbrain_core.analyzer.batch import BatchOptions, BatchReport, run_batch
from superbrain_core.analyzer.classify.schema import DEFAULT_TIMEZONE, Classifier
from superbrain_core.analyzer.explain import explain_message
from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.demo.samples import BOT_ID, BOT_REPLIES, OWNER_ID, demo_day, sample_bytes
from superbrain_core.errors import ConfigError
from superbrain_core.files import LocalFileStore, attach_bytes, blob_path, iter_chunks
from superbrain_core.models import BotResponseIn, FileStatus, StoreStats
from superbrain_core.storage import CaptureOptions, Store
from superbrain_core.storage.sqlite.store import SqliteStore
from superbrain_core.telegram import normalize_update

#: Updates that arrive only after the first night's analysis: the owner's
#: clarification of message #1 and a reply to it.
NEXT_DAY_UPDATES = frozenset({900002, 900003})

#: The capture ``source`` of every update the demo stores: how it knows its own database.
DEMO_SOURCE = "demo"
#: The files SQLite keeps beside a database; the demo removes them with its own.
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def demo_database(url: str | None, data_dir: Path) -> Path:
    """The demo's database file: the SQLite file ``url`` names (``--db``), else
    ``data_dir/demo/demo.db``. Other backends and in-memory databases are refused:
    the demo shows the embedded store and leaves a file to look at afterwards."""
    if url is None:
        return data_dir / "demo" / "demo.db"
    url = url.strip()
    path = url[len("sqlite:///") :].split("?", 1)[0] if url.startswith("sqlite:///") else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        raise ConfigError(
            "the demo runs on an embedded SQLite file: give --db sqlite:///PATH.db"
            f" (default {data_dir / 'demo' / 'demo.db'})",
            variable="--db",
        )
    return Path(path)


def _earlier_demo(db_path: Path) -> list[str] | None:
    """The blob hashes an earlier demo's database records, or ``None`` when the file
    is not a database the demo made (not SQLite, not ours, or holding any update
    that did not come from the demo)."""
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        total, foreign = conn.execute(
            "SELECT count(*), coalesce(sum(source IS NOT ? OR bot_id IS NOT ?), 0)"
            " FROM raw_updates",
            (DEMO_SOURCE, BOT_ID),
        ).fetchone()
        hashes = [
            str(h)
            for (h,) in conn.execute(
                "SELECT DISTINCT file_hash FROM raw_files WHERE file_hash IS NOT NULL"
            )
        ]
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if not total or foreign:
        return None
    return [h for h in hashes if _SHA256.match(h)]


def clear_earlier_demo(db_path: Path) -> bool:
    """Remove what an earlier demo wrote for ``db_path``; ``True`` when there was one.

    Only the database, SQLite's files beside it, and the blobs under ``files/``
    that this database records (then the folders that leaves empty) are removed.
    A file at ``db_path`` that the demo did not make raises :class:`ConfigError`
    before anything is touched.
    """
    if not db_path.exists() and not db_path.is_symlink():
        return False
    hashes = _earlier_demo(db_path) if db_path.is_file() else None
    if hashes is None:
        raise ConfigError(
            f"{db_path} exists and was not made by `superbrain demo`: the demo never"
            " replaces a database it did not create. Pass --db sqlite:///NEW.db"
            " (a file that does not exist yet), or move that file away",
            variable="--db",
        )
    files = db_path.parent / "files"
    for sha in hashes:
        blob = files / blob_path(sha)
        if blob.is_file() and not blob.is_symlink():
            blob.unlink()
        for folder in (blob.parent, blob.parent.parent):
            _remove_if_empty(folder)
    _remove_if_empty(files / "tmp")
    _remove_if_empty(files)
    for suffix in _SQLITE_SIDECARS:
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    db_path.unlink()
    return True


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (something else lives there), or gone
        folder.rmdir()


@attrs.frozen
class DemoReport:
    db_path: Path
    tally: CaptureTally
    stats: StoreStats
    blobs_written: int
    chain_replies: int
    nights: tuple[BatchReport, BatchReport]


async def run_demo(
    data_dir: Path,
    console: Console | None = None,
    *,
    db_path: Path | None = None,
    classifier: Classifier | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> DemoReport:
    """Run the demo into ``db_path`` (default ``data_dir/demo/demo.db``), file bytes
    in ``files/`` beside it, and narrate it on ``console``.

    What an earlier demo left there is replaced (:func:`clear_earlier_demo`); a
    database the demo did not make raises :class:`ConfigError` and nothing is
    touched. ``classifier`` defaults to the offline rules classifier.
    """
    out = console or Console()
    if classifier is None:
        from superbrain_core.analyzer.classify.rules import RulesClassifier

        classifier = RulesClassifier()
    if db_path is None:
        db_path = demo_database(None, data_dir)
    replaced = clear_earlier_demo(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    files = LocalFileStore(db_path.parent / "files")
    tally = CaptureTally()
    replies_after = {after: (mid, text, rel) for after, mid, text, rel in BOT_REPLIES}
    nights: list[BatchReport] = []

    out.rule("[bold]superbrain demo: save everything raw")
    out.print(
        f"Embedded store: [cyan]{escape(str(db_path))}[/]"
        + (" (the previous demo's database and files replaced)" if replaced else "")
    )
    async with SqliteStore(db_path) as store:
        capturer = Capturer(store, CaptureOptions(bot_id=BOT_ID, source=DEMO_SOURCE))
        log = Table("update", "type", "outcome", "message", "chain", title="Capture")
        day = demo_day()
        first_day = [u for u in day if u["update_id"] not in NEXT_DAY_UPDATES]
        next_day = [u for u in day if u["update_id"] in NEXT_DAY_UPDATES]
        for payload in first_day + next_day:
            if payload is next_day[0]:
                out.print(log)
                nights.append(await _night(store, classifier, timezone, out, "Night 1"))
                log = Table("update", "type", "outcome", "message", "chain", title="Next day")
            update = normalize_update(payload)
            (result,) = await capturer.capture_normalized([update])
            tally.add(result, update)
            msg = update.message
            log.add_row(
                str(result.update_id),
                result.update_type,
                result.outcome.value,
                f"#{msg.message_id} {msg.message_type}"
                + (f" v{result.version}" if result.version else "")
                if msg
                else "—",
                (result.chain_id or "")[:8],
            )
            if result.update_id in replies_after and result.outcome.value == "new":
                mid, text, rel = replies_after[result.update_id]
                await store.record_bot_response(
                    BotResponseIn(
                        chat_id=OWNER_ID,
                        message_id=mid,
                        response_text=text,
                        user_id=OWNER_ID,
                        related_user_message_id=rel,
                        method="sendMessage",
                    )
                )
                log.add_row("", "bot reply", "recorded", f"#{mid} «{text}»", "")
        out.print(log)
        nights.append(await _night(store, classifier, timezone, out, "Night 2"))
        await _show_correction(store, out)

        written = 0
        for raw_file in await store.list_files(status=FileStatus.PENDING):
            data = sample_bytes(
                raw_file.file_unique_id or str(raw_file.id), raw_file.file_size or 0
            )
            blob = await attach_bytes(store, files, raw_file, iter_chunks(data))
            written += int(blob.created)

        chain = await store.chain_of(OWNER_ID, 1)
        chain_table = Table("message", "text", title="Chain of message #1")
        if chain is not None:
            chain_table.add_row(f"#{chain.original_message_id} (root)", chain.original_text or "")
            for reply in chain.replies:
                chain_table.add_row(f"#{reply.message_id}", reply.text or "")
        out.print(chain_table)

        versions = await store.message_versions(OWNER_ID, 5)
        vt = Table("version", "edit_date", "text", title="Message #5 keeps every version")
        for v in versions:
            vt.add_row(
                str(v.version),
                v.edit_date.isoformat() if v.edit_date else "—",
                v.message_text or "",
            )
        out.print(vt)

        ft = Table("message", "type", "status", "hash / reason", title="Files")
        for raw_file in await store.list_files():
            ft.add_row(
                f"#{raw_file.message_id}",
                raw_file.file_type,
                raw_file.status.value,
                (raw_file.file_hash or "")[:16] or (raw_file.download_reason or ""),
            )
        out.print(ft)
        # Index for search now, so the read-only `superbrain search` pointed to below
        # finds everything without a queue to work through.
        await store.refresh_search_index()
        stats = await store.stats()
    out.print(
        f"Captured: [green]{tally.new} new[/], [yellow]{tally.edits} edits[/], "
        f"[dim]{tally.duplicate} duplicates[/]; {written} distinct file blobs written."
    )
    out.print(", ".join(f"{t}={n}" for t, n in stats.tables.items()))
    out.print(
        f"Look around: [cyan]superbrain --db sqlite:///{escape(str(db_path))} search встреча[/]"
        " (or stats, explain 100500:1)",
        highlight=False,
    )
    return DemoReport(
        db_path=db_path,
        tally=tally,
        stats=stats,
        blobs_written=written,
        chain_replies=len(chain.replies) if chain else 0,
        nights=(nights[0], nights[1]),
    )


async def _night(
    store: Store, classifier: Classifier, timezone: str, out: Console, title: str
) -> BatchReport:
    """One analyzer run, and where every message of the demo now lives."""
    out.rule(f"[bold]{title}: the analyzer structures what is new ({classifier.name})")
    report = await run_batch(store, classifier, BatchOptions(timezone=timezone))
    zone = ZoneInfo(timezone)
    table = Table("message", "now in", "this run", "title", "when", "conf.", title=title)
    for chat_id, message_id in _demo_messages():
        history = await store.routing_history(chat_id, message_id)
        if not history:
            continue
        entry = history[-1]
        c = entry.classification
        when = c.get("starts_at") or c.get("due_at")
        local = (
            datetime.fromisoformat(when).astimezone(zone).strftime("%d.%m %H:%M") if when else ""
        )
        moved = len({h.destination for h in history}) > 1 and entry.run_id == report.run_id
        fresh = entry.run_id == report.run_id
        table.add_row(
            f"#{message_id}",
            entry.destination,
            "[bold yellow]moved[/]" if moved else ("filed" if fresh else ""),
            str(c.get("title") or "")[:48],
            local,
            f"{entry.confidence:.2f}",
        )
    out.print(table)
    out.print(report.digest, highlight=False)
    return report


def _demo_messages() -> list[tuple[int, int]]:
    keys = set()
    for payload in demo_day():
        for kind in ("message", "channel_post"):
            if kind in payload:
                keys.add((payload[kind]["chat"]["id"], payload[kind]["message_id"]))
    return sorted(keys, key=lambda k: (k[0] != OWNER_ID, k[1]))


async def _show_correction(store: Store, out: Console) -> None:
    found = await explain_message(store, OWNER_ID, 1)
    if found is None:
        return
    table = Table(
        "placed",
        "destination",
        "type",
        "confidence",
        "status",
        title="Message #1: every placement is kept in routing_log",
    )
    for h in found.history:
        table.add_row(
            h.created_at.strftime("%H:%M:%S"),
            h.destination,
            str(h.classification.get("type")),
            f"{h.confidence:.2f}",
            "superseded" if h.superseded_at else "current",
        )
    out.print(table)
