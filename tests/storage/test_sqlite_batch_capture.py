"""The set-wise batch capture on SQLite stores exactly what the per-row path stores.

:func:`~superbrain_core.storage.sqlite.batch_capture.capture_batch` writes
plainly new updates with one ``executemany`` per table and leaves the rest to
:func:`~superbrain_core.storage.sqlite.capture.capture_one`. The same input
(duplicates inside a batch and across batches, conflicting update ids, edits out
of order, replies before their parents, bot replies, business messages, files,
updates without a message, messages that cannot be keyed) goes through both into
two databases; every table and every result must come out the same (chain ids
are random, so they are compared by the order they first appear in).
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from superbrain_core.demo.samples import OWNER_ID, bot_message, fake_file, make_message
from superbrain_core.models import BotResponseIn, CaptureResult, NormalizedUpdate
from superbrain_core.storage.base import CaptureOptions
from superbrain_core.storage.sqlite import batch_capture
from superbrain_core.storage.sqlite.batch_capture import capture_batch
from superbrain_core.storage.sqlite.capture import capture_one, insert_bot_response
from superbrain_core.storage.sqlite.connection import connect
from superbrain_core.telegram import normalize_update

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NOW = "2026-11-24T12:00:00.000000+00:00"
OPTS = CaptureOptions(bot_id=7, source="test", max_download_bytes=2000)
CUSTOMER = {"id": 777000111, "type": "private", "first_name": "Клиент"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Capture = Callable[[sqlite3.Connection, Sequence[NormalizedUpdate]], list[CaptureResult]]


def per_row(conn: sqlite3.Connection, updates: Sequence[NormalizedUpdate]) -> list[CaptureResult]:
    return [capture_one(conn, u, OPTS, NOW) for u in updates]


def set_wise(conn: sqlite3.Connection, updates: Sequence[NormalizedUpdate]) -> list[CaptureResult]:
    return capture_batch(conn, updates, OPTS, NOW)


def msg(n: int, minute: int, text: str, **fields: Any) -> dict[str, Any]:
    return make_message(n, text=text, date=T0 + timedelta(minutes=minute), **fields)


def edited(body: dict[str, Any], text: str, seconds: int) -> dict[str, Any]:
    return dict(body, text=text, edit_date=int((T0 + timedelta(seconds=seconds)).timestamp()))


def business(connection: str, n: int, text: str) -> dict[str, Any]:
    sender = {"id": CUSTOMER["id"], "is_bot": False, "first_name": "Клиент"}
    body = make_message(n, text=text, date=T0, chat=CUSTOMER, sender=sender)
    body["business_connection_id"] = connection
    return body


def mixed_batches() -> list[list[dict[str, Any]]]:
    """Batches of updates exercising every way an update can leave the plain path."""
    m = {n: msg(n, n, f"сообщение {n}") for n in range(1, 40)}
    m[5] = msg(5, 5, "фото", photo=[fake_file("photo", "p5", 1000, width=90, height=90)])
    m[6] = msg(6, 6, None, document=fake_file("document", "d6", 5000, file_name="a.pdf"))
    m[6].pop("text", None)
    # Two files whose keys differ only in lone surrogates: one stored key, one row.
    m[7] = msg(
        7,
        7,
        "два файла",
        animation=fake_file("animation", "a7", 10, file_unique_id="\ud800a"),
        document=fake_file("document", "a7", 10, file_unique_id="\udc00a"),
    )
    reply = {n: msg(n, n, f"ответ {n}", reply_to=m[n - 1]) for n in (12, 13, 22, 31)}
    to_bot = msg(40, 40, "спасибо", reply_to=bot_message(900, "Записал", T0))
    first = [
        {"update_id": 1, "message": m[1]},
        {"update_id": 2, "message": m[2]},
        {"update_id": 2, "message": m[2]},  # redelivered in the same batch
        {"update_id": 3, "message": m[3]},
        {"update_id": 3, "message": m[4]},  # another update under a stored id: a conflict
        {"update_id": 5, "message": m[5]},
        {"update_id": 6, "message": m[6]},
        {"update_id": 4, "message": m[7]},
        {"update_id": 7, "callback_query": {"id": "q", "data": "x"}},
        {"update_id": 8, "message": "not an object"},
        {"update_id": 9, "message": {"message_id": 2**70, "chat": {"id": 1}, "date": 0}},
        {"update_id": 13, "message": reply[13]},  # a reply to 12, which is not there yet
        {"update_id": 12, "message": reply[12]},  # 12 replies to 11: chains merge later
        {"update_id": 10, "message": m[10]},
        {"update_id": 11, "message": m[11]},  # a root that turns out to be a reply's target
        {"update_id": 14, "edited_message": edited(m[1], "правка 2", 120)},
        {"update_id": 15, "edited_message": edited(m[1], "правка 1", 60)},  # older, late
        {"update_id": 16, "edited_message": edited(m[20], "правка без оригинала", 30)},
        {"update_id": 17, "business_message": business("conn-a", 5, "торт")},
        {"update_id": 18, "business_message": business("conn-b", 5, "букет")},
        {"update_id": 19, "message": to_bot},
        *({"update_id": 100 + n, "message": m[n]} for n in range(23, 30)),
    ]
    second = [
        {"update_id": 1, "message": m[1]},  # a duplicate of an earlier batch
        {"update_id": 20, "message": m[20]},  # the original after its edit
        {"update_id": 21, "edited_message": edited(m[23], "позже", 90)},
        {"update_id": 22, "message": reply[22]},  # 21 is not there yet
        {"update_id": 23, "message": m[21]},
        {"update_id": 24, "message": m[30]},
        {"update_id": 25, "message": reply[31]},
        {"update_id": 26, "edited_message": edited(m[1], "правка 2", 120)},  # same edit again
        {"update_id": 27, "message": m[2]},  # the same message under a new update id
        {"update_id": 28, "business_message": business("conn-a", 6, "ещё торт")},
        *({"update_id": 200 + n, "message": m[n]} for n in range(32, 40)),
        {"update_id": 5, "message": dict(m[5], text="другое")},  # a conflict across batches
    ]
    return [first, second]


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    tables = [
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE 'search_fts%' ORDER BY name"
        )
    ]
    return {
        t: [tuple(row) for row in conn.execute(f"SELECT * FROM {t} ORDER BY rowid")]
        for t in tables
        if t != "search_pending"
    } | {"search_pending": [tuple(r) for r in conn.execute("SELECT * FROM search_pending")]}


def canonical(value: Any) -> str:
    """``value`` as text with chain ids numbered by first appearance."""
    names: dict[str, str] = {}
    return _UUID.sub(lambda m: names.setdefault(m.group(0), f"chain-{len(names)}"), repr(value))


def run(path: Path, capture: Capture, batches: list[list[dict[str, Any]]]) -> str:
    conn = connect(str(path), "NORMAL")
    results: list[CaptureResult] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        insert_bot_response(
            conn,
            BotResponseIn(
                chat_id=OWNER_ID,
                message_id=900,
                response_text="Записал",
                related_user_message_id=39,
                created_at=T0,
            ),
        )
        conn.execute("COMMIT")
        for batch in batches:
            conn.execute("BEGIN IMMEDIATE")
            results += capture(conn, [normalize_update(u) for u in batch])
            conn.execute("COMMIT")
        return canonical((results, dump(conn)))
    finally:
        conn.close()


def test_the_mixed_input_gives_the_same_rows_either_way(tmp_path: Path) -> None:
    batches = mixed_batches()
    expected = run(tmp_path / "per_row.db", per_row, batches)
    got = run(tmp_path / "set_wise.db", set_wise, batches)
    assert got == expected
    assert "CONFLICT" in got and "DUPLICATE" in got and "EDIT" in got  # the input is mixed


def test_plain_updates_take_the_set_wise_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The equality above must not hold merely because everything went per row."""
    calls: list[int] = []
    real = batch_capture.capture_message

    def counting(*args: Any) -> CaptureResult:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(batch_capture, "capture_message", counting)
    run(tmp_path / "set_wise.db", set_wise, mixed_batches())
    total = sum(len(b) for b in mixed_batches())
    assert 0 < len(calls) < total / 2


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_random_traffic_in_random_batches_gives_the_same_rows(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    sent: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for i in range(400):
        roll = rng.random()
        if roll < 0.1 and sent:
            original = rng.choice(sent)
            body = edited(
                original, original.get("text", "") + " (испр.)", i * 7 + rng.randint(0, 9)
            )
            updates.append({"update_id": i, "edited_message": body})
            continue
        fields: dict[str, Any] = {}
        if roll < 0.3 and sent:
            fields["reply_to"] = rng.choice(sent[-30:])
        if roll > 0.85:
            fields["photo"] = [fake_file("photo", f"p{i % 50}", 100 + i, width=9, height=9)]
        body = msg(len(sent) + 1, i, f"текст {i % 17}", **fields)
        sent.append({k: v for k, v in body.items() if k != "reply_to_message"})
        updates.append({"update_id": i, "message": body})
    # Arrival is shuffled locally, with redeliveries (some under another update id).
    arrived = list(updates)
    for _ in range(60):
        a = rng.randrange(len(arrived))
        b = min(len(arrived) - 1, a + rng.randint(1, 40))
        arrived[a], arrived[b] = arrived[b], arrived[a]
    for _ in range(40):
        again = dict(rng.choice(updates))
        if rng.random() < 0.5:
            again["update_id"] = 10_000 + rng.randrange(1000)
        arrived.insert(rng.randrange(len(arrived)), again)
    batches = []
    while arrived:
        size = rng.choice([1, 3, 8, 50, 200])
        batches.append(arrived[:size])
        arrived = arrived[size:]
    expected = run(tmp_path / "per_row.db", per_row, batches)
    assert run(tmp_path / "set_wise.db", set_wise, batches) == expected
