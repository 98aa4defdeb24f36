"""A real web server on loopback over a store, and a small archive to serve.

The tests talk HTTP to it with httpx (as a browser would), never to handlers
directly, so the middlewares, cookies and headers are the ones deployed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import httpx
from aiohttp import web

from superbrain_core import login_links
from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.analyzer.classify.schema import ItemType
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_update
from superbrain_core.storage.base import Store
from superbrain_core.web.app import create_app
from superbrain_core.web.context import FileBytes
from superbrain_core.web.security import Access

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OWNER = OWNER_ID  # the demo samples write to the owner's private chat
ZONE = ZoneInfo("Europe/Moscow")
#: What the small archive says; anonymous responses must contain none of it.
TEXTS = ["Встреча с Олегом завтра", "Купить молоко и хлеб", "Обед 700 ₽"]
KEYWORDS = {"встреча": ItemType.EVENT, "купить": ItemType.TASK, "₽": ItemType.EXPENSE}


async def small_archive(store: Store) -> int:
    """Three messages filed by one analyzer run; returns the run's id."""
    capturer = Capturer(store)
    for n, text in enumerate(TEXTS, start=1):
        await capturer.capture(
            make_update(n, message_id=n, text=text, date=T0 + timedelta(minutes=n))
        )
    report = await run_batch(store, KeywordClassifier(KEYWORDS, version="1"), BatchOptions())
    assert report.run_id is not None
    return report.run_id


@attrs.frozen
class Server:
    base_url: str
    access: Access
    ledger_path: Path

    def link(self, owner: int = OWNER, **kwargs: float) -> str:
        token = login_links.mint_login(self.access.secret, owner, **kwargs)  # type: ignore[arg-type]
        return login_links.login_url(self.base_url, token)


SECRET = b"s" * 40


@asynccontextmanager
async def serve(
    store: Store,
    tmp_path: Path,
    *,
    owners: frozenset[int] = frozenset({OWNER}),
    secure_cookies: bool = False,
    files: FileBytes | None = None,
) -> AsyncIterator[Server]:
    ledger_path = tmp_path / "web" / "used-links.db"
    access = Access(
        secret=SECRET,
        owners=owners,
        ledger=login_links.NonceLedger(ledger_path),
        secure_cookies=secure_cookies,
    )
    app = create_app(store, access, files or FileBytes.at(tmp_path / "files"), ZONE)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Server(f"http://{host}:{port}", access, ledger_path)
    finally:
        await runner.cleanup()


async def logged_in(client: httpx.AsyncClient, server: Server) -> str:
    """Log ``client`` in through a fresh link; returns the page's CSRF token."""
    response = await client.get(server.link())
    assert response.status_code == 303, response.text
    page = await client.get("/")
    assert page.status_code == 200
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)
