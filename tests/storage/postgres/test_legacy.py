"""Upgrading the original Supabase tables in place: every seed row kept, readable, and
the store working on top of them (tests/storage/postgres/legacy_schema.sql)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import BOT_USER, make_message
from superbrain_core.models import BotResponseIn, CaptureOutcome, FileStatus
from superbrain_core.storage.postgres import migrations
from superbrain_core.storage.postgres.store import PostgresStore
from tests.storage.postgres import pgutil
from tests.storage.postgres.test_migrations import run_files_directly, schema_snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

SEED_COLUMNS = {
    "raw_messages": "id, user_id, message_id, message_text, message_type, reply_to_message_id,"
    " reply_to_text, is_clarification, raw_telegram_json, is_processed, processed_at, created_at",
    "raw_files": "id, user_id, message_id, file_type, file_name, file_path, file_size, file_hash,"
    " raw_metadata, is_processed, processed_at, uploaded_at",
    "bot_responses": "id, user_id, message_id, response_text, response_type,"
    " related_user_message_id, ai_analysis, chain_id, created_at",
    "message_chains": "chain_id, user_id, original_message_id, original_text, replies,"
    " created_at, updated_at",
}
OWNER = 111
ROOT_CHAIN = "11111111-1111-4111-8111-111111111111"
DUP_CHAIN = "22222222-2222-4222-8222-222222222222"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def seed_rows(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT {cols} FROM {table} ORDER BY 1".encode()).fetchall()
            for table, cols in SEED_COLUMNS.items()
        }


@pytest.fixture
def upgraded(legacy_dsn: str) -> tuple[str, dict[str, list[tuple[Any, ...]]]]:
    before = seed_rows(legacy_dsn)
    pgutil.cli_migrate_twice(legacy_dsn)
    return legacy_dsn, before


def test_every_seed_row_and_value_is_kept(
    upgraded: tuple[str, dict[str, list[tuple[Any, ...]]]],
) -> None:
    dsn, before = upgraded
    assert seed_rows(dsn) == before
    assert [len(before[t]) for t in SEED_COLUMNS] == [9, 3, 3, 2]


def test_new_columns_are_backfilled_as_documented(
    upgraded: tuple[str, dict[str, list[tuple[Any, ...]]]],
) -> None:
    dsn, _ = upgraded
    with psycopg.connect(dsn) as conn:
        messages = conn.execute(
            "SELECT id, chat_id, message_id, version, content_hash, source, message_date,"
            " edit_date, chain_id::text, sender_is_bot FROM raw_messages ORDER BY id"
        ).fetchall()
        chains = conn.execute(
            "SELECT chain_id::text, chat_id, duplicate_of::text FROM message_chains ORDER BY 1"
        ).fetchall()
        responses = conn.execute(
            "SELECT id, chat_id, is_edit FROM bot_responses ORDER BY id"
        ).fetchall()
        files = conn.execute(
            "SELECT id, chat_id, file_id, file_unique_id, file_key, status FROM raw_files"
            " ORDER BY id"
        ).fetchall()
    by_id = {row[0]: row for row in messages}
    assert all(row[5] == "legacy" for row in messages)
    # chat from the JSON (private chat and group alike), else the user
    assert [by_id[i][1] for i in range(1, 10)] == [111] * 6 + [-100500, 111, 111]
    # seed duplicates and stored edits become versions, without colliding
    assert [(by_id[i][3], by_id[i][4]) for i in (3, 4)] == [(1, ""), (2, "legacy:4")]
    assert (by_id[6][3], by_id[6][7]) == (2, datetime.fromtimestamp(1700000300, UTC))
    # dates from the JSON (an Update wrapping the message too), else created_at
    assert by_id[5][6] == datetime.fromtimestamp(1700000180, UTC)
    assert by_id[8][6] == datetime(2023, 11, 14, 22, 21, tzinfo=UTC)
    # messages learn their chain from the seed chains' roots and reply lists
    assert by_id[1][8] == ROOT_CHAIN and by_id[2][8] == ROOT_CHAIN
    assert by_id[7][8] is None, "message 10 of the group is another message"
    assert chains == [(ROOT_CHAIN, 111, None), (DUP_CHAIN, 111, ROOT_CHAIN)]
    assert responses == [(1, 111, False), (2, 111, True), (3, 111, False)]
    assert files == [
        (1, 111, "PH-15", "U-15", "U-15", "pending"),
        (2, 111, "PH-15", "U-15", "legacy:2", "pending"),
        (3, 111, None, None, "document", "missing"),
    ]


def test_the_upgraded_schema_is_the_fresh_schema(
    upgraded: tuple[str, dict[str, list[tuple[Any, ...]]]], migrated_dsn: str
) -> None:
    """Same tables, columns (type, nullability), unique keys, RLS, policies and functions;
    only the seed's own index definitions and id defaults (bigserial) may differ."""
    dsn, _ = upgraded
    legacy, fresh = schema_snapshot(dsn), schema_snapshot(migrated_dsn)

    def columns(snap: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [row[:4] for row in snap["columns"]]

    assert columns(legacy) == columns(fresh)

    def uniques(snap: dict[str, Any]) -> set[str]:
        return {name for name, definition in snap["indexes"] if "UNIQUE" in definition}

    assert uniques(legacy) == uniques(fresh)

    def index_names(snap: dict[str, Any]) -> set[str]:
        return {name for name, _ in snap["indexes"]}

    assert index_names(legacy) == index_names(fresh)
    for key in ("rls", "policies", "functions"):
        assert legacy[key] == fresh[key], key


def test_rerunning_the_files_on_the_upgraded_database_changes_nothing(
    upgraded: tuple[str, dict[str, list[tuple[Any, ...]]]],
) -> None:
    dsn, before = upgraded
    schema = schema_snapshot(dsn)
    run_files_directly(dsn)
    assert schema_snapshot(dsn) == schema
    assert seed_rows(dsn) == before


async def test_seed_rows_read_through_the_store(
    upgraded: tuple[str, dict[str, list[tuple[Any, ...]]]],
) -> None:
    dsn, _ = upgraded
    async with PostgresStore(dsn) as store:
        root = await store.get_message(OWNER, 10)
        assert root is not None and root.message_text == "Купить молоко"
        assert root.raw_telegram_json["text"] == "Купить молоко" and root.is_processed
        assert [v.message_text for v in await store.message_versions(OWNER, 13)] == [
            "встреча в 10",
            "встреча в 11",
        ]
        assert (await store.get_message(-100500, 10)).message_text == "в группе"  # type: ignore[union-attr]
        bare = await store.get_message(OWNER, 14)
        assert bare is not None and bare.raw_telegram_json == {}

        chain = await store.chain_of(OWNER, 11)
        assert chain is not None and chain.chain_id == ROOT_CHAIN
        assert chain.original_message_id == 10
        (reply,) = chain.replies
        assert (reply.message_id, reply.text) == (11, "и хлеб")
        assert reply.date == datetime(2023, 11, 14, 22, 14, 20, tzinfo=UTC)
        assert (await store.get_chain(DUP_CHAIN)) is not None, "the duplicate is kept"

        responses = await store.bot_responses(OWNER)
        assert [(r.id, r.is_edit, r.chain_id) for r in responses] == [
            (1, False, ROOT_CHAIN),
            (2, True, ROOT_CHAIN),
            (3, False, None),
        ]
        assert responses[0].ai_analysis == {"type": "task"}
        assert responses[2].response_type == "text", "a NULL seed type reads as the default"

        files = await store.files_of_message(OWNER, 15)
        assert [f.status for f in files] == [FileStatus.PENDING, FileStatus.PENDING]
        assert files[0].raw_metadata["file_unique_id"] == "U-15"
        (missing,) = await store.list_files(status=FileStatus.MISSING)
        assert missing.file_name == "отчёт.pdf" and missing.download_reason
        stats = await store.stats()
        assert stats.tables["raw_messages"] == 9 and stats.tables["raw_updates"] == 0


async def test_capture_joins_seed_chains_and_recognizes_seed_messages(
    upgraded: tuple[str, dict[str, list[tuple[Any, ...]]]],
) -> None:
    dsn, _ = upgraded
    async with PostgresStore(dsn) as store:
        capturer = Capturer(store)
        seed_root = make_message(
            10, text="Купить молоко", date=datetime.fromtimestamp(1700000000, UTC)
        )
        seed_reply = make_message(11, text="и хлеб", reply_to=seed_root)
        seed_reply["chat"] = dict(seed_reply["chat"], id=OWNER)
        seed_root["chat"] = dict(seed_root["chat"], id=OWNER)

        # A re-import of a seed original is recognized as the same version.
        again = await capturer.capture({"update_id": 1, "message": seed_root})
        assert again.outcome is CaptureOutcome.DUPLICATE and again.version == 1

        # A reply to a seed reply joins the seed chain.
        deeper = make_message(20, text="и масло", date=T0, reply_to=seed_reply)
        deeper["chat"] = dict(deeper["chat"], id=OWNER)
        result = await capturer.capture({"update_id": 2, "message": deeper})
        assert result.outcome is CaptureOutcome.NEW and result.chain_id == ROOT_CHAIN

        # A reply to the seed bot message resolves through related_user_message_id.
        question = make_message(500, text="Это задача?", sender=BOT_USER)
        question["chat"] = dict(question["chat"], id=OWNER)
        answer = make_message(21, text="да", date=T0, reply_to=question)
        answer["chat"] = dict(answer["chat"], id=OWNER)
        result = await capturer.capture({"update_id": 3, "message": answer})
        assert result.chain_id == ROOT_CHAIN

        chain = await store.chain_of(OWNER, 21)
        assert chain is not None
        assert [r.message_id for r in chain.replies] == [11, 20, 21]

        # New rows continue the seed ids; a new send of a seed message is the seed row.
        fresh = await capturer.capture(
            {
                "update_id": 4,
                "message": dict(
                    make_message(30, text="новое", date=T0), chat={"id": OWNER, "type": "private"}
                ),
            }
        )
        assert fresh.outcome is CaptureOutcome.NEW and (fresh.raw_message_id or 0) > 9
        same = await store.record_bot_response(
            BotResponseIn(chat_id=OWNER, message_id=500, response_text="Это задача?")
        )
        assert same.id == 1
        later = await store.record_bot_response(
            BotResponseIn(
                chat_id=OWNER, message_id=501, response_text="ок", related_user_message_id=21
            )
        )
        assert later.chain_id == ROOT_CHAIN and later.id > 3


def test_the_seed_schema_alone_is_behind_and_the_store_refuses_it(legacy_dsn: str) -> None:
    async def open_it() -> None:
        async with PostgresStore(legacy_dsn):
            pass

    from superbrain_core.errors import StorageError

    with pytest.raises(
        StorageError, match="database schema is behind: run `superbrain db migrate`"
    ):
        anyio.run(open_it)
    report = anyio.run(migrations.migration_status, legacy_dsn)
    assert len(report.pending) == len(migrations.bundled_migrations())
