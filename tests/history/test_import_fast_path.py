"""The batched SQLite import stores exactly the rows the per-message import stored.

:func:`superbrain_core.storage.sqlite.importing.import_batch` inserts a batch's
new rows with ``executemany`` and links chains afterwards
(see its module docstring). The reference here is the per-message loop it
replaced (a lookup, ``join_chain``, an insert, ``update_chain_member`` and the
files, message by message). Both run the same mixed imports (replies before
their parents inside a batch and across batches, replies to replies, roots that
turn out to be replies, replies to the bot's messages, service messages, edits,
files, duplicates inside a batch, messages the bot already captured live, a
re-import) and every table they write must come out the same, chain ids aside
(random UUIDs, compared by the message each chain is rooted at).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import make_message
from superbrain_core.models import (
    BotResponseIn,
    FileDescriptor,
    FileStatus,
    ImportedFile,
    ImportedMessage,
)
from superbrain_core.storage.base import CaptureOptions
from superbrain_core.storage.sqlite import importing
from superbrain_core.storage.sqlite.chains import join_chain, update_chain_member
from superbrain_core.storage.sqlite.store import SqliteStore
from superbrain_core.telegram import normalize_message

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
GROUP = {"id": -1001500000077, "title": "Семья", "type": "supergroup"}
USER = {"id": 4000001, "is_bot": False, "first_name": "Аня"}
WORDS = ["купить", "молоко", "встреча", "завтра", "отчёт", "проект", "маме", "позвонить"]


def per_message_import(
    conn: sqlite3.Connection,
    items: Sequence[ImportedMessage],
    opts: CaptureOptions,
    now: str,
) -> list[int | None]:
    """The import as it was before batching: one message after the other."""
    ids: list[int | None] = []
    for item in items:
        msg = item.message
        stored = conn.execute(
            "SELECT 1 FROM raw_messages WHERE chat_id = ? AND message_id = ? LIMIT 1",
            (msg.chat_id, msg.message_id),
        ).fetchone()
        if stored is not None:
            ids.append(None)
            continue
        chain_id = join_chain(conn, msg, None, now)
        cur = conn.execute(
            importing._INSERT_MESSAGE, importing._message_row(msg, chain_id, opts, now)
        )
        if chain_id is not None:
            update_chain_member(conn, chain_id, msg, now)
        for imported in item.files:
            conn.execute(importing._INSERT_FILE, importing._file_row(msg, imported, now))
        ids.append(int(cur.lastrowid or 0))
    return ids


def _message(rng: random.Random, chat: dict[str, Any], n: int, count: int) -> dict[str, Any]:
    date = T0 + timedelta(minutes=n)
    fields: dict[str, Any] = {}
    kind = rng.random()
    if kind < 0.08:
        fields["new_chat_title"] = f"Название {n}"  # a service message, no text
        text = None
    else:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
    if kind > 0.45:  # a reply, to an earlier or a later message (or to the bot's)
        target = rng.randint(1, count + 3)
        if target != n:
            fields["reply_to"] = make_message(target, text="?", date=T0, chat=chat)
    if rng.random() < 0.1:
        fields["edit_date"] = int((date + timedelta(minutes=5)).timestamp())
    sender = USER if rng.random() < 0.5 else None
    return make_message(n, text=text, date=date, chat=chat, **({"sender": sender} | fields))


def _files(rng: random.Random, n: int) -> tuple[ImportedFile, ...]:
    if rng.random() > 0.15:
        return ()
    found = [
        ImportedFile(
            FileDescriptor("document", None, None, f"file_{n}_{k}.txt", "text/plain", 10 + k),
            FileStatus.STORED,
            file_hash=f"{k:064x}",  # many messages share one blob
            file_path=f"ab/{k:064x}",
        )
        for k in range(rng.randint(1, 2))
    ]
    if rng.random() < 0.3:
        desc = FileDescriptor("photo", None, None, None)
        found.append(ImportedFile(desc, FileStatus.MISSING, "not in the export"))
    return tuple(found)


def _scenario(seed: int) -> tuple[list[list[ImportedMessage]], list[dict[str, Any]]]:
    """Import batches (shuffled, with repeats) and the live updates captured before them."""
    rng = random.Random(seed)
    count = 60
    items: list[ImportedMessage] = []
    for chat in ({"id": USER["id"], "type": "private", "first_name": "Аня"}, GROUP):
        for n in range(1, count + 1):
            msg = normalize_message(_message(rng, chat, n, count))
            items.append(ImportedMessage(msg, _files(rng, n)))
    rng.shuffle(items)
    items += rng.sample(items, 15)  # repeats: the first one counts
    rng.shuffle(items)
    live = [
        {"update_id": 1000 + n, "message": _message(rng, GROUP, n, count)}
        for n in rng.sample(range(1, count + 8), 12)
    ]
    batches: list[list[ImportedMessage]] = []
    while items:
        size = rng.choice([1, 3, 17, 40, 200])
        batches.append(items[:size])
        items = items[size:]
    return batches, live


async def _run(
    path: Path,
    batches: list[list[ImportedMessage]],
    live: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    *,
    per_message: bool,
) -> dict[str, list[tuple[Any, ...]]]:
    with monkeypatch.context() as patch:
        if per_message:
            patch.setattr(importing, "import_batch", per_message_import)
        patch.setattr("superbrain_core.storage.sqlite.store._now", lambda: T0)
        async with SqliteStore(str(path)) as store:
            opts = CaptureOptions(source="desktop_export")
            for response in (
                BotResponseIn(GROUP["id"], 61, "Записал", related_user_message_id=5, created_at=T0),
                BotResponseIn(
                    GROUP["id"], 62, "Это задача?", related_user_message_id=None, created_at=T0
                ),
            ):
                await store.record_bot_response(response)
            capturer = Capturer(store)
            for update in live:
                await capturer.capture(update)
            new: list[int | None] = []
            for batch in batches:
                new += (await store.import_messages(batch, opts)).raw_message_ids
            for batch in batches:  # a re-import adds nothing
                again = await store.import_messages(batch, opts)
                assert set(again.raw_message_ids) == {None}
            await store.refresh_search_index()
    dump = _dump(path)
    dump["import_ids"] = [(i,) for i in new]
    return dump


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    roots = {
        chain_id: f"chain rooted at {chat}:{root}"
        for chain_id, chat, root in conn.execute(
            "SELECT chain_id, chat_id, original_message_id FROM message_chains"
        )
    }

    def rows(sql: str) -> list[tuple[Any, ...]]:
        cur = conn.execute(sql)
        names = [d[0] for d in cur.description]
        return [
            tuple(
                roots.get(v, v) if name == "chain_id" else v
                for name, v in zip(names, r, strict=True)
            )
            for r in cur
        ]

    found = {
        table: rows(f"SELECT * FROM {table} ORDER BY {order}")
        for table, order in (
            ("raw_messages", "id"),
            ("raw_files", "id"),
            ("message_chains", "chat_id, original_message_id"),
            ("bot_responses", "id"),
            ("search_docs", "id"),
            ("search_pending", "chat_id, message_id"),
        )
    }
    found["search_fts"] = rows("SELECT rowid, body, files FROM search_fts ORDER BY rowid")
    conn.close()
    return found


@pytest.mark.parametrize("seed", range(12))
async def test_the_batched_import_stores_the_rows_the_per_message_import_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    batches, live = _scenario(seed)
    expected = await _run(tmp_path / "a.db", batches, live, monkeypatch, per_message=True)
    got = await _run(tmp_path / "b.db", batches, live, monkeypatch, per_message=False)
    assert expected["message_chains"], "the scenario has chains"
    assert any(r[0] for r in expected["raw_files"]), "the scenario has files"
    for table, rows in expected.items():
        assert got[table] == rows, table


async def test_a_reply_before_its_parent_in_one_batch_links_like_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root 1 arrives after its reply 2 and the reply to the reply, 3; 1 is itself a reply
    to 0, which comes last: one chain rooted at 0, replies in Telegram's order."""
    chat = {"id": USER["id"], "type": "private", "first_name": "Аня"}

    def msg(n: int, reply_to: int | None) -> ImportedMessage:
        fields = {"reply_to": make_message(reply_to, chat=chat)} if reply_to is not None else {}
        raw = make_message(n, text=f"m{n}", date=T0 + timedelta(minutes=n), chat=chat, **fields)
        return ImportedMessage(normalize_message(raw))

    batch = [msg(2, 1), msg(3, 2), msg(1, 0), msg(0, None)]
    got = await _run(tmp_path / "b.db", [batch], [], monkeypatch, per_message=False)
    expected = await _run(tmp_path / "a.db", [batch], [], monkeypatch, per_message=True)
    assert got == expected
    chains = got["message_chains"]
    assert len(chains) == 1
    assert {r[0] for r in _chain_ids(tmp_path / "b.db")} == {f"chain rooted at {chat['id']}:0"}


def _chain_ids(path: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(path)
    roots = dict(
        (c, f"chain rooted at {chat}:{root}")
        for c, chat, root in conn.execute(
            "SELECT chain_id, chat_id, original_message_id FROM message_chains"
        )
    )
    found = [(roots[c],) for (c,) in conn.execute("SELECT chain_id FROM raw_messages")]
    conn.close()
    return found
