"""Long polling confirms an update (moves the offset) only after it is persisted."""

from __future__ import annotations

import anyio
import pytest

from superbrain_core.bot.server import BotServer, BotSettings
from superbrain_core.bot.spool import Spool
from superbrain_core.botapi import BotApiClient
from superbrain_core.demo.samples import OWNER_ID, make_update
from superbrain_core.testing import BOT_TOKEN
from tests.bot.conftest import BotHarness
from tests.bot.fake_telegram import FakeTelegram

pytestmark = pytest.mark.anyio


async def poll_until(server: BotServer, telegram: FakeTelegram, calls: int) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.poll)
        with anyio.fail_after(15):
            while telegram.names().count("getUpdates") < calls:
                await anyio.sleep(0.01)
        server.stopping.set()
        tg.cancel_scope.cancel()


def offsets(telegram: FakeTelegram) -> list[object]:
    return [params.get("offset") for name, params in telegram.calls if name == "getUpdates"]


async def test_offset_moves_only_past_persisted_updates(harness: BotHarness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    telegram = FakeTelegram()
    base = await telegram.start()
    api = BotApiClient(BOT_TOKEN, api_server=base)
    settings = BotSettings(
        token=BOT_TOKEN,
        owner_ids=frozenset({OWNER_ID}),
        spool_path=harness.spool.path,
        poll_timeout=0,
    )
    server = BotServer(
        capture=harness.capture,
        api=api,
        settings=settings,
        store=harness.store,
        unpersisted_delay=0.05,
    )
    try:
        telegram.updates.append(
            [make_update(11, message_id=1, text="раз"), make_update(12, message_id=2, text="два")]
        )
        await poll_until(server, telegram, calls=2)
        assert offsets(telegram)[:2] == [None, 13]
        assert await harness.store.get_update(12, bot_id=harness.bot.id) is not None
        assert telegram.calls[0][1]["allowed_updates"][:2] == ["message", "edited_message"]
        assert "message_reaction" in telegram.calls[0][1]["allowed_updates"]

        # Storage and spool both unusable: the update is not confirmed.
        blocker = tmp_path / "blocker"
        blocker.write_text("not a directory")
        harness.capture.durable.spool = Spool(blocker / "spool.jsonl")
        await harness.store.close()
        telegram.calls.clear()
        server.stopping = anyio.Event()
        for _ in range(5):  # Telegram keeps handing out an unconfirmed update
            telegram.updates.append([make_update(13, message_id=3, text="три")])
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.poll)
            with anyio.fail_after(20):
                while telegram.names().count("getUpdates") < 2:
                    await anyio.sleep(0.01)
                # Storage returns while the update is still unconfirmed.
                await harness.store.open()
                harness.capture.durable.spool = harness.spool
                while 14 not in offsets(telegram):
                    await anyio.sleep(0.01)
            server.stopping.set()
            tg.cancel_scope.cancel()
        seen = offsets(telegram)
        first_confirm = seen.index(14)
        assert first_confirm >= 2 and set(seen[:first_confirm]) == {None}, (
            "not confirmed while it could not be persisted; confirmed once stored"
        )
        assert await harness.store.get_update(13, bot_id=harness.bot.id) is not None
    finally:
        await api.aclose()
        await telegram.close()


async def test_probes_are_served_in_polling_mode_too(harness: BotHarness) -> None:
    import httpx
    from aiohttp.test_utils import TestServer

    settings = BotSettings(token=BOT_TOKEN, spool_path=harness.spool.path)
    server = BotServer(
        capture=harness.capture, api=BotApiClient(BOT_TOKEN), settings=settings, store=harness.store
    )
    test_server = TestServer(server.web_app(), host="127.0.0.1")
    await test_server.start_server()
    try:
        async with httpx.AsyncClient(base_url=str(test_server.make_url("/"))) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).json()["ready"] is True
            assert (await client.post("/telegram/webhook", json={})).status_code in (404, 405), (
                "no webhook endpoint while polling"
            )
    finally:
        await test_server.close()
