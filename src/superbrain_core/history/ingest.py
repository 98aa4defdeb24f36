"""Storing Bot API updates from files: ``superbrain ingest``.

Accepted: one Update object, a JSON array of updates, a ``getUpdates`` reply
(``{"ok": true, "result": [...]}``), or JSON Lines / concatenated objects.
Files and standard input are streamed (:mod:`~superbrain_core.history.update_stream`),
so memory stays flat whatever their size. Values are decoded one at a time and
stored in batches, so when the input goes bad half-way (a truncated download, a
stray line, a byte that is not UTF-8) everything before the bad spot is already
stored and the error names the exact ``file:line:column (offset N)``.

Hostile values are input errors with their place too, never a crash: JSON
nested more than :data:`MAX_DEPTH` levels, a number too long to read, an
``update_id`` outside the signed 64-bit range. A message whose ids do not fit in
64 bits is still a numbered update: it is stored raw and reported.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import anyio
import anyio.to_thread
import attrs

from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.errors import (
    InputError,
    NotAnUpdateError,
    StorageError,
    TransientStorageError,
)
from superbrain_core.history.update_stream import (
    CHUNK_BYTES,
    MAX_DEPTH,
    Located,
    UpdateInput,
    iter_json_stream,
    iter_json_values,
)
from superbrain_core.models import CaptureResult, NormalizedUpdate
from superbrain_core.telegram import normalize_update

DEFAULT_BATCH = 2000
#: The cyclic garbage collector's first threshold while an ingest runs (see
#: :func:`_fewer_collections`); Python's default is 700.
INGEST_GC_THRESHOLD = 20_000

__all__ = [
    "CHUNK_BYTES",
    "DEFAULT_BATCH",
    "MAX_DEPTH",
    "IngestReport",
    "Located",
    "ingest_paths",
    "ingest_stream",
    "ingest_text",
    "iter_json_stream",
    "iter_json_values",
    "read_source",
]


@attrs.define
class IngestReport:
    """What an ingest run stored, per file and in total, and the files that failed.

    ``errors`` is filled only with ``keep_going``: one :class:`InputError` per bad
    file, naming the spot; what came before it in that file is stored and counted.
    """

    tally: CaptureTally = attrs.field(factory=CaptureTally)
    files: dict[str, CaptureTally] = attrs.field(factory=dict)
    errors: list[InputError] = attrs.field(factory=list)


def read_source(path: str) -> tuple[str, str]:
    """``(text, name)`` of a path, ``-`` meaning standard input, read whole.

    :func:`ingest_paths` streams instead; this stays for callers that want the text.
    """
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", source=path) from exc
    try:
        return raw.decode("utf-8"), path
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte {exc.start}): Bot API JSON is UTF-8",
            source=path,
            offset=exc.start,
        ) from exc


async def ingest_text(
    capturer: Capturer,
    text: str,
    source: str,
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> CaptureTally:
    """Capture every update in ``text``; stored in batches, each batch atomic.

    Decoding and normalizing the next batch overlaps with storing the previous
    one (the store works in its own thread). On bad input every batch read so
    far is stored first, then :class:`InputError` is raised naming the spot:
    nothing before the error is lost.
    """
    tally = CaptureTally()
    await _ingest(capturer, UpdateInput.of_text(text, source), tally, batch_size, on_progress)
    return tally


async def ingest_stream(
    capturer: Capturer,
    raw: IO[bytes] | IO[str],
    source: str,
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_BYTES,
    tally: CaptureTally | None = None,
) -> CaptureTally:
    """:func:`ingest_text` for a stream (a file opened in binary, standard input),
    read ``chunk_size`` bytes at a time in a worker thread: memory stays flat.

    Pass ``tally`` to keep the counts of what was stored even when an error is raised.
    """
    tally = CaptureTally() if tally is None else tally
    stream = UpdateInput.of_stream(raw, source, chunk_size)
    await _ingest(capturer, stream, tally, batch_size, on_progress)
    return tally


@attrs.frozen
class _Batch:
    updates: list[NormalizedUpdate] = attrs.field(factory=list)
    where: list[Located] = attrs.field(factory=list)


_ingests_running = 0
_saved_threshold: tuple[int, int, int] = (700, 10, 10)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the young-generation garbage collection less often while ingesting.

    Decoding a batch allocates tens of thousands of dicts and lists that live
    until the batch is stored, and by default every 700 allocations start a
    collection that walks them all again: measured at 8% of an ingest's CPU
    time. Decoded JSON holds no reference cycles (reference counting frees it),
    so collecting every 20,000 allocations instead loses nothing. The setting is
    the process's, so it is put back when the last running ingest ends.
    """
    global _ingests_running, _saved_threshold
    if _ingests_running == 0:
        _saved_threshold = first, second, third = gc.get_threshold()
        gc.set_threshold(max(first, INGEST_GC_THRESHOLD), second, third)
    _ingests_running += 1
    try:
        yield
    finally:
        _ingests_running -= 1
        if _ingests_running == 0:
            gc.set_threshold(*_saved_threshold)


async def _ingest(
    capturer: Capturer,
    stream: UpdateInput,
    tally: CaptureTally,
    batch_size: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    with _fewer_collections():
        await _ingest_batches(capturer, stream, tally, batch_size, on_progress)


async def _ingest_batches(
    capturer: Capturer,
    stream: UpdateInput,
    tally: CaptureTally,
    batch_size: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    send, receive = anyio.create_memory_object_stream[_Batch](max_buffer_size=1)
    failure: list[Exception] = []

    async def store_batches() -> None:
        async with receive:
            async for batch in receive:
                try:
                    await _store(capturer, batch, tally, stream.source)
                except Exception as exc:
                    # Stop reading (the producer's next send fails) and report
                    # this, the first failure in input order.
                    failure.append(exc)
                    return
                if on_progress is not None:
                    on_progress(len(batch.updates))

    bad_input: InputError | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(store_batches)
        async with send:
            batch = _Batch()
            try:
                for item in stream.parser:
                    if not isinstance(item, Located):  # the parser wants more text
                        stream.take(await anyio.to_thread.run_sync(stream.read))
                        continue
                    batch.updates.append(_normalize(item, stream.source))
                    batch.where.append(item)
                    if len(batch.updates) >= batch_size:
                        await send.send(batch)
                        batch = _Batch()
            except InputError as exc:
                bad_input = exc
            except anyio.BrokenResourceError:
                batch = _Batch()  # storing failed; that error is the one to report
            if batch.updates:
                with contextlib.suppress(anyio.BrokenResourceError):
                    await send.send(batch)
    if failure:
        raise failure[0]
    if bad_input is not None:
        raise bad_input


async def _store(capturer: Capturer, batch: _Batch, tally: CaptureTally, source: str) -> None:
    """Store a batch atomically; when the store refuses it for another reason than
    an outage, store its updates one by one, so that every update before the one
    refused is kept and that one is named with its place."""
    try:
        results = await capturer.capture_normalized(batch.updates)
    except TransientStorageError:
        raise
    except Exception:
        for update, where in zip(batch.updates, batch.where, strict=True):
            await _store_one(capturer, update, where, tally, source)
        return
    tally.add_all(results, batch.updates)


async def _store_one(
    capturer: Capturer,
    update: NormalizedUpdate,
    where: Located,
    tally: CaptureTally,
    source: str,
) -> None:
    try:
        results: list[CaptureResult] = await capturer.capture_normalized([update])
    except TransientStorageError:
        raise
    except StorageError as exc:
        raise StorageError(
            f"{source}:{where.line}:{where.column} (offset {where.offset}):"
            f" update {update.update_id} could not be stored: {exc}"
        ) from exc
    except Exception as exc:
        raise InputError(
            f"update {update.update_id} cannot be stored ({type(exc).__name__}: {exc})",
            source=source,
            line=where.line,
            column=where.column,
            offset=where.offset,
        ) from exc
    tally.add_all(results, [update])


def _normalize(located: Located, source: str) -> NormalizedUpdate:
    try:
        return normalize_update(located.value)
    except NotAnUpdateError as exc:
        raise NotAnUpdateError(
            exc.reason,
            source=source,
            line=located.line,
            column=located.column,
            offset=located.offset,
        ) from exc


def _open(path: str) -> tuple[IO[bytes] | IO[str], str, bool]:
    """``(stream, name, close it)`` of a path, ``-`` meaning standard input."""
    if path == "-":
        if sys.stdin is None:
            raise InputError("there is no standard input to read", source="<stdin>")
        stdin: IO[bytes] | IO[str] = getattr(sys.stdin, "buffer", None) or sys.stdin
        return stdin, "<stdin>", False
    try:
        return open(path, "rb"), path, True  # closed by the caller
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", source=path) from exc


async def ingest_paths(
    capturer: Capturer,
    paths: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
    keep_going: bool = False,
    chunk_size: int = CHUNK_BYTES,
) -> IngestReport:
    """Ingest several files in order, each streamed (see :func:`ingest_stream`).

    Stops at the first bad input, raising its :class:`InputError` (everything
    before it is stored). With ``keep_going`` a bad file is noted in
    ``report.errors`` instead and the next file is read; storage failures stop
    the run either way.
    """
    report = IngestReport()
    for path in paths:
        tally = CaptureTally()
        name = "<stdin>" if path == "-" else path
        try:
            raw, name, owned = await anyio.to_thread.run_sync(_open, path)
            try:
                await ingest_stream(
                    capturer,
                    raw,
                    name,
                    batch_size=batch_size,
                    on_progress=on_progress,
                    chunk_size=chunk_size,
                    tally=tally,
                )
            finally:
                if owned:
                    raw.close()
        except InputError as exc:
            if not keep_going:
                raise
            report.errors.append(exc)
        finally:
            report.files[name] = tally
            report.tally.merge(tally)
    return report
