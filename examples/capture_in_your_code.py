"""Use superbrain_core from your own code: capture updates, record replies, read a chain.

    python examples/capture_in_your_code.py [DB_URL]

Runs against a temporary SQLite file unless a database URL is given. Everything
here is the public API: ``open_store``, ``Capturer``, ``BotResponseIn``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio

from superbrain_core import BotResponseIn, CaptureOptions, Capturer, open_store

OWNER = {"id": 42, "is_bot": False, "first_name": "Анна"}
CHAT = {"id": 42, "type": "private", "first_name": "Анна"}
BOT = {"id": 777, "is_bot": True, "first_name": "Второй мозг"}


async def main(db_url: str) -> None:
    async with open_store(db_url) as store:
        capture = Capturer(store, CaptureOptions(bot_id=777, source="example"))

        # 1. The owner writes; Telegram delivers an Update (a plain dict here).
        note = {
            "message_id": 1,
            "from": OWNER,
            "chat": CHAT,
            "date": 1764000000,
            "text": "В четверг созвон с бухгалтером",
        }
        print(await capture.capture({"update_id": 1, "message": note}))

        # 2. The bot asks a question; record what it sent and which message it answers.
        await store.record_bot_response(
            BotResponseIn(
                chat_id=42,
                message_id=2,
                response_text="Во сколько?",
                related_user_message_id=1,
                method="sendMessage",
            )
        )

        # 3. The owner answers the bot's question: a reply to the *bot's* message.
        question = {
            "message_id": 2,
            "from": BOT,
            "chat": CHAT,
            "date": 1764000005,
            "text": "Во сколько?",
        }
        answer = {
            "message_id": 3,
            "from": OWNER,
            "chat": CHAT,
            "date": 1764000060,
            "text": "в 11:30",
            "reply_to_message": question,
        }
        print(await capture.capture({"update_id": 2, "message": answer}))

        # 4. The answer joined the chain of the owner's original message.
        chain = await store.chain_of(42, 3)
        assert chain is not None
        print(f"chain root #{chain.original_message_id}: {chain.original_text}")
        for reply in chain.replies:
            print(f"  reply #{reply.message_id}: {reply.text} (to: {reply.reply_to_text})")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        url = sys.argv[1]
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'example.db'}"
    anyio.run(main, url)
