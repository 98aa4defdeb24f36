"""Fixtures for the bot tests: a real Dispatcher and Bot over a fake Bot API session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import httpx
import pytest

pytest.importorskip("aiogram", reason="the bot tests need the 'bot' extra")

from aiogram import Bot, Dispatcher
from aiohttp.test_utils import TestServer

from superbrain_core.bot.hooks import SuperbrainCapture, install
from superbrain_core.bot.server import BotServer, BotSettings, build_router
from superbrain_core.bot.spool import Spool
from superbrain_core.botapi import BotApiClient
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


@asynccontextmanager
async def webhook_server(
    harness: BotHarness, secret: str, *, timeout: float = 5.0
) -> AsyncIterator[tuple[BotServer, httpx.AsyncClient]]:
    """The deployed bot's webhook on a real loopback server, and a client for it."""
    settings = BotSettings(
        token=BOT_TOKEN,
        owner_ids=frozenset({OWNER_ID}),
        webhook_url="https://bot.example/hook",
        webhook_path="/hook",
        secret_token=secret,
        spool_path=harness.spool.path,
    )
    bot_server = BotServer(
        capture=harness.capture, api=BotApiClient(BOT_TOKEN), settings=settings, store=harness.store
    )
    server = TestServer(bot_server.web_app(), host="127.0.0.1")
    await server.start_server()
    try:
        async with httpx.AsyncClient(base_url=str(server.make_url("/")), timeout=timeout) as http:
            yield bot_server, http
        await harness.capture.drain()
    finally:
        await server.close()


class LogRecords(logging.Handler):
    """Every stdlib log record, for tests that check nothing was logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
