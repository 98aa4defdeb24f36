"""kill -9 of the bot (a real subprocess, its real webhook server on loopback) in the
middle of a burst of webhook updates: every update that got a 2xx is stored exactly
once, and after Telegram's redelivery every update is stored exactly once.

Bounded: 400 updates; ``SUPERBRAIN_CHAOS=long``: 2,000."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest

from superbrain_core.bot.server import SECRET_HEADER
from superbrain_core.demo.samples import make_update
from superbrain_core.testing import BOT_TOKEN
from tests.bot.fake_telegram import FakeTelegram
from tests.chaos.conftest import figures, scale

pytestmark = pytest.mark.anyio
SECRET = "crash-test-secret"
BURST = scale(400, 2000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_bot(
    tmp_path: Path, port: int, api: str, db_url: str | None = None
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERBRAIN_", "TELEGRAM_"))}
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "SUPERBRAIN_DB": db_url or f"sqlite:///{tmp_path / 'bot.db'}",
            "SUPERBRAIN_DATA_DIR": str(tmp_path / "data"),
            "SUPERBRAIN_LOG_FORMAT": "json",
            "SUPERBRAIN_LOG_LEVEL": "WARNING",
        }
    )
    log = (tmp_path / "bot.log").open("ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "superbrain_core",
            "bot",
            "--webhook-url",
            f"http://127.0.0.1:{port}/hook",
            "--listen",
            f"127.0.0.1:{port}",
            "--webhook-path",
            "/hook",
            "--secret-token",
            SECRET,
            "--api-server",
            api,
        ],
        env=env,
        stdout=log,
        stderr=log,
    )


async def wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    with anyio.fail_after(30):
        while True:
            assert proc.poll() is None, "the bot exited during start-up"
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await anyio.sleep(0.1)


async def test_kill_9_mid_burst_loses_nothing_acknowledged(tmp_path: Path) -> None:
    telegram = FakeTelegram()
    api = await telegram.start()
    port = free_port()
    acknowledged: set[int] = set()
    proc = start_bot(tmp_path, port, api)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await wait_ready(client, proc)
            sent = 0
            killed = False

            async def sender(ids: list[int]) -> None:
                nonlocal sent, killed
                for update_id in ids:
                    if killed:
                        return
                    payload = make_update(
                        update_id, message_id=update_id, text=f"сообщение {update_id}"
                    )
                    try:
                        response = await client.post(
                            "/hook", json=payload, headers={SECRET_HEADER: SECRET}
                        )
                    except httpx.TransportError:
                        continue
                    if 200 <= response.status_code < 300:
                        acknowledged.add(update_id)
                    sent += 1
                    if sent == BURST // 3 and not killed:
                        killed = True
                        os.kill(proc.pid, signal.SIGKILL)

            ids = list(range(1, BURST + 1))
            async with anyio.create_task_group() as tg:
                for worker in range(32):
                    tg.start_soon(sender, ids[worker::32])
            proc.wait(timeout=10)
            killed_at = time.monotonic()
            assert proc.returncode == -signal.SIGKILL
            assert len(acknowledged) >= BURST // 4, len(acknowledged)
            print(f"acknowledged before kill -9: {len(acknowledged)} of {BURST}")

            # Restart; Telegram would now redeliver everything it got no 2xx for.
            proc = start_bot(tmp_path, port, api)
            await wait_ready(client, proc)
            back_after = time.monotonic() - killed_at
            for update_id in ids:
                if update_id not in acknowledged:
                    payload = make_update(
                        update_id, message_id=update_id, text=f"сообщение {update_id}"
                    )
                    response = await client.post(
                        "/hook", json=payload, headers={SECRET_HEADER: SECRET}
                    )
                    assert response.status_code == 200
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            assert proc.returncode == 0, (tmp_path / "bot.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await telegram.close()

    with sqlite3.connect(tmp_path / "bot.db") as conn:
        counts = dict(
            conn.execute(
                "SELECT update_id, count(*) FROM raw_updates GROUP BY update_id"
            ).fetchall()
        )
        messages = dict(
            conn.execute(
                "SELECT message_id, count(*) FROM raw_messages GROUP BY message_id"
            ).fetchall()
        )
    missing = sorted(acknowledged - set(counts))
    figures(
        "bot kill -9 mid-burst",
        burst=BURST,
        acknowledged_before_kill=len(acknowledged),
        lost=len(missing),
        duplicated=sum(1 for n in counts.values() if n > 1)
        + sum(1 for n in messages.values() if n > 1),
        restart_seconds=back_after,
    )
    assert missing == [], f"acknowledged but not stored: {missing[:10]}"
    assert all(counts[i] == 1 for i in acknowledged)
    assert set(counts) == set(range(1, BURST + 1)), "after redelivery every update is stored"
    assert set(messages.values()) == {1}, "no message stored twice"
    assert telegram.names().count("setWebhook") == 2
    assert BOT_TOKEN.split(":")[1] not in (tmp_path / "bot.log").read_text(), (
        "the token is never logged"
    )
