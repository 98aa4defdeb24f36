"""The set-based path of ``superbrain_capture_many`` (sql/0010) leaves the rows the per-item
path leaves.

A batch of 16 items or more stores its plainly new items with a few set-based
statements (``superbrain_capture_new``) and the rest with the per-item steps
(``superbrain_capture_one``); a capture of one update always takes the per-item
way. So each test here writes the same updates twice, into two databases with the
same history: one by one, and as one batch, and compares every table, row by row,
after mapping what legitimately differs (generated ids, chain uuids, clock times)
to what they stand for.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import psycopg
import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import (
    BOT_USER,
    OWNER_ID,
    bot_message,
    fake_file,
    make_message,
)
from superbrain_core.models import BotResponseIn, CaptureOutcome
from superbrain_core.storage.base import CaptureOptions
from superbrain_core.storage.pgsql import codec
from superbrain_core.storage.postgres.migrations import migrate
from superbrain_core.storage.postgres.store import PostgresStore
from superbrain_core.telegram import normalize_update
from tests.storage.postgres import pgutil

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
GROUP = {"id": -1001234, "type": "supergroup", "title": "Команда"}
CUSTOMER = {"id": 777000111, "type": "private", "first_name": "Клиент"}

#: Every table capture writes, with the columns that say what a row is (generated
#: ids, chain uuids and clock times are mapped or left out: see ``snapshot``).
SNAPSHOT = {
    "raw_updates": """
        SELECT bot_id, update_id, update_type, payload::text, source
        FROM raw_updates ORDER BY bot_id, update_id""",
    "update_conflicts": """
        SELECT bot_id, update_id, update_type, stored_payload::text, payload::text,
               payload_hash, source
        FROM update_conflicts ORDER BY bot_id, update_id, payload_hash""",
    "business_connections": """
        SELECT id, business_connection_id FROM business_connections ORDER BY id""",
    "raw_messages": """
        SELECT m.chat_id, m.message_id, m.version, m.user_id, m.message_text, m.message_type,
               m.reply_to_message_id, m.reply_to_text, m.is_clarification,
               m.raw_telegram_json::text, m.message_date, m.edit_date, m.media_group_id,
               m.message_thread_id, c.chat_id AS chain_chat, c.original_message_id AS chain_root,
               m.sender_is_bot, m.entities::text, m.forward_origin::text, m.update_id,
               m.bot_id, m.update_type, m.source, m.content_hash, m.is_processed,
               m.processed_at
        FROM raw_messages m LEFT JOIN message_chains c ON c.chain_id = m.chain_id
        ORDER BY m.chat_id, m.message_id, m.version""",
    "raw_files": """
        SELECT chat_id, message_id, file_key, user_id, file_type, file_name, file_size,
               raw_metadata::text, file_id, file_unique_id, mime_type, status,
               download_reason, file_hash, file_path
        FROM raw_files ORDER BY chat_id, message_id, file_key""",
    "message_chains": """
        SELECT c.chat_id, c.original_message_id, c.user_id, c.original_text, c.replies::text,
               d.original_message_id AS duplicate_of_root
        FROM message_chains c LEFT JOIN message_chains d ON d.chain_id = c.duplicate_of
        ORDER BY c.chat_id, c.original_message_id""",
    "bot_responses": """
        SELECT b.chat_id, b.message_id, b.related_user_message_id,
               c.original_message_id AS chain_root
        FROM bot_responses b LEFT JOIN message_chains c ON c.chain_id = b.chain_id
        ORDER BY b.chat_id, b.message_id""",
    "message_search": """
        SELECT s.chat_id, s.message_id, s.version, s.body_tsv::text, s.files_tsv::text,
               m.version AS raw_version, s.bot_response_id IS NOT NULL AS from_bot
        FROM message_search s LEFT JOIN raw_messages m ON m.id = s.raw_message_id
        ORDER BY s.chat_id, s.message_id""",
}


def snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {table: conn.execute(query).fetchall() for table, query in SNAPSHOT.items()}


def update(update_id: int, message: dict[str, Any], kind: str = "message") -> dict[str, Any]:
    return {"update_id": update_id, kind: message}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def edited(message: dict[str, Any], text: str, minutes: int) -> dict[str, Any]:
    return dict(message, text=text, edit_date=int(at(minutes).timestamp()))


def business(message_id: int, connection: str, text: str, minutes: int) -> dict[str, Any]:
    sender = {"id": CUSTOMER["id"], "is_bot": False, "first_name": "Клиент"}
    message = make_message(message_id, text=text, date=at(minutes), chat=CUSTOMER, sender=sender)
    message["business_connection_id"] = connection
    return message


def history() -> tuple[list[dict[str, Any]], list[BotResponseIn]]:
    """What both databases hold before the batch: messages, a chain, the bot's answer."""
    m1 = make_message(1, text="Купить подарок маме", date=at(0))
    m2 = make_message(2, text="к субботе", date=at(1), reply_to=m1)
    m40 = make_message(40, text="корень, чей ответ пришёл первым", date=at(2))
    m41 = make_message(41, text="ответ раньше корня", date=at(3), reply_to=m40)
    updates = [update(1, m1), update(2, m2), update(3, m41)]
    answers = [
        BotResponseIn(
            chat_id=OWNER_ID,
            message_id=500,
            response_text="Это встреча или задача?",
            related_user_message_id=60,
        )
    ]
    return updates, answers


def mixed_batch() -> list[dict[str, Any]]:
    """Everything the per-item path handles, between plainly new messages."""
    m1 = make_message(1, text="Купить подарок маме", date=at(0))
    m10 = make_message(10, text="Завтра в 10 созвон", date=at(10))
    m11 = make_message(11, text="с командой", date=at(11), reply_to=m10)
    m20 = make_message(20, text="Идея: бот для заметок", date=at(20))
    m21 = make_message(21, text="ответ до родителя", date=at(21), reply_to=m20)
    m30 = make_message(30, text="Потратил 1 250 ₽ на обед", date=at(30))
    m31 = make_message(31, text="в кафе", date=at(31), reply_to=m30)
    m32 = make_message(32, text="с Олегом", date=at(32), reply_to=m31)
    m40 = make_message(40, text="корень, чей ответ пришёл первым", date=at(2))
    m60 = make_message(60, text="Встреча с Олегом в пятницу", date=at(60))
    m61 = make_message(
        61, text="встреча", date=at(61), reply_to=bot_message(500, "Это встреча?", at(60))
    )
    nul = make_message(70, text="нуль\x00байт \ud83d", date=at(70))
    nul["entities"] = [{"type": "bold", "offset": 0, "length": 4, "url": "\x00"}]
    photo = make_message(
        80,
        caption="фото доски",
        date=at(80),
        photo=[fake_file("photo", "p80a", 100, width=90), fake_file("photo", "p80b", 900)],
    )
    document = make_message(
        81,
        caption="отчёт",
        date=at(81),
        document=fake_file("document", "d81", 10, file_name="отчёт\x00 за ноябрь.pdf"),
    )
    group = make_message(90, text="в группе", date=at(90), chat=GROUP)
    items: list[dict[str, Any]] = []
    for n in range(100, 108):
        items.append(update(1000 + n, make_message(n, text=f"простое сообщение {n}", date=at(n))))
    items += [
        update(1, make_message(1, text="Купить подарок маме", date=at(0))),  # stored: duplicate
        update(2, make_message(2, text="другое содержание", date=at(1))),  # stored: conflict
        update(2001, edited(m1, "Купить подарок маме и папе", 12)),  # edit of a stored message
        update(2002, m21),  # a reply before its parent...
        update(2003, m20),  # ...and the parent
        update(2004, m10),
        update(2005, m11),  # a reply to a message earlier in the batch
        update(2005, m11),  # the same update twice in the batch
        update(2006, dict(m11, text="другое")),  # (another update) the same message again
        update(2006, dict(m11, text="третье")),  # a conflict inside the batch
        update(2007, edited(m30, "Потратил 1 300 ₽ на обед", 35), "edited_message"),
        update(2008, edited(m30, "Потратил 1 200 ₽ на обед", 33), "edited_message"),
        update(2009, m32),  # a reply to a reply not stored yet
        update(2010, m30),  # the original after its edits
        update(2011, m31),  # the middle: its chain merges into 30's
        update(2012, m40),  # the root whose reply is stored: joins that chain
        update(2013, m61),  # a reply to the bot, whose answer was about 60...
        update(2014, m60),  # ...which comes later in the batch
        update(2015, nul),
        update(2016, photo),
        update(2017, document),
        update(2018, group),
        update(2019, business(5, "conn-bakery", "Два торта к субботе", 40), "business_message"),
        update(2020, business(5, "conn-flowers", "Букет роз", 41), "business_message"),
        update(2021, business(6, "conn-bakery", "и свечи", 42), "business_message"),
        {"update_id": 2022, "callback_query": {"id": "cb1", "from": BOT_USER, "data": "x"}},
        update(2023, dict(photo, message_id=82, caption="то же фото в другом сообщении")),
        # An update id first on a reply, then on a plainly new message: a conflict.
        update(2024, make_message(120, text="ответ", date=at(120), reply_to=m10)),
        update(2024, make_message(121, text="другое сообщение", date=at(121))),
    ]
    for n in range(110, 118):
        items.append(update(1000 + n, make_message(n, text=f"ещё одно {n}", date=at(n))))
    return items


def random_batch(seed: int, size: int) -> list[dict[str, Any]]:
    """A seeded mix of new messages, replies (often to later ones), edits in any order,
    redeliveries, conflicts and files."""
    rng = random.Random(seed)
    messages: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for i in range(size):
        roll = rng.random()
        update_id = 10_000 + i
        if roll < 0.1 and items:
            items.append(rng.choice(items))  # a redelivery
            continue
        if roll < 0.15 and items:
            again = rng.choice(items)
            body = again.get("message") or again.get("edited_message") or {}
            items.append({"update_id": again["update_id"], "message": dict(body, text="иначе")})
            continue
        if roll < 0.3 and messages:
            original = rng.choice(messages)
            items.append(
                update(update_id, edited(original, f"правка {i}", 500 + rng.randrange(100)))
            )
            continue
        fields: dict[str, Any] = {}
        if roll < 0.55:
            # A reply to an earlier message, or to one that comes later.
            fields["reply_to"] = make_message(
                rng.randrange(1, size // 2 + 2), text="?", date=at(rng.randrange(100))
            )
        if roll > 0.85:
            fields["photo"] = [fake_file("photo", f"r{i % 7}", 10 + i)]
            fields["caption"] = f"фото {i}"
        else:
            fields["text"] = f"сообщение {i} \x00" if i % 13 == 0 else f"сообщение {i}"
        message = make_message(rng.randrange(1, size // 2 + 2), date=at(i), **fields)
        messages.append(message)
        items.append(update(update_id, message))
    return items


def chunks(items: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def prepare(dsn: str) -> None:
    await migrate(dsn)
    updates, answers = history()
    async with PostgresStore(dsn) as store:
        capturer = Capturer(store, CaptureOptions(source="test"))
        for payload in updates:
            await capturer.capture(payload)
        await store.record_bot_responses(answers)


async def one_by_one(dsn: str, items: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    async with PostgresStore(dsn) as store:
        capturer = Capturer(store, CaptureOptions(source="test"))
        return [shape(await capturer.capture(payload)) for payload in items]


def as_batch(dsn: str, items: Sequence[dict[str, Any]], batch: int) -> tuple[list[Any], int]:
    """The batch through ``superbrain_capture_many`` as the store sends it; the results
    and how many items took the per-item steps."""
    results: list[Any] = []
    per_item = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET track_functions = 'all'")
        for part in chunks(items, batch):
            updates = [normalize_update(p) for p in part]
            payload = codec.capture_items(updates, CaptureOptions(source="test"))
            with conn.transaction():
                before = per_item_calls(conn)
                (rows,) = conn.execute(
                    "SELECT superbrain_capture_many(%s::jsonb)", (payload,)
                ).fetchone() or ([],)
                per_item += per_item_calls(conn) - before
            results += [shape(r) for r in codec.capture_results(updates, rows)]
    return results, per_item


def per_item_calls(conn: psycopg.Connection[Any]) -> int:
    """Calls of superbrain_capture_one this backend counted and has not reported yet."""
    row = conn.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions"
        " WHERE funcname = 'superbrain_capture_one'"
    ).fetchone()
    return int(row[0]) if row else 0


def shape(result: Any) -> tuple[Any, ...]:
    return (
        result.update_id,
        result.outcome,
        result.version,
        result.raw_message_id is not None,
        result.chain_id is not None,
        len(result.file_row_ids),
    )


async def compare(items: Sequence[dict[str, Any]], batch: int) -> int:
    """Store ``items`` both ways; assert the same results and rows; how many items took
    the per-item steps in the batch."""
    with pgutil.database("bulk_a") as one_dsn, pgutil.database("bulk_b") as batch_dsn:
        await prepare(one_dsn)
        await prepare(batch_dsn)
        expected = await one_by_one(one_dsn, items)
        got, per_item = as_batch(batch_dsn, items, batch)
        assert got == expected
        want, have = snapshot(one_dsn), snapshot(batch_dsn)
        for table in SNAPSHOT:
            assert have[table] == want[table], table
        return per_item


async def test_a_mixed_batch_leaves_the_rows_of_one_by_one_capture(pg_server: None) -> None:
    items = mixed_batch()
    per_item = await compare(items, batch=len(items))
    # The plainly new ones (the 16 simple messages, the group's, the NUL one, the
    # files, the callback query, a few others) were stored set-based.
    assert 0 < per_item <= len(items) - 20


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_batches_leave_the_rows_of_one_by_one_capture(
    pg_server: None, seed: int
) -> None:
    items = random_batch(seed, 240)
    per_item = await compare(items, batch=60)
    assert per_item < len(items)


async def test_a_small_batch_takes_the_per_item_steps(migrated_dsn: str) -> None:
    items = mixed_batch()[:15]
    _, per_item = as_batch(migrated_dsn, items, batch=15)
    assert per_item == 15


async def test_a_batch_captured_again_adds_nothing(migrated_dsn: str) -> None:
    """Idempotency through the set-based path: the second time every item is a
    duplicate (or the conflict it was) and no table changes."""
    items = random_batch(4, 120)
    first, _ = as_batch(migrated_dsn, items, batch=120)
    before = snapshot(migrated_dsn)
    again, per_item = as_batch(migrated_dsn, items, batch=120)
    assert snapshot(migrated_dsn) == before
    assert per_item == len(items), "nothing is plainly new the second time"
    assert {r[1] for r in again} <= {CaptureOutcome.DUPLICATE, CaptureOutcome.CONFLICT}
    assert len(again) == len(first)


async def test_concurrent_batches_of_the_same_updates_store_each_once(migrated_dsn: str) -> None:
    """Two writers (an ingest and its replay, two replicas) send overlapping batches at
    once: the message locks make one wait, then see the other's rows."""
    items = [
        update(5000 + n, make_message(n, text=f"сообщение {n}", date=at(n))) for n in range(1, 201)
    ]
    halves = [items[:150], items[50:]]
    async with PostgresStore(migrated_dsn) as one, PostgresStore(migrated_dsn) as two:
        results: list[list[Any]] = [[], []]

        async def write(index: int, store: PostgresStore, part: list[dict[str, Any]]) -> None:
            updates = [normalize_update(p) for p in part]
            results[index] = await store.capture_many(updates, CaptureOptions(source="test"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(write, 0, one, halves[0])
            tg.start_soon(write, 1, two, halves[1])
    outcomes = Counter(r.outcome for part in results for r in part)
    assert outcomes == {CaptureOutcome.NEW: 200, CaptureOutcome.DUPLICATE: 100}
    with psycopg.connect(migrated_dsn) as conn:
        stored = conn.execute(
            "SELECT count(*), count(DISTINCT (chat_id, message_id)) FROM raw_messages"
        ).fetchone()
        searchable = conn.execute("SELECT count(*) FROM message_search").fetchone()
    assert stored == (200, 200) and searchable == (200,)
