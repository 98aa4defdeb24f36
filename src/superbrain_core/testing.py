"""Fakes for testing bots built on superbrain_core (extra ``bot``).

:class:`FakeBotApiSession` stands in for Telegram at aiogram's session boundary:
it records every request and answers from a queue of canned results, or, when
the queue is empty, with a plausible result (a sent message gets the next
message id in its chat). Everything above the session (dispatcher, middlewares,
handlers, the response recorder) runs for real.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

BOT_TOKEN = "4200000042:AAFakeTokenForTestsOnly_abcdefghijklmn"


class FakeBotApiSession(BaseSession):
    """A session that never touches the network."""

    def __init__(self, *, bot_id: int = 4200000042, first_message_id: int = 10_000) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self._queue: deque[tuple[int, dict[str, Any]]] = deque()
        self._ids = itertools.count(first_message_id)
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Второй мозг",
            "username": "superbrain_bot",
        }

    def add_result(self, result: Any) -> None:
        """Answer the next request with ``result`` (Bot API JSON)."""
        self._queue.append((200, {"ok": True, "result": result}))

    def add_error(self, status: int, description: str) -> None:
        """Answer the next request with a Bot API error."""
        self._queue.append(
            (status, {"ok": False, "error_code": status, "description": description})
        )

    def requests_named(self, name: str) -> list[TelegramMethod[Any]]:
        return [r for r in self.requests if r.__api_method__ == name]

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        status, body = self._queue.popleft() if self._queue else (200, self._auto(method))
        response = self.check_response(bot, method, status, json.dumps(body))
        return cast(TelegramType, response.result)

    def _auto(self, method: TelegramMethod[Any]) -> dict[str, Any]:
        name = method.__api_method__
        if name == "getMe":
            return {"ok": True, "result": self.bot_user}
        chat_id = getattr(method, "chat_id", None)
        if name.startswith("send") and name != "sendChatAction" and isinstance(chat_id, int):
            message: dict[str, Any] = {
                "message_id": next(self._ids),
                "from": self.bot_user,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "date": int(datetime.now(UTC).timestamp()),
            }
            text = getattr(method, "text", None)
            if isinstance(text, str):
                message["text"] = text
            return {"ok": True, "result": message}
        return {"ok": True, "result": True}

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""


def fake_bot(session: FakeBotApiSession | None = None) -> Bot:
    """A real aiogram ``Bot`` whose session is a :class:`FakeBotApiSession`."""
    return Bot(BOT_TOKEN, session=session or FakeBotApiSession())
