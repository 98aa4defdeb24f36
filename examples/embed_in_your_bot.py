"""Add superbrain capture to your own aiogram 3 bot with one call.

    TELEGRAM_BOT_TOKEN=... python examples/embed_in_your_bot.py

Your handlers stay as they are. ``install`` stores every update before your
filters run (including updates no handler matches), records every message your
bot sends or edits, and downloads the files people send into ./data/files.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import Message

from superbrain_core import ConfigError, LocalFileStore, open_store
from superbrain_core.aiogram import install
from superbrain_core.settings import check_bot_token

dp = Dispatcher()


@dp.message(CommandStart())
async def start(message: Message) -> None:
    await message.answer("Hi! I remember everything you send me.")


async def main(token: str) -> None:
    api = os.environ.get("TELEGRAM_API_SERVER")  # e.g. a local Bot API server
    session = AiohttpSession(api=TelegramAPIServer.from_base(api)) if api else None
    bot = Bot(token, session=session)
    async with open_store("sqlite:///my_bot.db") as store:
        install(dp, bot, store, files=LocalFileStore("data/files"), spool="data/spool.jsonl")
        await dp.start_polling(bot)


if __name__ == "__main__":
    try:  # unset or malformed: say so (never echoing it) and exit 2, as `superbrain bot` does
        token = check_bot_token(os.environ.get("TELEGRAM_BOT_TOKEN"))
    except ConfigError as exc:
        print(
            f"error: {exc}. Get a token from @BotFather, then run:\n"
            "    TELEGRAM_BOT_TOKEN=123456789:AA... python examples/embed_in_your_bot.py",
            file=sys.stderr,
        )
        sys.exit(2)
    asyncio.run(main(token))
