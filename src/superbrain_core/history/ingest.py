"""Reading Bot API updates from files: every shape people actually have.

Accepted: one Update object, a JSON array of updates, a ``getUpdates`` reply
(``{"ok": true, "result": [...]}``), or JSON Lines / concatenated objects.
Values are decoded one at a time and stored in batches, so when the input goes
bad half-way (a truncated download, a stray line) everything before the bad spot
is already stored and the error names the exact line and column.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs

from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.errors import InputError, NotAnUpdateError
from superbrain_core.models import NormalizedUpdate
from superbrain_core.telegram import normalize_update

_WS = re.compile(r"[ \t\n\r]*")
_ENVELOPE = re.compile(
    r'\{[ \t\n\r]*"ok"[ \t\n\r]*:[ \t\n\r]*true[ \t\n\r]*,[ \t\n\r]*"result"[ \t\n\r]*:[ \t\n\r]*\['
)
_DECODER = json.JSONDecoder()

DEFAULT_BATCH = 2000


@attrs.frozen
class Located:
    """A decoded JSON value and the character offset where it started."""

    value: Any
    offset: int


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _error(text: str, source: str, offset: int, message: str) -> InputError:
    line, column = _position(text, offset)
    return InputError(message, source=source, line=line, column=column, offset=offset)


def _skip_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _decode_at(text: str, pos: int, source: str) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        reason = exc.msg
        # A string with no closing quote runs to the end of the input, so it is
        # truncation just like an error at the very end.
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            reason = f"unexpected end of input ({exc.msg}); the file looks truncated"
        raise _error(text, source, exc.pos, f"invalid JSON: {reason}") from exc


def _iter_array(text: str, pos: int, source: str) -> Generator[Located, None, int]:
    """Elements of the JSON array whose ``[`` is at ``pos``, one at a time.

    Returns the offset just past the closing ``]``.
    """
    truncated = "unexpected end of input inside an array; the file looks truncated"
    pos = _skip_ws(text, pos + 1)
    if pos < len(text) and text[pos] == "]":
        return pos + 1
    while True:
        if pos >= len(text):
            raise _error(text, source, pos, truncated)
        value, end = _decode_at(text, pos, source)
        yield Located(value, pos)
        pos = _skip_ws(text, end)
        if pos >= len(text):
            raise _error(text, source, pos, truncated)
        if text[pos] == "]":
            return pos + 1
        if text[pos] != ",":
            raise _error(text, source, pos, f"expected ',' or ']' in array, found {text[pos]!r}")
        pos = _skip_ws(text, pos + 1)


def iter_json_values(text: str, source: str = "<input>") -> Iterator[Located]:
    """The update-shaped values in ``text``, whichever of the accepted shapes it has."""
    pos = _skip_ws(text, 0)
    if text.startswith("\ufeff", pos):  # a byte-order mark some editors add
        pos = _skip_ws(text, pos + 1)
    if pos >= len(text):
        raise _error(text, source, pos, "empty input: no updates")
    first = text[pos]
    if first == "[":
        end = yield from _iter_array(text, pos, source)
        _expect_nothing_after(text, source, end)
        return
    if first != "{":
        raise _error(text, source, pos, f"expected a JSON object or array, found {first!r}")
    envelope = _ENVELOPE.match(text, pos)
    if envelope:
        end = yield from _iter_array(text, envelope.end() - 1, source)
        close = _skip_ws(text, end)
        if close >= len(text) or text[close] != "}":
            raise _error(text, source, close, "getUpdates reply is not closed with '}'")
        _expect_nothing_after(text, source, close + 1)
        return
    # One object, JSON Lines, or concatenated (possibly pretty-printed) objects.
    value, end = _decode_at(text, pos, source)
    yield from _unwrap(value, pos)
    rest = _skip_ws(text, end)
    if rest < len(text) and "\n" not in text[pos:end] and "\n" in text[end:rest]:
        # JSON Lines: each line stands alone, so a line cut short is reported at
        # that line instead of swallowing the next one.
        yield from _iter_lines(text, rest, source)
        return
    pos = rest
    while pos < len(text):
        value, end = _decode_at(text, pos, source)
        yield from _unwrap(value, pos)
        pos = _skip_ws(text, end)


def _unwrap(value: Any, pos: int) -> Iterator[Located]:
    if (
        isinstance(value, dict)
        and "update_id" not in value
        and value.get("ok") is True
        and isinstance(value.get("result"), list)
    ):
        # A getUpdates reply with its keys in another order: decoded whole.
        for item in value["result"]:
            yield Located(item, pos)
    else:
        yield Located(value, pos)


def _iter_lines(text: str, pos: int, source: str) -> Iterator[Located]:
    while pos < len(text):
        line_end = text.find("\n", pos)
        if line_end < 0:
            line_end = len(text)
        line = text[pos:line_end]
        if line.strip():
            start = len(line) - len(line.lstrip())
            try:
                value, end = _DECODER.raw_decode(line, start)
            except json.JSONDecodeError as exc:
                raise _error(text, source, pos + exc.pos, f"invalid JSON line: {exc.msg}") from exc
            if line[end:].strip():
                raise _error(
                    text, source, pos + end, "unexpected content after the JSON value on this line"
                )
            yield from _unwrap(value, pos + start)
        pos = line_end + 1


def _expect_nothing_after(text: str, source: str, pos: int) -> None:
    pos = _skip_ws(text, pos)
    if pos < len(text):
        raise _error(text, source, pos, "unexpected content after the end of the JSON value")


@attrs.define
class IngestReport:
    """What an ingest run stored, per file and in total."""

    tally: CaptureTally = attrs.field(factory=CaptureTally)
    files: dict[str, CaptureTally] = attrs.field(factory=dict)


def read_source(path: str) -> tuple[str, str]:
    """``(text, name)`` of a path, ``-`` meaning standard input."""
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
    send, receive = anyio.create_memory_object_stream[list[NormalizedUpdate]](max_buffer_size=1)

    async def store_batches() -> None:
        async with receive:
            async for batch in receive:
                results = await capturer.capture_normalized(batch)
                tally.add_all(results, batch)
                if on_progress is not None:
                    on_progress(len(batch))

    bad_input: InputError | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(store_batches)
        async with send:
            batch: list[NormalizedUpdate] = []
            try:
                for located in iter_json_values(text, source):
                    batch.append(_normalize_located(located, text, source))
                    if len(batch) >= batch_size:
                        await send.send(batch)
                        batch = []
            except InputError as exc:
                bad_input = exc
            if batch:
                await send.send(batch)
    if bad_input is not None:
        raise bad_input
    return tally


def _normalize_located(located: Located, text: str, source: str) -> NormalizedUpdate:
    try:
        return normalize_update(located.value)
    except NotAnUpdateError as exc:
        line, column = _position(text, located.offset)
        raise NotAnUpdateError(
            exc.reason, source=source, line=line, column=column, offset=located.offset
        ) from exc


async def ingest_paths(
    capturer: Capturer,
    paths: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest several files in order; stops at the first bad input (see :func:`ingest_text`)."""
    report = IngestReport()
    for path in paths:
        text, name = await anyio.to_thread.run_sync(read_source, path)
        tally = await ingest_text(
            capturer, text, name, batch_size=batch_size, on_progress=on_progress
        )
        report.files[name] = tally
        report.tally.merge(tally)
    return report
