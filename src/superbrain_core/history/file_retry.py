"""Attachments an import read but could not save, and saving them again.

A file the export holds but the FileStore could not write (a full disk, a
wrong ``--data-dir``, a Storage bucket that refused the upload) is not the
export's fault and must not be forgotten: its row gets status ``failed`` with a
reason that starts with :data:`SAVE_FAILED` and names where the bytes are (the
path inside the export and the export folder). The next ``import-desktop`` of
that export, or ``superbrain files retry``, reads them again and saves them.
A file the export could not give (unreadable, changed while read) keeps a
``reading it failed`` reason instead: retrying the save would not help.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import IO

import anyio
import anyio.to_thread
import attrs

from superbrain_core.errors import FileSizeMismatchError
from superbrain_core.files import FileStore
from superbrain_core.models import FileStatus, RawFile
from superbrain_core.storage.base import Store

#: How the reason of a file that was read but not saved begins.
SAVE_FAILED = "saving it failed: "
_SOURCE = "; source: "
_EXPORT = "; export: "
_READ_CHUNK = 1024 * 1024


class SourceReadError(Exception):
    """Reading the export's file failed (as opposed to saving its bytes)."""


def save_failed_reason(error: BaseException, relative: str, root: str) -> str:
    """The reason stored for a file that was read but could not be saved."""
    return f"{SAVE_FAILED}{error}{_SOURCE}{relative}{_EXPORT}{root}"


def unsaved_source(file: RawFile) -> tuple[str, str] | None:
    """``(path inside the export, export folder)`` of a file that failed to save."""
    reason = file.download_reason or ""
    if file.status is not FileStatus.FAILED or not reason.startswith(SAVE_FAILED):
        return None
    head, sep, root = reason.rpartition(_EXPORT)
    _, sep2, relative = head.rpartition(_SOURCE)
    if not sep or not sep2 or not relative:
        return None
    return relative, root


async def source_chunks(handle: IO[bytes]) -> AsyncIterator[bytes]:
    """The file's bytes; a read error comes out as :class:`SourceReadError`."""
    while True:
        try:
            chunk = await anyio.to_thread.run_sync(handle.read, _READ_CHUNK)
        except OSError as exc:
            raise SourceReadError(exc.strerror or str(exc)) from exc
        if not chunk:
            return
        yield chunk


async def unsaved_files(store: Store) -> dict[tuple[int, int], list[RawFile]]:
    """Every file that failed to save, by ``(chat_id, message_id)``."""
    found: dict[tuple[int, int], list[RawFile]] = {}
    after = 0
    while page := await store.list_files(status=FileStatus.FAILED, after_id=after):
        after = page[-1].id
        for f in page:
            if unsaved_source(f) is not None:
                found.setdefault((f.chat_id, f.message_id), []).append(f)
    return found


@attrs.define
class RetryOutcome:
    saved: int = 0
    failed: list[str] = attrs.field(factory=list)
    """``path: why`` for every file still not saved."""


async def save_again(
    store: Store,
    files: FileStore,
    file: RawFile,
    open_inside: Callable[[str, str], IO[bytes]],
    *,
    root: str | None = None,
) -> str | None:
    """Read a file that failed to save from its export (``root`` overrides the folder
    recorded) and save it; ``None`` when saved, else why not (also recorded)."""
    source = unsaved_source(file)
    if source is None:
        return "not a file that failed to save"
    relative, recorded_root = source
    where = root or recorded_root
    try:
        handle = await anyio.to_thread.run_sync(open_inside, where, relative)
    except Exception as exc:  # gone, moved, refused: say so and keep the row as it is
        return f"cannot open {relative} in {where}: {exc}"
    try:
        size = os.fstat(handle.fileno()).st_size
        blob = await files.put(source_chunks(handle), expected_size=size)
    except (SourceReadError, FileSizeMismatchError) as exc:
        return f"reading {relative} failed: {exc}"
    except OSError as exc:
        reason = save_failed_reason(exc, relative, where)
        await store.set_file_status(file.id, FileStatus.FAILED, reason=reason)
        return f"saving {relative} failed: {exc}"
    finally:
        handle.close()
    await store.set_file_status(
        file.id, FileStatus.STORED, file_hash=blob.sha256, file_path=blob.path
    )
    return None


async def retry_unsaved(
    store: Store, files: FileStore, open_inside: Callable[[str, str], IO[bytes]]
) -> RetryOutcome:
    """``superbrain files retry``: save every file that failed to save, from its export."""
    outcome = RetryOutcome()
    for group in (await unsaved_files(store)).values():
        for f in group:
            problem = await save_again(store, files, f, open_inside)
            if problem is None:
                outcome.saved += 1
            else:
                outcome.failed.append(f"{f.chat_id}:{f.message_id}: {problem}")
    return outcome
