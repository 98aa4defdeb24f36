"""A stand-in for the n8n classifier: answers ``POST /digital-twin-ask`` after a set latency.

    python bench/classifier_server.py --latency 0.05     # prints "port N" when ready

It answers in the loose legacy shape (confidence in percent, a Russian type)
so the benchmark exercises the same parsing as production. Runs in its own
process so its CPU does not count against the analyzer being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

KEYWORDS = {"купить": "задача", "созвон": "встреча", "meeting": "встреча", "₽": "расход",
            "http": "ссылка", "напомни": "напоминание"}  # fmt: skip


def verdict(text: str) -> dict[str, object]:
    folded = text.casefold()
    kind = next((v for k, v in KEYWORDS.items() if k in folded), "заметка")
    return {"type": kind, "confidence": 90, "title": text[:60]}


def make_app(latency: float) -> web.Application:
    async def ask(request: web.Request) -> web.Response:
        body = await request.json()
        if latency:
            await asyncio.sleep(latency)
        return web.json_response(verdict(str(body.get("message") or "")))

    app = web.Application()
    app.router.add_post("/digital-twin-ask", ask)
    return app


async def serve(latency: float, port: int) -> None:
    runner = web.AppRunner(make_app(latency), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"port": bound}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.latency, args.port))
