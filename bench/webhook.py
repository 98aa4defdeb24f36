"""Webhook throughput on loopback, with and without capture.

    python bench/webhook.py [--n 4000] [--concurrency 64]

The same aiogram app (dispatcher, the bot's handlers, a Bot whose session is the
fake Bot API, so replies cost no network) is served twice on 127.0.0.1:

* without capture: aiogram's own ``SimpleRequestHandler`` (handlers in background);
* with capture: the deployed bot's webhook, which stores each update in SQLite
  (and every reply the bot sends) before answering 200.

A separate process posts the updates with the given concurrency, so client and
server do not share an interpreter. Prints updates/s for both and the cost of
capture. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRET = "bench-secret"


async def client(url: str, n: int, concurrency: int) -> None:
    import aiohttp

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from superbrain_core.demo.samples import make_update

    bodies = [
        json.dumps(make_update(i, message_id=i, text=f"Купить молоко #{i}")).encode()
        for i in range(1, n + 1)
    ]
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    failures = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    failures += response.status != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    print(json.dumps({"elapsed": elapsed, "failures": failures}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(mode: str, n: int, concurrency: int, tmp: Path) -> tuple[float, float]:
    import gc

    from aiogram import Dispatcher
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    from superbrain_core.bot.hooks import PinResponseTypes, install
    from superbrain_core.bot.server import BotServer, BotSettings, build_router, tune_gc
    from superbrain_core.bot.spool import Spool
    from superbrain_core.botapi import BotApiClient
    from superbrain_core.demo.samples import OWNER_ID
    from superbrain_core.storage.sqlite.store import SqliteStore
    from superbrain_core.testing import BOT_TOKEN, FakeBotApiSession, fake_bot

    class CountingSession(FakeBotApiSession):
        """Counts the requests instead of keeping them: 4,000 retained request models
        would be walked by every full garbage collection of the run, in both modes."""

        sent = 0

        async def make_request(self, bot, method, timeout=None):  # type: ignore[no-untyped-def]
            result = await super().make_request(bot, method, timeout)
            self.requests.clear()
            self.sent += 1
            return result

    thresholds = gc.get_threshold()
    settings = BotSettings(
        token=BOT_TOKEN,
        owner_ids=frozenset({OWNER_ID}),
        webhook_url="https://bench.invalid/hook",
        webhook_path="/hook",
        secret_token=SECRET,
        spool_path=tmp / f"{mode}-spool.jsonl",
    )
    # synchronous=FULL, as the deployed bot runs: acknowledged means on disk.
    async with SqliteStore(tmp / f"{mode}.db", synchronous="FULL") as store:
        session = CountingSession()
        bot = fake_bot(session)
        dp = Dispatcher()
        dp.include_router(build_router(store, settings))
        capture = None
        if mode == "with":
            capture = install(dp, bot, store, spool=Spool(settings.spool_path))
            app = BotServer(capture, BotApiClient(BOT_TOKEN), settings, store).web_app()
        else:
            # The same aiogram speed-up install() applies, so that only capture differs.
            bot.session.middleware(PinResponseTypes())
            app = web.Application()
            SimpleRequestHandler(dp, bot, secret_token=SECRET, handle_in_background=True).register(
                app, path="/hook"
            )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        # What the deployed bot does once started (superbrain_core.bot.server.tune_gc),
        # in both modes, so that only capture differs.
        tune_gc()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client",
            f"http://127.0.0.1:{port}/hook",
            "--n",
            str(n),
            "--concurrency",
            str(concurrency),
            stdout=subprocess.PIPE,
        )
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        out, _ = await proc.communicate()
        result = json.loads(out)
        # Handled means the handler ran and its reply went out, not just acknowledged.
        while session.sent < n:
            await asyncio.sleep(0.001)
        if capture is not None:
            # ...and with capture, until every update and reply is in the database.
            await capture.durable.flush()
        handled = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        await runner.cleanup()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        stats = await store.stats()
        await bot.session.close()
    if result["failures"]:
        print(f"  {mode}: {result['failures']} requests failed")
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    print(
        f"  {mode:>7} capture: {n / handled:6,.0f} updates/s handled,"
        f" {n / result['elapsed']:6,.0f}/s acknowledged; server CPU {cpu / handled:.0%},"
        f" {1000 * cpu / n:.2f} ms CPU per update (stored updates {stats.tables['raw_updates']},"
        f" recorded replies {stats.tables['bot_responses']})"
    )
    return n / handled, cpu / n


async def main(args: argparse.Namespace) -> None:
    print(
        f"webhook benchmark: {args.n} updates, concurrency {args.concurrency}, loopback,"
        f" {args.repeat} runs"
    )
    costs: list[float] = []
    rates: list[float] = []
    for attempt in range(1, args.repeat + 1):
        # Each pair runs back to back in fresh files: the cost is a share of the run
        # beside it, which holds still on a shared machine when absolute rates do not.
        with tempfile.TemporaryDirectory(prefix="superbrain-webhook-") as tmp:
            print(f" run {attempt}:")
            without, _ = await serve("without", args.n, args.concurrency, Path(tmp))
            with_capture, _ = await serve("with", args.n, args.concurrency, Path(tmp))
        costs.append(1 - with_capture / without)
        rates.append(with_capture)
    cost = statistics.median(costs)
    print(
        f"capture costs {cost:.0%} of throughput, median of {len(costs)} runs"
        f" ({', '.join(f'{c:.0%}' for c in costs)}; target <= 15%);"
        f" with capture {statistics.median(rates):,.0f} updates/s (target >= 500)"
    )
    record("webhook", "capture cost, share of throughput", 100 * cost, "%", "<= 15%", cost <= 0.15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs; the median counts")
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.client:
        asyncio.run(client(ns.client, ns.n, ns.concurrency))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from results import record

        from superbrain_core.logs import configure_logging

        configure_logging("json", "ERROR")
        asyncio.run(main(ns))
