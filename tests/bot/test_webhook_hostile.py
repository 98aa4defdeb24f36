"""Hostile webhook bodies through the real aiohttp app on loopback: a clear 400 and
one log line without a traceback, never a 500; valid updates are still persisted
before the 200."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from superbrain_core.bot.server import SECRET_HEADER
from superbrain_core.demo.samples import make_update
from superbrain_core.errors import NotAnUpdateError
from tests.bot.conftest import BotHarness, LogRecords, webhook_server

pytestmark = pytest.mark.anyio
SECRET = "h0stile-Secret_7"
#: ``superbrain_core.jsonutil.MAX_DEPTH``: containers one update may nest.
MAX_DEPTH = 128


@pytest.fixture
async def client(harness: BotHarness) -> AsyncIterator[httpx.AsyncClient]:
    async with webhook_server(harness, SECRET) as (_, http):
        yield http


@contextmanager
def logged() -> Iterator[tuple[list[dict[str, Any]], list[logging.LogRecord]]]:
    """structlog entries, and stdlib records (aiohttp logs an unhandled error there)."""
    handler = LogRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with capture_logs() as entries:
            yield entries, handler.records
    finally:
        root.removeHandler(handler)


async def post_body(client: httpx.AsyncClient, body: bytes) -> tuple[httpx.Response, list[Any]]:
    """POST ``body``; the answer and what was logged, checked to be one line, no traceback."""
    with logged() as (entries, records):
        response = await client.post(
            "/hook",
            content=body,
            headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
        )
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR], (
        "nothing reaches aiohttp's error log"
    )
    assert not [e for e in entries if e.get("exc_info")], "no traceback"
    refused = [e for e in entries if e["event"] == "webhook_body_refused"]
    assert len(refused) == 1, entries
    return response, refused


def deep(levels: int) -> bytes:
    return ('{"update_id": 5, "message": ' + "[" * levels + "]" * levels + "}").encode()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{oops", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe\x00garbage", "not"),
        (b'{"update_id": 1, "message": {"text": "caf\xe9"}}', "not UTF-8"),
        (deep(10_000), f"nested more than {MAX_DEPTH} levels deep"),
        (deep(MAX_DEPTH), f"nested more than {MAX_DEPTH} levels deep"),
        (b'{"update_id": 9223372036854775808, "message": {"text": "x"}}', "64-bit"),
        (b'{"update_id": -9223372036854775809}', "64-bit"),
        (b'{"update_id": ' + b"9" * 5000 + b"}", "digits"),
        (b"[1, 2, 3]", "expected a JSON object"),
    ],
)
async def test_hostile_bodies_get_a_clear_400(
    client: httpx.AsyncClient, harness: BotHarness, body: bytes, fragment: str
) -> None:
    response, refused = await post_body(client, body)
    assert response.status_code == 400
    assert fragment in response.text and "Traceback" not in response.text
    assert fragment in refused[0]["reason"] and refused[0]["log_level"] == "warning"
    stats = await harness.store.stats()
    assert stats.tables["raw_updates"] == 0, "nothing is stored"
    assert not await harness.spool.read(), "nothing is spooled either"


async def test_the_bot_keeps_serving_after_hostile_bodies(
    client: httpx.AsyncClient, harness: BotHarness
) -> None:
    for body in (deep(10_000), b'{"update_id": 99999999999999999999}', b"{oops"):
        assert (await post_body(client, body))[0].status_code == 400
    update = make_update(1, message_id=1, text="после атаки")
    response = await client.post("/hook", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    stored = await harness.store.get_update(1, bot_id=harness.bot.id)
    assert stored is not None and stored.payload == update, "persisted before the 200"


@pytest.mark.parametrize(
    "update",
    [
        make_update(2, message_id=2, text="x", chat={"id": 2**70, "type": "private"}),
        make_update(2, message_id=2**64, text="x"),
    ],
    ids=["chat.id", "message_id"],
)
async def test_an_id_past_64_bits_inside_an_update_is_stored_raw(
    client: httpx.AsyncClient, harness: BotHarness, update: dict[str, Any]
) -> None:
    with logged() as (entries, records):
        response = await client.post("/hook", json=update, headers={SECRET_HEADER: SECRET})
        await harness.capture.drain()  # the bot's acknowledgement, recorded or not
    assert response.status_code == 200
    stored = await harness.store.get_update(2, bot_id=harness.bot.id)
    assert stored is not None and stored.payload == update
    assert (await harness.store.stats()).tables["raw_messages"] == 0, "kept raw only"
    assert not await harness.spool.read(), "nothing overflowed into the spool"
    assert not [e for e in entries if e.get("exc_info") or e["log_level"] == "error"], entries
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR]


def test_decode_body_accepts_what_telegram_sends() -> None:
    from superbrain_core import jsonutil
    from superbrain_core.bot.server import decode_body

    assert jsonutil.MAX_DEPTH == MAX_DEPTH
    update = make_update(3, message_id=3, text="обычное 😀")
    assert decode_body(json.dumps(update, ensure_ascii=False).encode()) == update
    nested = '{"update_id": 4, "x": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    assert decode_body(nested.encode())["update_id"] == 4
    with pytest.raises(NotAnUpdateError, match="nested more than"):
        decode_body(deep(MAX_DEPTH))
