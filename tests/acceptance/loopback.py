"""Real HTTP servers on loopback for tests that run the CLI in a subprocess.

``LoopbackBotApi`` plays Telegram's Bot API (``/bot<token>/<method>``): it
records every call, numbers sent messages like Telegram does, and answers a
reply with ``reply_to_message`` so the test can hand the owner's answer back to
capture. ``LoopbackClassifier`` plays the n8n workflow. Both run in a thread, so
the process under test talks to them over real sockets.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

BOT_ID = 4200000042
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Twin", "username": "twin_bot"}

#: (method, params) -> None to answer normally, or (HTTP status, Bot API error body).
Failure = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]] | None]


@attrs.define
class LoopbackBotApi:
    url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    sent: list[dict[str, Any]] = attrs.field(factory=list)
    """Every message this fake "delivered", as Telegram would return it."""
    fail: Failure | None = None
    _ids: Any = attrs.field(factory=lambda: itertools.count(1001))
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append((method, params))
            failure = self.fail(method, params) if self.fail else None
            if failure is not None:
                return failure
            if method != "sendMessage":
                return 200, {"ok": True, "result": True}
            message: dict[str, Any] = {
                "message_id": next(self._ids),
                "from": BOT_USER,
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "date": 1_795_000_000 + len(self.sent),
                "text": params["text"],
            }
            reply = params.get("reply_parameters") or {}
            if "message_id" in reply:
                message["reply_to_message"] = {
                    "message_id": reply["message_id"],
                    "chat": message["chat"],
                    "date": 1_794_990_000,
                }
            self.sent.append(message)
            return 200, {"ok": True, "result": message}

    def messages(self, kind: str) -> list[dict[str, Any]]:
        """Sent digests (no reply) or questions (a reply to an owner's message)."""
        want_reply = kind == "question"
        return [m for m in self.sent if ("reply_to_message" in m) == want_reply]


def _serve(handle: Callable[[str, bytes], tuple[int, bytes]]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, data = handle(self.path, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def bot_api() -> Iterator[LoopbackBotApi]:
    fake = LoopbackBotApi()

    def handle(path: str, body: bytes) -> tuple[int, bytes]:
        method = path.rsplit("/", 1)[-1]
        status, answer = fake.answer(method, json.loads(body or b"{}"))
        return status, json.dumps(answer, ensure_ascii=False).encode()

    for url in _serve(handle):
        fake.url = url
        yield fake


Verdict = Callable[[dict[str, Any]], tuple[int, dict[str, Any] | str]]


@contextmanager
def classifier(verdict: Verdict) -> Iterator[str]:
    """An n8n-style classifier answering each POST with ``verdict(body)``."""

    def handle(path: str, body: bytes) -> tuple[int, bytes]:
        status, answer = verdict(json.loads(body))
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        return status, text.encode()

    yield from _serve(handle)
