"""The webhook through the real aiohttp app on loopback: secrets, outages, the spool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from superbrain_core.bot.server import SECRET_HEADER, BotServer
from superbrain_core.bot.spool import Spool
from superbrain_core.demo.samples import OWNER_ID, make_update
from tests.bot.conftest import BotHarness, webhook_server

pytestmark = pytest.mark.anyio
SECRET = "s3cret-Token_42"


@pytest.fixture
async def server(harness: BotHarness) -> AsyncIterator[tuple[BotServer, httpx.AsyncClient]]:
    async with webhook_server(harness, SECRET) as running:
        yield running


def post(client: httpx.AsyncClient, payload: dict, secret: str | None = SECRET):  # type: ignore[no-untyped-def]
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return client.post("/hook", json=payload, headers=headers)


async def test_secret_is_required(server, harness: BotHarness) -> None:  # type: ignore[no-untyped-def]
    _, client = server
    update = make_update(1, message_id=1, text="x")
    assert (await post(client, update, secret=None)).status_code == 403
    assert (await post(client, update, secret="wrong")).status_code == 403
    assert (await harness.store.stats()).tables["raw_updates"] == 0, (
        "nothing from a forged request is kept"
    )
    assert (await post(client, update)).status_code == 200
    assert await harness.store.get_update(1, bot_id=harness.bot.id) is not None


async def test_bad_bodies_are_refused(server) -> None:  # type: ignore[no-untyped-def]
    _, client = server
    assert (
        await client.post("/hook", content=b"{oops", headers={SECRET_HEADER: SECRET})
    ).status_code == 400
    assert (await post(client, {"message": {"text": "no update_id"}})).status_code == 400


async def test_storage_down_goes_to_the_spool_and_is_replayed_once(
    server, harness: BotHarness
) -> None:  # type: ignore[no-untyped-def]
    _, client = server
    await harness.store.close()  # the database is gone
    for i in range(1, 4):
        assert (
            await post(client, make_update(i, message_id=i, text=f"во время сбоя {i}"))
        ).status_code == 200
    await harness.capture.drain()
    assert len(await harness.spool.read()) == 3 + 3, (
        "three updates and the three acknowledgements the bot sent"
    )
    await harness.store.open()  # the database is back
    assert await harness.capture.durable.replay() == 6
    assert not await harness.spool.pending()
    assert await harness.capture.durable.replay() == 0, "a second replay finds nothing"
    stats = await harness.store.stats()
    assert stats.tables["raw_updates"] == 3 and stats.tables["raw_messages"] == 3
    assert stats.tables["bot_responses"] == 3
    # New updates go straight to storage again.
    assert (await post(client, make_update(4, message_id=4, text="после"))).status_code == 200
    assert not await harness.spool.pending()
    assert (await harness.store.stats()).tables["raw_updates"] == 4


async def test_while_the_spool_has_entries_new_updates_queue_behind_them(
    server, harness: BotHarness
) -> None:  # type: ignore[no-untyped-def]
    _, client = server
    await harness.store.close()
    original = make_update(1, message_id=1, text="первая версия")
    assert (await post(client, original)).status_code == 200
    await harness.store.open()
    edit = make_update(
        2, "edited_message", message_id=1, text="вторая версия", edit_date=1_800_000_000
    )
    assert (await post(client, edit)).status_code == 200
    assert (await harness.store.stats()).tables["raw_updates"] == 0, (
        "the edit waits behind the original"
    )
    await harness.capture.durable.replay()
    versions = await harness.store.message_versions(OWNER_ID, 1)
    assert [v.message_text for v in versions] == ["первая версия", "вторая версия"]


async def test_nowhere_to_persist_answers_503(server, harness: BotHarness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, client = server
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool directory should be")
    harness.capture.durable.spool = Spool(blocker / "updates.jsonl")
    await harness.store.close()
    response = await post(client, make_update(1, message_id=1, text="x"))
    assert response.status_code == 503, "Telegram must redeliver what was not persisted"
    await harness.store.open()
    harness.capture.durable.spool = harness.spool
    assert (await post(client, make_update(1, message_id=1, text="x"))).status_code == 200
    assert (await harness.store.stats()).tables["raw_updates"] == 1


async def test_health_and_readiness(server, harness: BotHarness) -> None:  # type: ignore[no-untyped-def]
    bot_server, client = server
    assert (await client.get("/healthz")).json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["storage"] == "ok"
    await harness.store.close()
    degraded = await client.get("/readyz")
    assert degraded.status_code == 200, "the spool still accepts updates"
    assert degraded.json()["storage"] == "down"
    await harness.store.open()
    bot_server.stopping.set()
    assert (await client.get("/readyz")).status_code == 503
    assert (await post(client, make_update(9, message_id=9, text="x"))).status_code == 503


async def test_a_redelivered_update_is_not_handled_twice(server, harness: BotHarness) -> None:  # type: ignore[no-untyped-def]
    _, client = server
    update = make_update(1, message_id=1, text="заметка")
    assert (await post(client, update)).status_code == 200
    await harness.capture.drain()
    assert (await post(client, update)).status_code == 200, "Telegram must stop redelivering"
    await harness.capture.drain()
    assert harness.sent() == ["✓ Сохранил"], "one acknowledgement, not two"
