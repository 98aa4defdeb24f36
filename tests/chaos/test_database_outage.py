"""Postgres taken away and given back while the bot captures, with a poison update.

The bot runs as a real subprocess on its own test database; in the middle of a
stream of webhook updates the database stops accepting connections (``ALTER
DATABASE ... ALLOW_CONNECTIONS false`` and its sessions terminated; the shared
server itself keeps running). The bot must keep acknowledging into its spool,
and once the database is back the spool must drain: every acknowledged update
stored exactly once, except the poison one, which the database refuses every
time and which goes to ``.rejected`` instead of blocking the rest.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import anyio
import httpx
import psycopg
import pytest

from superbrain_core.bot.server import SECRET_HEADER
from superbrain_core.demo.samples import make_update
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.test_poison_spool import _PG_TRIGGER, POISON
from tests.chaos.conftest import figures, scale
from tests.chaos.test_bot_kill import SECRET, free_port, start_bot, wait_ready
from tests.storage.postgres import pgutil

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


def set_allowed(dbname: str, allowed: bool) -> None:
    with pgutil.admin() as admin:
        admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )


async def test_the_database_goes_away_mid_capture_and_nothing_acknowledged_is_lost(
    tmp_path: Path,
) -> None:
    pgutil.require_server()
    pgutil.ensure_api_roles()
    total = scale(300, 2000)
    with pgutil.database("outage") as dsn:
        migrated = pgutil.superbrain("--db", dsn, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(_PG_TRIGGER)
        dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        telegram = FakeTelegram()
        api = await telegram.start()
        port = free_port()
        proc = start_bot(tmp_path, port, api, db_url=dsn)
        acknowledged: set[int] = set()
        ids = [n for n in range(1, total + 1) if n != POISON]
        ids.insert(total // 2, POISON)  # refused by the database, during the outage's replay
        outage_at = total // 3
        back_at = 2 * total // 3
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                await wait_ready(client, proc)
                for n, update_id in enumerate(ids):
                    if n == outage_at:
                        set_allowed(dbname, False)
                        outage_started = time.monotonic()
                    if n == back_at:
                        set_allowed(dbname, True)
                        outage_seconds = time.monotonic() - outage_started
                    payload = make_update(update_id, message_id=update_id, text=f"м {update_id}")
                    response = await client.post(
                        "/hook", json=payload, headers={SECRET_HEADER: SECRET}
                    )
                    if response.status_code == 200:
                        acknowledged.add(update_id)
                # Back: the spool drains within a minute (replayed every 5 s).
                drained_after = None
                back = time.monotonic()
                with anyio.fail_after(90):
                    while True:
                        body = (await client.get("/readyz")).json()
                        if body["storage"] == "ok" and not body["spool_pending"]:
                            drained_after = time.monotonic() - back
                            break
                        await anyio.sleep(0.5)
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        finally:
            set_allowed(dbname, True)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            await telegram.close()
        with psycopg.connect(dsn) as conn:
            counts = dict(
                conn.execute(
                    "SELECT update_id, count(*) FROM raw_updates GROUP BY update_id"
                ).fetchall()
            )
    spool = tmp_path / "data" / "spool" / "updates.jsonl"
    rejected = [
        json.loads(line)
        for line in spool.with_name(spool.name + ".rejected").read_text().splitlines()
    ]
    expected = acknowledged - {POISON}
    lost = sorted(expected - set(counts))
    figures(
        "postgres unavailable during capture",
        updates=len(ids),
        acknowledged=len(acknowledged),
        lost=len(lost),
        duplicated=sum(1 for n in counts.values() if n > 1),
        rejected=len(rejected),
        outage_seconds=outage_seconds,
        drained_seconds_after_back=drained_after or -1.0,
    )
    assert len(acknowledged) == len(ids), "the spool acknowledged everything during the outage"
    assert lost == [], lost[:10]
    assert all(n == 1 for n in counts.values())
    assert POISON not in counts
    assert [r["entry"]["update"]["update_id"] for r in rejected] == [POISON]
    assert proc.returncode == 0, (tmp_path / "bot.log").read_text()[-3000:]
