"""The web application: one factory wiring the store, the access rules and the pages.

``superbrain web`` runs it (:func:`serve`); tests build it around a store of
their own with :func:`create_app`.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
from aiohttp import web

from superbrain_core.files import FileStore
from superbrain_core.logs import get_logger
from superbrain_core.storage.base import Store
from superbrain_core.web import archive_pages, pages, security
from superbrain_core.web.context import FILES, RENDER, STORE, FileBytes
from superbrain_core.web.render import STATIC, renderer
from superbrain_core.web.security import Access

log = get_logger(__name__)

DEFAULT_LISTEN = "127.0.0.1:8765"


def create_app(store: Store, access: Access, files: FileBytes, zone: ZoneInfo) -> web.Application:
    """The application over an open ``store`` (the caller opens and closes it)."""
    app = web.Application(client_max_size=256 * 1024)
    app[STORE] = store
    app[RENDER] = renderer(zone)
    app[FILES] = files
    security.install(app, access)
    pages.install(app)
    archive_pages.install(app)
    app.router.add_static("/static", STATIC, follow_symlinks=False)
    return app


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets); ``ValueError`` with the reason."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


async def serve(
    store: Store,
    access: Access,
    files: FileBytes,
    zone: ZoneInfo,
    listen: str,
    *,
    started: anyio.Event | None = None,
) -> None:
    """Serve until cancelled."""
    host, port = parse_listen(listen)
    runner = web.AppRunner(create_app(store, access, files, zone), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("web_listening", listen=listen)
        if started is not None:
            started.set()
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()


def file_roots(files_dir: Path, db_url: str, bucket: FileStore | None = None) -> FileBytes:
    """``bucket`` first, then the data dir's ``files/``, and for a SQLite file the
    ``files/`` beside it."""
    roots = [files_dir]
    if db_url.startswith("sqlite:///") and ":memory:" not in db_url:
        roots.append(Path(db_url[len("sqlite:///") :].split("?", 1)[0]).parent / "files")
    return FileBytes.at(*roots, first=bucket)
