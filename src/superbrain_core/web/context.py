"""What every handler reads from the application: the store, the renderer, file bytes."""

from __future__ import annotations

from pathlib import Path

import attrs
from aiohttp import web

from superbrain_core.files import FileStore, LocalFileStore
from superbrain_core.storage.base import Store
from superbrain_core.web.render import Renderer


@attrs.frozen
class FileBytes:
    """Where file bytes are looked for, in order: a Supabase Storage bucket when one
    is configured, the data dir's ``files/``, and for a SQLite database the
    ``files/`` beside it, where the demo keeps them."""

    stores: tuple[FileStore, ...]

    @classmethod
    def at(cls, *roots: Path, first: FileStore | None = None) -> FileBytes:
        local = tuple(LocalFileStore(r) for r in dict.fromkeys(roots))
        return cls(((first,) if first is not None else ()) + local)

    async def read(self, sha256: str) -> bytes | None:
        for store in self.stores:
            if await store.exists(sha256):
                return await store.read(sha256)
        return None


STORE = web.AppKey("store", Store)
RENDER = web.AppKey("render", Renderer)
FILES = web.AppKey("files", FileBytes)
