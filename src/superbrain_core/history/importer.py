"""Importing a Telegram Desktop export: the loop between the file, the FileStore and the Store.

:func:`import_desktop_export` reads ``result.json`` as a stream
(:mod:`superbrain_core.history.desktop`), in batches: while one batch is being
stored, the next is parsed in a worker thread, so memory holds a few batches
whatever the export's size. Each batch is one :meth:`Store.import_messages`
call, hence one transaction: a batch is stored whole or not at all, and when
the file turns out malformed or truncated, every complete message before the
bad spot is stored first and then the error is raised, naming the spot. A bad
value inside one message (an id past 64 bits, an impossible date, nesting past
:data:`~superbrain_core.history.desktop.MAX_MESSAGE_DEPTH`) is that message's
problem, listed in the report: the message is stored raw, or skipped when it
cannot be keyed, and the import goes on.

**Files.** A message names files by paths relative to the export folder. Such a
path is untrusted: it is resolved (symlinks included) and refused unless it
stays inside the folder, and a refused path is never opened, only reported and
recorded in the file row's reason. Files that are there are streamed through
SHA-256 into the FileStore, which keeps one copy per hash, so bytes the bot
already downloaded are not stored again. Missing files and Telegram's
``(File not included…)`` placeholders keep their descriptor with status
``missing`` and the reason. Files are only copied for messages that are not
stored yet, so a re-import reads no media at all. A batch's files are copied
several at a time (each copy waits on an fsync), except files that may be the
same bytes, which keep the export's order (:func:`_import_files`).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path, PureWindowsPath
from typing import IO, Any
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
import attrs

from superbrain_core.errors import FileSizeMismatchError, InputError
from superbrain_core.files import FileStore
from superbrain_core.history.desktop import (
    ExportFileRef,
    ExportMessage,
    ExportStream,
    MessageMapper,
    RawExportMessage,
    UnusableMessage,
)
from superbrain_core.history.file_retry import (
    SourceReadError,
    save_again,
    save_failed_reason,
    source_chunks,
    unsaved_files,
)
from superbrain_core.models import FileStatus, ImportedFile, ImportedMessage, RawFile
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.taskgroups import single_errors

#: ``raw_messages.source`` of imported messages.
SOURCE = "desktop_export"
DEFAULT_BATCH = 5000
#: The size of the first batch of an import (see :class:`_Batches`).
FIRST_BATCH = 500
#: At most this many problems and refusals are listed; the rest are counted.
MAX_LISTED = 200


@attrs.define
class ImportReport:
    """What an import stored and what it could not, for the CLI's summary."""

    source: str = ""
    chats: int = 0
    messages_new: int = 0
    messages_present: int = 0
    files_stored: int = 0
    """New bytes written to the FileStore."""
    files_deduplicated: int = 0
    """Bytes the FileStore already had (downloaded by the bot, or earlier in the export)."""
    files_missing: int = 0
    files_failed: int = 0
    files_refused: int = 0
    files_unsaved: int = 0
    """Read from the export but not saved (the FileStore failed): retried by the next
    import of this export or ``superbrain files retry``."""
    files_recovered: int = 0
    """Files an earlier import could not save, saved by this one."""
    unsaved: list[str] = attrs.field(factory=list)
    """``path: why`` of the files not saved (listed on stderr), at most ``MAX_LISTED``."""
    refusals: list[str] = attrs.field(factory=list)
    problems: list[str] = attrs.field(factory=list)
    unlisted: int = 0
    bytes_read: int = 0
    bytes_total: int = 0

    @property
    def messages(self) -> int:
        return self.messages_new + self.messages_present

    def note(self, bucket: list[str], line: str) -> None:
        if len(self.refusals) + len(self.problems) < MAX_LISTED:
            bucket.append(line)
        else:
            self.unlisted += 1


class RefusedPath(Exception):
    """A path in the export that must not be opened (outside the folder, not a file)."""


def locate_export(path: str | Path) -> tuple[Path, Path]:
    """``(result.json, export folder)`` for a folder or a ``result.json`` path."""
    given = Path(path)
    if given.is_dir():
        result = given / "result.json"
        if not result.is_file():
            hint = (
                "an HTML export? Export again with format JSON, then pass"
                if (given / "messages.html").exists()
                else "pass"
            )
            raise InputError(
                f"no result.json found in this folder; {hint} the folder Telegram Desktop"
                " wrote the JSON export to (it holds result.json), or result.json itself",
                source=str(given),
            )
        return result, given
    if not given.is_file():
        raise InputError(
            "no such file or folder; pass the export folder (it holds result.json)"
            " or result.json itself",
            source=str(given),
        )
    return given, given.parent


def _prepare(path: str | Path) -> tuple[Path, str, int]:
    result_json, folder = locate_export(path)
    return result_json, os.path.realpath(folder), result_json.stat().st_size


def open_inside(root: str, relative: str) -> IO[bytes]:
    """Open ``relative`` for reading only if it is a regular file inside ``root``.

    ``root`` must be a real path (``os.path.realpath``). The path is resolved
    with every symlink followed and must stay inside ``root``; the final
    component is then opened without following a symlink (``O_NOFOLLOW``), so
    one swapped in after the check is refused too, and non-blocking, so a FIFO
    planted in the export cannot hang the import. What was opened must then be
    the checked file (:func:`_same_file`), which catches a folder on the way
    swapped for a symlink. Raises :class:`RefusedPath`,
    or ``FileNotFoundError``/``OSError`` for a file that is simply not there.
    """
    if "\x00" in relative:
        raise RefusedPath("the path contains a NUL character")
    if os.path.isabs(relative) or PureWindowsPath(relative).anchor:
        raise RefusedPath("absolute paths are not allowed")
    resolved = _resolve(root, relative)
    if os.path.commonpath([root, resolved]) != root:
        raise RefusedPath("it points outside the export folder")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(resolved, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if os.path.islink(resolved):
            raise RefusedPath("it became a symlink while being opened") from exc
        raise
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise RefusedPath("it is not a regular file")
        _same_file(opened, resolved)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _resolve(root: str, relative: str) -> str:
    """The checked path: every symlink followed (a seam for tests of the race below)."""
    return os.path.realpath(os.path.join(root, relative))


def _same_file(opened: os.stat_result, resolved: str) -> None:
    """Refuse when what was opened is not the file the check resolved.

    ``O_NOFOLLOW`` guards only the last component: a folder on the way swapped
    for a symlink between the check and the open leads somewhere else. The path
    is resolved again now; a different device and inode, or a path that changed
    meanwhile, means the opened file is not the checked one.
    """
    try:
        now = os.stat(resolved, follow_symlinks=False)
    except OSError as exc:
        raise RefusedPath("it changed while being opened") from exc
    if (opened.st_dev, opened.st_ino) != (now.st_dev, now.st_ino) or (
        os.path.realpath(resolved) != resolved
    ):
        raise RefusedPath("it changed while being opened (not the file that was checked)")


@attrs.frozen
class _Batch:
    """Messages to store and the problems met while reading them, handed over together
    so no list is shared between the parsing thread and the storing task."""

    messages: list[ExportMessage]
    problems: list[str]


class _Batches:
    """Parse batches of messages from an export stream, one call per batch (in a worker
    thread); a bad spot ends the stream, and the batch read before it is still returned."""

    def __init__(self, stream: ExportStream, mapper: MessageMapper, size: int) -> None:
        self._stream = stream
        self._items: Iterator[RawExportMessage] = iter(stream)
        self._mapper = mapper
        self._full = size
        # The first batches are small, so storing starts early and overlaps the
        # parsing of the rest; sizes then double up to ``size``.
        self._size = min(size, FIRST_BATCH)
        self.error: InputError | None = None
        self.done = False

    def next(self) -> _Batch:
        batch = _Batch([], [])
        try:
            for raw in self._items:
                if raw.problem is not None:
                    batch.problems.append(raw.problem)
                    continue
                if not isinstance(raw.data, dict):
                    raise self._stream.error(
                        f"a message is a JSON {type(raw.data).__name__}, not an object"
                    )
                try:
                    exported = self._mapper.map(raw.chat, raw.data)
                except UnusableMessage as exc:
                    batch.problems.append(str(exc))
                    continue
                except ValueError as exc:
                    raise self._stream.error(str(exc), in_last="id" in raw.data) from exc
                batch.messages.append(exported)
                batch.problems.extend(exported.problems)
                if len(batch.messages) >= self._size:
                    self._size = min(self._full, self._size * 2)
                    return batch
        except InputError as exc:
            self.error = exc
        self.done = True
        return batch


async def import_desktop_export(
    store: Store,
    files: FileStore,
    path: str | Path,
    *,
    timezone: str = "Europe/Moscow",
    options: CaptureOptions | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import one export (its folder or its ``result.json``) into ``store`` and ``files``.

    ``timezone`` is the exporting computer's, used only for exports older than
    ``date_unixtime`` (2022), whose dates are local wall-clock text. Raises
    :class:`InputError` for a malformed or truncated file after storing
    everything before the bad spot; ``on_progress`` gets the running report
    after every stored batch.
    """
    result_json, root, size = await anyio.to_thread.run_sync(_prepare, path)
    opts = options or CaptureOptions(source=SOURCE)
    report = ImportReport(source=str(result_json), bytes_total=size)
    mapper = MessageMapper(ZoneInfo(timezone))
    # Files an earlier import read but could not save: saved again as their
    # (already stored) messages come by.
    unsaved = await unsaved_files(store)
    with result_json.open("rb") as raw:
        stream = ExportStream(raw, str(result_json))
        batches = _Batches(stream, mapper, batch_size)
        send, receive = anyio.create_memory_object_stream[_Batch](max_buffer_size=1)

        async def parse() -> None:
            async with send:
                while not batches.done:
                    batch = await anyio.to_thread.run_sync(batches.next)
                    if batch.messages or batch.problems:
                        await send.send(batch)

        async def store_all() -> None:
            async with receive:
                async for batch in receive:
                    if batch.messages:
                        await _store_batch(
                            store, files, root, batch.messages, opts, report, unsaved
                        )
                    report.chats = stream.chats
                    report.bytes_read = stream.offset
                    for problem in batch.problems:
                        report.note(report.problems, problem)
                    if on_progress is not None:
                        on_progress(report)

        await _run_both(parse, store_all)
        report.chats = stream.chats
        report.bytes_read = stream.offset
    if report.messages_new:
        await _refresh_search(store)
    if batches.error is not None:
        raise batches.error
    if report.chats == 0:
        raise InputError(
            "no chats with messages found: is this a Telegram Desktop JSON export?",
            source=str(result_json),
        )
    return report


async def _run_both(
    parse: Callable[[], Coroutine[Any, Any, None]], store_all: Callable[[], Awaitable[None]]
) -> None:
    """Run the parser and the writer side by side; a failure in either is raised as
    itself, not wrapped in an ``ExceptionGroup``, so callers (the CLI) can tell a
    storage error from bad input. The other side's closed stream is a consequence."""
    with single_errors():
        async with anyio.create_task_group() as tg:
            tg.start_soon(parse)
            await store_all()


async def _refresh_search(store: Store) -> None:
    """Index what the import added now, when the store indexes lazily (SQLite), so the
    first search afterwards does not pay for the whole import."""
    refresh = getattr(store, "refresh_search_index", None)
    if refresh is not None:
        await refresh()


async def _store_batch(
    store: Store,
    files: FileStore,
    root: str,
    batch: list[ExportMessage],
    opts: CaptureOptions,
    report: ImportReport,
    unsaved: dict[tuple[int, int], list[RawFile]],
) -> None:
    with_paths = [
        (m.message.chat_id, m.message.message_id)
        for m in batch
        if any(ref.path is not None for ref in m.files)
    ]
    known = await store.stored_message_keys(with_paths) if with_paths else set()
    for key in known & unsaved.keys():
        for f in unsaved.pop(key):
            problem = await save_again(store, files, f, open_inside, root=root)
            if problem is None:
                report.files_recovered += 1
            else:
                report.files_unsaved += 1
                if len(report.unsaved) < MAX_LISTED:
                    report.unsaved.append(f"{key[0]}:{key[1]}: {problem}")
    wanted = [
        (n, ref)
        for n, exported in enumerate(batch)
        if exported.files and (exported.message.chat_id, exported.message.message_id) not in known
        for ref in exported.files
    ]
    found = await _import_files(files, root, [ref for _, ref in wanted])
    # The outcomes of each message's files (most messages have none).
    per_message: dict[int, list[tuple[ImportedFile, str]]] = {}
    for (n, _), outcome in zip(wanted, found, strict=True):
        per_message.setdefault(n, []).append(outcome)
    items = [ImportedMessage(exported.message) for exported in batch]
    for n, done in per_message.items():
        exported = batch[n]
        key = (exported.message.chat_id, exported.message.message_id)
        for ref, (file, kind) in zip(exported.files, done, strict=True):
            if kind == "refused":
                where = f"{exported.chat.describe()}, message {key[1]}"
                report.note(report.refusals, f"{ref.path}: {file.reason} ({where})")
            elif kind == "unsaved" and len(report.unsaved) < MAX_LISTED:
                report.unsaved.append(f"{key[0]}:{key[1]}: {ref.path}: {file.reason}")
        items[n] = ImportedMessage(exported.message, tuple(f for f, _ in done))
    result = await store.import_messages(items, opts)
    added = sum(1 for raw_id in result.raw_message_ids if raw_id is not None)
    report.messages_new += added
    report.messages_present += len(items) - added
    for n, done in per_message.items():
        if result.raw_message_ids[n] is None:
            continue
        for _, kind in done:
            if kind == "stored":
                report.files_stored += 1
            elif kind == "deduplicated":
                report.files_deduplicated += 1
            elif kind == "refused":
                report.files_refused += 1
            elif kind == "failed":
                report.files_failed += 1
            elif kind == "unsaved":
                report.files_unsaved += 1
            else:
                report.files_missing += 1


#: Files of one batch copied into the FileStore at once (each ends with an fsync).
FILES_AT_ONCE = 8
#: Bytes read ahead of a copy to tell files apart (:func:`_fingerprints`).
_HEAD_BYTES = 64 * 1024


async def _import_files(
    files: FileStore, root: str, refs: list[ExportFileRef]
) -> list[tuple[ImportedFile, str]]:
    """:func:`_import_file` for each reference, in order, several at a time.

    Copying a file ends with an fsync, so one after the other a batch waits on
    the disk once per file. They run :data:`FILES_AT_ONCE` at a time instead,
    with one rule that keeps the report what the sequential order gave: files
    that may hold the same bytes (same size, same first :data:`_HEAD_BYTES`) are
    copied one after the other in the batch's order, so the first copy is the
    one counted as stored and the later ones as deduplicated.
    """
    found: list[tuple[ImportedFile, str] | None] = [None] * len(refs)
    on_disk = [(n, ref) for n, ref in enumerate(refs) if ref.path is not None]
    for n, ref in enumerate(refs):
        if ref.path is None:
            found[n] = await _import_file(files, root, ref)
    if on_disk:
        prints = await anyio.to_thread.run_sync(
            _fingerprints, root, [ref.path for _, ref in on_disk]
        )
        alike: dict[tuple[int, bytes] | None, list[tuple[int, ExportFileRef]]] = {}
        for job, key in zip(on_disk, prints, strict=True):
            alike.setdefault(key, []).append(job)
        limit = anyio.CapacityLimiter(FILES_AT_ONCE)

        async def copy(jobs: list[tuple[int, ExportFileRef]]) -> None:
            async with limit:
                for n, ref in jobs:
                    found[n] = await _import_file(files, root, ref)

        with single_errors():
            async with anyio.create_task_group() as tg:
                for jobs in alike.values():
                    tg.start_soon(copy, jobs)
    return [f for f in found if f is not None]


def _fingerprints(root: str, paths: list[str | None]) -> list[tuple[int, bytes] | None]:
    """Each file's size and a hash of its first bytes as they look now, only to group
    files that may hold the same bytes; ``None`` for one that cannot be read or is
    refused. Opened the one safe way (:func:`open_inside`), like the copy itself."""
    found: list[tuple[int, bytes] | None] = []
    for path in paths:
        try:
            with open_inside(root, path or "") as handle:
                head = handle.read(_HEAD_BYTES)
                size = os.fstat(handle.fileno()).st_size
        except (RefusedPath, OSError, ValueError):
            found.append(None)
            continue
        found.append((size, hashlib.sha256(head).digest()))
    return found


async def _import_file(files: FileStore, root: str, ref: ExportFileRef) -> tuple[ImportedFile, str]:
    """The file row for one reference, and what happened: stored, deduplicated,
    missing, failed (reading), unsaved (writing) or refused."""
    desc = ref.descriptor
    if ref.path is None:
        return ImportedFile(desc, FileStatus.MISSING, f"not in the export: {ref.note}"), "missing"
    try:
        handle = await anyio.to_thread.run_sync(open_inside, root, ref.path)
    except RefusedPath as exc:
        return ImportedFile(desc, FileStatus.MISSING, f"refused: {exc}"), "refused"
    except FileNotFoundError:
        reason = "not in the export folder (exported without media, or moved)"
        return ImportedFile(desc, FileStatus.MISSING, reason), "missing"
    except OSError as exc:
        reason = f"cannot read it: {exc.strerror or exc}"
        return ImportedFile(desc, FileStatus.FAILED, reason), "failed"
    try:
        size = os.fstat(handle.fileno()).st_size
        blob = await files.put(source_chunks(handle), expected_size=size)
    except (FileSizeMismatchError, SourceReadError) as exc:
        reason = f"reading it failed: {exc}"
        return ImportedFile(desc, FileStatus.FAILED, reason), "failed"
    except OSError as exc:  # the FileStore could not write: not the export's fault
        reason = save_failed_reason(exc, ref.path, root)
        return ImportedFile(desc, FileStatus.FAILED, reason), "unsaved"
    finally:
        handle.close()
    described = attrs.evolve(desc, file_size=blob.size)
    stored = ImportedFile(described, FileStatus.STORED, file_hash=blob.sha256, file_path=blob.path)
    return stored, "stored" if blob.created else "deduplicated"
