"""Fixtures for the bot tests: a real Dispatcher and Bot over a fake Bot API session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

pytest.importorskip("aiogram", reason="the bot tests need the 'bot' extra")

from aiogram import Bot, Dispatcher

from superbrain_core.bot.hooks import SuperbrainCapture, install
from superbrain_core.bot.server import BotSettings, build_router
from superbrain_core.bot.spool import Spool
from superbrain_core.demo.samples import OWNER_ID
from superbrain_core.storage.sqlite.store import SqliteStore
from superbrain_core.testing import BOT_TOKEN, FakeBotApiSession, fake_bot


@attrs.define
class BotHarness:
    store: SqliteStore
    session: FakeBotApiSession
    bot: Bot
    dp: Dispatcher
    capture: SuperbrainCapture
    spool: Spool

    async def deliver(self, payload: dict) -> None:  # type: ignore[type-arg]
        """What the deployed bot does with a raw update: persist, then dispatch and wait."""
        await self.capture.capture_raw(payload)
        await self.capture.handle(payload)

    def sent(self, name: str = "sendMessage") -> list[str]:
        return [getattr(r, "text", None) or "" for r in self.session.requests_named(name)]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with SqliteStore(tmp_path / "bot.db") as store:
        session = FakeBotApiSession()
        bot = fake_bot(session)
        dp = Dispatcher()
        settings = BotSettings(token=BOT_TOKEN, owner_ids=frozenset({OWNER_ID}))
        dp.include_router(build_router(store, settings))
        spool = Spool(tmp_path / "spool" / "updates.jsonl")
        capture = install(dp, bot, store, spool=spool)
        yield BotHarness(store, session, bot, dp, capture, spool)
        await capture.stop()
