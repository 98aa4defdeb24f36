"""File bytes on the page: from the local content-addressed store or a Supabase
Storage bucket (respx plays Supabase), pictures inline, everything else as a
download, and a clear answer when the bytes are not there."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import fake_file, make_update
from superbrain_core.files import (
    LocalFileStore,
    SupabaseBucketFileStore,
    attach_bytes,
    blob_path,
    iter_chunks,
)
from superbrain_core.storage.sqlite.store import SqliteStore
from superbrain_core.web.app import file_roots
from superbrain_core.web.context import FileBytes
from tests.web.helpers import OWNER, T0, logged_in, serve

pytestmark = pytest.mark.anyio

PROJECT = "https://proj.supabase.co"


async def stored_files(store: SqliteStore, local: LocalFileStore) -> tuple[int, int, int]:
    """A photo and a document with bytes in ``local``, and a voice with none."""
    capturer = Capturer(store)
    await capturer.capture(
        make_update(1, message_id=1, date=T0, photo=[fake_file("photo", "p", 5)])
    )
    doc = dict(
        fake_file("document", "d", 4), file_name='Отчёт "Q4".pdf', mime_type="application/pdf"
    )
    await capturer.capture(make_update(2, message_id=2, date=T0, document=doc))
    await capturer.capture(make_update(3, message_id=3, date=T0, voice=fake_file("voice", "v", 3)))
    photo, document, voice = await store.list_files()
    await attach_bytes(store, local, photo, iter_chunks(b"\xff\xd8pic"))
    await attach_bytes(store, local, document, iter_chunks(b"%PDF"))
    return photo.id, document.id, voice.id


async def test_local_bytes_inline_pictures_and_downloads(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "f.db") as store:
        photo, document, voice = await stored_files(store, LocalFileStore(tmp_path / "files"))
        async with (
            serve(store, tmp_path) as server,
            httpx.AsyncClient(base_url=server.base_url) as c,
        ):
            await logged_in(c, server)
            pic = await c.get(f"/files/{photo}")
            assert pic.status_code == 200 and pic.content == b"\xff\xd8pic"
            assert pic.headers["Content-Type"] == "image/jpeg"
            assert pic.headers["Content-Disposition"].startswith("inline")
            assert pic.headers["X-Content-Type-Options"] == "nosniff"
            pdf = await c.get(f"/files/{document}")
            assert pdf.content == b"%PDF" and pdf.headers["Content-Type"] == "application/pdf"
            disposition = pdf.headers["Content-Disposition"]
            assert disposition.startswith("attachment;") and '"' not in disposition
            assert "%D0%9E%D1%82%D1%87%D1%91%D1%82" in disposition  # the name, percent-encoded
            assert (
                (await c.get(f"/files/{photo}?download=1"))
                .headers["Content-Disposition"]
                .startswith("attachment")
            )
            assert (await c.get(f"/files/{voice}")).status_code == 404  # never downloaded
            assert (await c.get("/files/999")).status_code == 404
            media = await c.get(f"/chats/{OWNER}/media")
            assert f'src="/files/{photo}"' in media.text
            files = await c.get(f"/chats/{OWNER}/files")
            assert f"/files/{document}?download=1" in files.text and "voice" in files.text


def test_a_sqlite_databases_own_files_folder_is_searched() -> None:
    found = file_roots(Path("data/files"), "sqlite:///data/demo/demo.db")
    roots = [s.root for s in found.stores if isinstance(s, LocalFileStore)]
    assert roots == [Path("data/files"), Path("data/demo/files")]
    assert len(file_roots(Path("d"), "postgresql://x/y").stores) == 1


async def test_bytes_come_from_the_bucket_first(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "b.db") as store:
        scratch = LocalFileStore(tmp_path / "scratch")  # hashes only: the page reads the bucket
        photo, document, _ = await stored_files(store, scratch)
        (pic,) = await store.files_of_message(OWNER, 1)
        (doc,) = await store.files_of_message(OWNER, 2)
        bucket = SupabaseBucketFileStore(PROJECT, "sb_secret_test", "brain-files")
        objects = f"{PROJECT}/storage/v1/object/authenticated/brain-files"
        with respx.mock(assert_all_called=False) as supabase:
            supabase.route(host="127.0.0.1").pass_through()
            supabase.head(f"{objects}/{blob_path(pic.file_hash or '')}").respond(200)
            supabase.get(f"{objects}/{blob_path(pic.file_hash or '')}").respond(
                200, content=b"from-bucket"
            )
            supabase.head(f"{objects}/{blob_path(doc.file_hash or '')}").respond(500)
            files = FileBytes.at(tmp_path / "nothing", first=bucket)
            async with serve(store, tmp_path, files=files) as server:
                async with httpx.AsyncClient(base_url=server.base_url) as c:
                    await logged_in(c, server)
                    assert (await c.get(f"/files/{photo}")).content == b"from-bucket"
                    broken = await c.get(f"/files/{document}")
                    assert broken.status_code == 502 and "did not answer" in broken.text
        await bucket.aclose()
