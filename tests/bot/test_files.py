"""The file pipeline against a local HTTP server standing in for the Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from superbrain_core.bot.filepipe import BotApiFetcher, FilePipeline
from superbrain_core.botapi import BotApiClient
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_update
from superbrain_core.files import LocalFileStore
from superbrain_core.models import FileStatus
from superbrain_core.storage.base import CaptureOptions
from superbrain_core.storage.sqlite.store import SqliteStore
from superbrain_core.testing import BOT_TOKEN
from tests.bot.fake_telegram import FakeTelegram

pytestmark = pytest.mark.anyio


def doc(file_id: str, size: int, name: str = "file.bin") -> dict:  # type: ignore[type-arg]
    return {
        "file_id": file_id,
        "file_unique_id": "u" + file_id,
        "file_size": size,
        "file_name": name,
    }


@pytest.fixture
async def env(
    tmp_path: Path,
) -> AsyncIterator[tuple[SqliteStore, FakeTelegram, FilePipeline, Capturer]]:
    telegram = FakeTelegram()
    base = await telegram.start()
    api = BotApiClient(BOT_TOKEN, api_server=base)
    async with SqliteStore(tmp_path / "files.db") as store:
        pipeline = FilePipeline(
            store,
            LocalFileStore(tmp_path / "blobs"),
            BotApiFetcher(api),
            base_delay=0.01,
            max_attempts=4,
        )
        capturer = Capturer(store, CaptureOptions(max_download_bytes=1_000_000))
        yield store, telegram, pipeline, capturer
    await api.aclose()
    await telegram.close()


async def run_pipeline(pipeline: FilePipeline, ids: list[int]) -> None:
    import anyio

    async with anyio.create_task_group() as tg:
        tg.start_soon(pipeline.run)
        pipeline.submit(ids)
        with anyio.fail_after(10):
            await pipeline.wait_idle()
        tg.cancel_scope.cancel()


async def test_same_file_in_two_messages_is_downloaded_and_stored_once_per_hash(
    env, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store, telegram, pipeline, capturer = env
    telegram.files["A"] = b"%PDF-1.7 quarterly report" * 100
    r1 = await capturer.capture(make_update(1, message_id=1, document=doc("A", 2500)))
    r2 = await capturer.capture(
        make_update(2, message_id=2, document=doc("A", 2500), caption="ещё раз")
    )
    await run_pipeline(pipeline, [*r1.file_row_ids, *r2.file_row_ids])
    rows = [(await store.files_of_message(OWNER_ID, m))[0] for m in (1, 2)]
    assert [r.status for r in rows] == [FileStatus.STORED, FileStatus.STORED]
    assert rows[0].file_hash == rows[1].file_hash and rows[0].file_path == rows[1].file_path
    blobs = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1 and blobs[0].read_bytes() == telegram.files["A"]


async def test_size_mismatch_is_retried_then_failed_with_the_reason(env) -> None:  # type: ignore[no-untyped-def]
    store, telegram, pipeline, capturer = env
    telegram.files["B"] = b"short"
    r = await capturer.capture(make_update(1, message_id=1, document=doc("B", 99)))
    await run_pipeline(pipeline, list(r.file_row_ids))
    (row,) = await store.files_of_message(OWNER_ID, 1)
    assert row.status is FileStatus.FAILED
    assert row.download_reason == "attempt 4/4: expected 99 bytes, received 5"
    assert telegram.downloads == ["docs/B"] * 4
    assert row.file_hash is None


async def test_oversize_file_is_never_requested(env) -> None:  # type: ignore[no-untyped-def]
    store, telegram, pipeline, capturer = env
    telegram.files["C"] = b"x"
    r = await capturer.capture(
        make_update(1, message_id=1, document=doc("C", 5_000_000, "фильм.mkv"))
    )
    assert r.file_row_ids == (1,)
    (row,) = await store.files_of_message(OWNER_ID, 1)
    assert row.status is FileStatus.TOO_LARGE and row.file_name == "фильм.mkv"
    await run_pipeline(pipeline, list(r.file_row_ids))
    assert telegram.names() == [] and telegram.downloads == []
    assert (await store.files_of_message(OWNER_ID, 1))[0].status is FileStatus.TOO_LARGE


async def test_download_failing_twice_then_succeeding_is_stored(env) -> None:  # type: ignore[no-untyped-def]
    store, telegram, pipeline, capturer = env
    telegram.files["D"] = b"voice bytes" * 10
    telegram.file_failures["D"] = 2
    r = await capturer.capture(make_update(1, message_id=1, voice=doc("D", 110)))
    await run_pipeline(pipeline, list(r.file_row_ids))
    (row,) = await store.files_of_message(OWNER_ID, 1)
    assert row.status is FileStatus.STORED and row.download_reason is None
    assert telegram.downloads == ["docs/D"] * 3


async def test_permanent_api_errors_are_not_retried(env) -> None:  # type: ignore[no-untyped-def]
    store, telegram, pipeline, capturer = env
    r = await capturer.capture(make_update(1, message_id=1, document=doc("gone", 10)))
    await run_pipeline(pipeline, list(r.file_row_ids))
    (row,) = await store.files_of_message(OWNER_ID, 1)
    assert row.status is FileStatus.FAILED and "wrong file_id" in (row.download_reason or "")
    assert telegram.names() == ["getFile"]


async def test_pending_files_are_resumed_after_a_restart(env) -> None:  # type: ignore[no-untyped-def]
    store, telegram, pipeline, capturer = env
    telegram.files["E"] = b"e" * 10
    await capturer.capture(make_update(1, message_id=1, document=doc("E", 10)))
    import anyio

    async with anyio.create_task_group() as tg:
        tg.start_soon(pipeline.run)
        assert await pipeline.resume_pending() == 1
        with anyio.fail_after(10):
            await pipeline.wait_idle()
        tg.cancel_scope.cancel()
    assert (await store.files_of_message(OWNER_ID, 1))[0].status is FileStatus.STORED


@pytest.fixture
async def live(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real aiogram Bot talking to the fake Telegram, with capture installed."""
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from superbrain_core.bot.hooks import install
    from superbrain_core.bot.spool import Spool

    telegram = FakeTelegram()
    base = await telegram.start()
    bot = Bot(BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    try:
        async with SqliteStore(tmp_path / "live.db") as store:
            capture = install(
                Dispatcher(),
                bot,
                store,
                files=LocalFileStore(tmp_path / "blobs"),
                spool=Spool(tmp_path / "spool.jsonl"),
            )
            await capture.start()
            yield telegram, store, capture
            await capture.stop()
    finally:
        await bot.session.close()
        await telegram.close()


async def test_install_downloads_what_the_bot_receives(live) -> None:  # type: ignore[no-untyped-def]
    """The one-call set-up wires capture to the file pipeline and the bot's own API server."""
    import anyio

    telegram, store, capture = live
    telegram.files["F"] = b"photo bytes" * 50
    photo = [{"file_id": "F", "file_unique_id": "uF", "file_size": 550, "width": 10, "height": 10}]
    await capture.capture_raw(make_update(1, message_id=1, photo=photo, caption="дача"))
    with anyio.fail_after(10):
        await capture.files.wait_idle()
    (row,) = await store.files_of_message(OWNER_ID, 1)
    assert row.status is FileStatus.STORED


async def test_embedding_example_captures_and_answers(tmp_path: Path) -> None:
    """Run the example other bots copy, polling a fake Telegram, and look at what it stored."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys

    import anyio

    root = Path(__file__).resolve().parents[2]
    telegram = FakeTelegram()
    base = await telegram.start()
    start = make_update(
        7, message_id=1, text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]
    )
    unhandled = make_update(
        8,
        "callback_query",
        id="9",
        chat_instance="1",
        data="x",
        **{"from": {"id": 5, "is_bot": False, "first_name": "A"}},
    )
    telegram.updates.append([start, unhandled])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SUPERBRAIN_"))}
    env.update({"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_SERVER": base})
    proc = subprocess.Popen(
        [sys.executable, str(root / "examples" / "embed_in_your_bot.py")], env=env, cwd=tmp_path
    )
    try:
        with anyio.fail_after(60):
            while "sendMessage" not in telegram.names():
                assert proc.poll() is None, "the example exited"
                await anyio.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        await telegram.close()
    with sqlite3.connect(tmp_path / "my_bot.db") as conn:
        stored = {row[0] for row in conn.execute("SELECT update_id FROM raw_updates")}
        replies = conn.execute(
            "SELECT response_text, related_user_message_id FROM bot_responses"
        ).fetchall()
    assert stored == {7, 8}, "the unhandled update is stored too"
    assert replies == [("Hi! I remember everything you send me.", 1)]


async def test_files_of_spooled_updates_are_downloaded_after_replay(live) -> None:  # type: ignore[no-untyped-def]
    import anyio

    telegram, store, capture = live
    telegram.files["S"] = b"spooled photo" * 10
    await store.close()  # storage outage
    photo = [{"file_id": "S", "file_unique_id": "uS", "file_size": 130, "width": 1, "height": 1}]
    receipt = await capture.capture_raw(make_update(1, message_id=1, photo=photo))
    assert not receipt.stored
    await store.open()
    assert await capture.durable.replay() == 1
    with anyio.fail_after(10):
        await capture.files.wait_idle()
    (row,) = await store.files_of_message(OWNER_ID, 1)
    assert row.status is FileStatus.STORED
