"""A fake Bot API server on loopback: real HTTP, scripted answers, recorded calls.

Used where the code under test speaks HTTP itself (long polling, file downloads,
the bot process in a subprocess). It serves ``/bot<token>/<method>`` and
``/file/bot<token>/<path>``.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from typing import Any

import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer


@attrs.define
class FakeTelegram:
    calls: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    updates: deque[list[dict[str, Any]]] = attrs.field(factory=deque)
    files: dict[str, bytes] = attrs.field(factory=dict)
    file_failures: dict[str, int] = attrs.field(factory=dict)
    """file_path -> how many more downloads answer HTTP 500."""
    downloads: list[str] = attrs.field(factory=list)
    _ids: Any = attrs.field(factory=lambda: itertools.count(1))
    server: TestServer | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        return app

    async def start(self) -> str:
        self.server = TestServer(self.app(), host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def _method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        params: dict[str, Any] = {}
        if request.can_read_body:
            if request.content_type == "application/json":
                params = await request.json()
            else:
                params = dict(await request.post())
        params.update(request.query)
        self.calls.append((name, params))
        result: Any = True
        if name == "getUpdates":
            result = self.updates.popleft() if self.updates else []
        elif name == "getMe":
            result = {"id": 4200000042, "is_bot": True, "first_name": "Fake"}
        elif name == "getFile":
            file_id = str(params.get("file_id"))
            if file_id not in self.files:
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "Bad Request: wrong file_id"},
                    status=400,
                )
            result = {
                "file_id": file_id,
                "file_unique_id": "u" + file_id,
                "file_path": f"docs/{file_id}",
            }
        elif name.startswith("send"):
            chat_id = int(params.get("chat_id", 0))
            result = {
                "message_id": next(self._ids),
                "from": {"id": 4200000042, "is_bot": True, "first_name": "Fake"},
                "chat": {"id": chat_id, "type": "private"},
                "date": 1_800_000_000,
                "text": params.get("text", ""),
            }
        return web.json_response({"ok": True, "result": result}, dumps=json.dumps)

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.downloads.append(path)
        file_id = path.removeprefix("docs/")
        if self.file_failures.get(file_id, 0) > 0:
            self.file_failures[file_id] -= 1
            return web.Response(status=500, text="try again")
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])
