"""``superbrain demo``: the whole pipeline on a fresh embedded store, narrated.

It captures a day of sample updates through the same path the bot uses, records
the bot's answers, resolves a clarification that replies to the bot, stores file
bytes once per hash, and prints what happened. No network, no token.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs
from rich.console import Console
from rich.table import Table

from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.files import LocalFileStore, attach_bytes, iter_chunks
from superbrain_core.models import BotResponseIn, FileStatus, StoreStats
from superbrain_core.samples import BOT_ID, BOT_REPLIES, OWNER_ID, demo_day, sample_bytes
from superbrain_core.storage import CaptureOptions
from superbrain_core.storage.sqlite import SqliteStore
from superbrain_core.telegram import normalize_update


@attrs.frozen
class DemoReport:
    db_path: Path
    tally: CaptureTally
    stats: StoreStats
    blobs_written: int
    chain_replies: int


async def run_demo(data_dir: Path, console: Console | None = None) -> DemoReport:
    """Run the demo in ``data_dir/demo`` (wiped first) and narrate it on ``console``."""
    out = console or Console()
    root = data_dir / "demo"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    db_path = root / "demo.db"
    files = LocalFileStore(root / "files")
    tally = CaptureTally()
    replies_after = {after: (mid, text, rel) for after, mid, text, rel in BOT_REPLIES}

    out.rule("[bold]superbrain demo: save everything raw")
    out.print(f"Embedded store: [cyan]{db_path}[/]")
    async with SqliteStore(db_path) as store:
        capturer = Capturer(store, CaptureOptions(bot_id=BOT_ID, source="demo"))
        log = Table("update", "type", "outcome", "message", "chain", title="Capture")
        for payload in demo_day():
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
        stats = await store.stats()
    out.print(
        f"Captured: [green]{tally.new} new[/], [yellow]{tally.edits} edits[/], "
        f"[dim]{tally.duplicate} duplicates[/]; {written} distinct file blobs written."
    )
    out.print(", ".join(f"{t}={n}" for t, n in stats.tables.items()))
    return DemoReport(
        db_path=db_path,
        tally=tally,
        stats=stats,
        blobs_written=written,
        chain_replies=len(chain.replies) if chain else 0,
    )
