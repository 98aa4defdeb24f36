"""Add superbrain capture to your own aiogram 3 bot with one call.

    TELEGRAM_BOT_TOKEN=... python examples/embed_in_your_bot.py

Your handlers stay as they are. ``install`` stores every update before your
filters run (including updates no handler matches), records every message your
bot sends or edits, and downloads the files people send into ./data/files.
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import Message

from superbrain_core import LocalFileStore, open_store
from superbrain_core.aiogram import install

dp = Dispatcher()


@dp.message(CommandStart())
async def start(message: Message) -> None:
    await message.answer("Hi! I remember everything you send me.")


async def main() -> None:
    api = os.environ.get("TELEGRAM_API_SERVER")  # e.g. a local Bot API server
    session = AiohttpSession(api=TelegramAPIServer.from_base(api)) if api else None
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session)
    async with open_store("sqlite:///my_bot.db") as store:
        install(dp, bot, store, files=LocalFileStore("data/files"), spool="data/spool.jsonl")
        await dp.start_polling(bot)


if __name__ == "__main__":
    asyncio.run(main())
