"""PostgresStore on the real server, beyond the shared conformance suite: NUL and other
unstorable text end to end, opening rules, configuration errors, error translation
and retries."""

from __future__ import annotations

import builtins
import sys
from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import BOT_USER, OWNER_ID, fake_file, make_message, make_update
from superbrain_core.errors import ConfigError, StorageError, TransientStorageError
from superbrain_core.models import BotResponseIn, CaptureOutcome, FileStatus, NormalizedUpdate
from superbrain_core.storage import open_store
from superbrain_core.storage.pgsql.codec import ESCAPE_MARK
from superbrain_core.storage.postgres.store import PostgresStore
from superbrain_core.telegram import normalize_update

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]
T0 = datetime(2026, 11, 24, 20, 59, 30, tzinfo=UTC)
NASTY = "нуль\x00байт, пара \ud83d без пары, " + ESCAPE_MARK + "не escape \\0"


async def test_nul_and_lone_surrogates_are_captured_end_to_end(migrated_dsn: str) -> None:
    document = fake_file("document", "nul", 10, file_name="отчёт\x00.pdf")
    payload = make_update(1, message_id=1, text=NASTY, date=T0, document=document)
    payload["message"]["caption"] = NASTY
    payload["message"][NASTY] = {NASTY: [NASTY, "\x00"]}  # keys too
    payload["message"]["entities"] = [{"type": "text_link", "offset": 0, "length": 1, "url": NASTY}]
    async with PostgresStore(migrated_dsn) as store:
        result = await Capturer(store).capture(payload)
        assert result.outcome is CaptureOutcome.NEW
        raw = await store.get_update(1)
        assert raw is not None and raw.payload == payload
        msg = await store.get_message(OWNER_ID, 1)
        assert msg is not None and msg.raw_telegram_json == payload["message"]
        assert msg.entities == payload["message"]["entities"]
        assert msg.message_text == NASTY.replace("\x00", "").replace("\ud83d", "\ufffd")
        (file,) = await store.files_of_message(OWNER_ID, 1)
        assert file.file_name == "отчёт.pdf" and file.raw_metadata == document

        sent = await store.record_bot_response(
            BotResponseIn(
                chat_id=OWNER_ID,
                message_id=2,
                response_text=NASTY,
                request={"text": NASTY},
                result={"text": NASTY, NASTY: 1},
                ai_analysis={"why": "\x00"},
                error="bad\x00",
            )
        )
        assert sent.request == {"text": NASTY} and sent.result == {"text": NASTY, NASTY: 1}
        assert sent.ai_analysis == {"why": "\x00"} and sent.error == "bad"
        (again,) = await store.bot_responses(OWNER_ID)
        assert again == sent

        # A reply quoting it builds a chain whose texts are clean too.
        reply = make_message(3, text="ответ\x00", date=T0, reply_to=payload["message"])
        await Capturer(store).capture({"update_id": 3, "message": reply})
        chain = await store.chain_of(OWNER_ID, 3)
        assert chain is not None and chain.replies[0].text == "ответ"
        assert chain.original_text == msg.message_text

    # What psql shows: the escape mark, never a NUL (which Postgres would refuse anyway).
    with psycopg.connect(migrated_dsn) as conn:
        row = conn.execute("SELECT payload::text FROM raw_updates WHERE update_id = 1").fetchone()
    assert row is not None and ESCAPE_MARK in row[0]


async def test_open_refuses_an_unmigrated_database_and_migrate_true_fixes_it(
    empty_dsn: str,
) -> None:
    with pytest.raises(
        StorageError, match=r"database schema is behind: run `superbrain db migrate`"
    ):
        async with PostgresStore(empty_dsn):
            pass
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT to_regclass('public.raw_updates')").fetchone() == (None,), (
            "opening must not have migrated"
        )
    async with PostgresStore(empty_dsn, migrate=True) as store:
        await store.ping()
        assert (await store.stats()).tables["raw_updates"] == 0


async def test_open_store_picks_postgres_for_both_schemes(migrated_dsn: str) -> None:
    for url in (migrated_dsn, migrated_dsn.replace("postgresql://", "postgres://", 1)):
        store = open_store(url)
        assert isinstance(store, PostgresStore) and store.backend == "postgres"
        async with store:
            await store.ping()


def test_a_malformed_url_is_a_config_error_that_hides_the_password() -> None:
    for url in (
        "postgresql://me:hunter2@host:notaport/db",
        "postgresql://me:hunter2@host/db?no_such_option=1",
    ):
        with pytest.raises(ConfigError) as caught:
            open_store(url)
        assert caught.value.variable == "SUPERBRAIN_DB"
        assert "hunter2" not in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_without_psycopg_the_url_asks_for_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_psycopg(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "psycopg" or name.startswith(("psycopg.", "psycopg_pool")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "superbrain_core.storage.postgres.store", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(ConfigError, match=r"superbrain-core\[postgres\]") as caught:
        open_store("postgresql://u@localhost/db")
    assert caught.value.variable == "SUPERBRAIN_DB"


async def test_an_unreachable_server_is_transient_and_says_why() -> None:
    store = PostgresStore("postgresql://nobody:secret@127.0.0.1:1/none", connect_timeout=2)
    with pytest.raises(TransientStorageError, match="cannot connect") as caught:
        await store.open()
    assert "secret" not in str(caught.value)
    with pytest.raises(StorageError, match="not open"):
        await store.ping()


async def test_a_lost_connection_is_retried(migrated_dsn: str) -> None:
    """Kill the server side of every pooled connection: the next calls reconnect."""
    async with PostgresStore(migrated_dsn, min_connections=2, max_connections=2) as store:
        capturer = Capturer(store)
        await capturer.capture(make_update(1, message_id=1, text="до", date=T0))
        with psycopg.connect(migrated_dsn, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND application_name = 'superbrain') t"
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        result = await capturer.capture(make_update(2, message_id=2, text="после", date=T0))
        assert result.outcome is CaptureOutcome.NEW
        assert (await store.stats()).tables["raw_updates"] == 2


async def test_transient_errors_give_up_after_the_bounded_attempts(migrated_dsn: str) -> None:
    """A statement timeout is transient; it is retried, then reported as such."""
    async with PostgresStore(migrated_dsn, statement_timeout=0.2, max_attempts=2) as store:

        async def slow(conn: Any) -> None:
            await conn.execute("SELECT pg_sleep(1)")

        with pytest.raises(TransientStorageError, match="after 2 attempts") as caught:
            await store._call("sleep", slow)
        assert isinstance(caught.value.__cause__, psycopg.errors.QueryCanceled)
        await store.ping()  # and the store is still usable


async def test_other_errors_are_storage_errors_at_once(migrated_dsn: str) -> None:
    async with PostgresStore(migrated_dsn) as store:
        with pytest.raises(StorageError, match="no raw_files row with id 12345") as caught:
            await store.set_file_status(12345, FileStatus.FAILED, reason="x")
        assert not isinstance(caught.value, TransientStorageError)
        assert isinstance(caught.value.__cause__, psycopg.errors.NoDataFound)
        assert await store.get_chain("not-a-uuid") is None


async def test_the_connections_say_who_they_are(migrated_dsn: str) -> None:
    async with PostgresStore(migrated_dsn, application_name="superbrain-test-bot") as store:
        await store.ping()
        with psycopg.connect(migrated_dsn) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'superbrain-test-bot'"
            ).fetchone()
        assert row is not None and row[0] >= 1


async def test_write_batch_runs_mixed_items_in_order_in_one_transaction(migrated_dsn: str) -> None:
    """What group commit sends: a reply to the bot's question in the same batch as the question."""
    async with PostgresStore(migrated_dsn) as store:
        question = make_message(11, text="Встреча или задача?", date=T0, sender=BOT_USER)
        items: list[NormalizedUpdate | BotResponseIn] = [
            normalize_update(make_update(1, message_id=10, text="Олег завтра", date=T0)),
            BotResponseIn(
                chat_id=OWNER_ID,
                message_id=11,
                response_text="Встреча или задача?",
                related_user_message_id=10,
            ),
            normalize_update(
                make_update(2, message_id=12, text="встреча", date=T0, reply_to=question)
            ),
        ]
        first, sent, reply = await store.write_batch(items)
        assert getattr(first, "outcome", None) is CaptureOutcome.NEW
        assert getattr(sent, "chain_id", "x") is None
        chain = await store.chain_of(OWNER_ID, 12)
        assert chain is not None and chain.original_message_id == 10
        assert getattr(reply, "chain_id", None) == chain.chain_id


async def test_close_is_idempotent_and_cancellation_safe(migrated_dsn: str) -> None:
    store = PostgresStore(migrated_dsn)
    with anyio.move_on_after(0.001):
        await store.open()
    await store.close()
    await store.close()
    async with PostgresStore(migrated_dsn) as again:
        await again.ping()
