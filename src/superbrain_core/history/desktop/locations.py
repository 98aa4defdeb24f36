"""Where in an export file a reader is, so that every error names the spot.

An export can be gigabytes: "invalid JSON" without a place is useless. ijson's C
parser reports an error's position only as a snippet of the chunk it was
parsing, so :class:`TrackedReader` keeps that chunk (and counts the newlines
before it) to turn the snippet back into a byte offset, line and column, and
:class:`StreamPosition` adds the chat and message being read.
"""

from __future__ import annotations

import re
from typing import IO, Any

from superbrain_core.errors import InputError
from superbrain_core.history.desktop.peers import ExportChat


class TrackedReader:
    """A binary stream that counts what the parser has read, for progress and errors.

    The C parser reports an error's position only as a snippet of the chunk it
    was parsing; keeping that chunk (and the newlines before it) turns the
    snippet back into a byte offset, line and column.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.offset = 0
        self.chunk = b""
        self.chunk_start = 0
        #: The chunk before ``chunk``: a string the parser was building may have
        #: started there, so a bad byte in it can surface only now.
        self.previous = b""
        self._lines_before_chunk = 0
        self._line_start_before_chunk = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if not data:
            # End of file: keep the last data, so the end is located in it.
            return data
        self._lines_before_chunk += self.chunk.count(b"\n")
        newline = self.chunk.rfind(b"\n")
        if newline >= 0:
            self._line_start_before_chunk = self.chunk_start + newline + 1
        self.chunk_start = self.offset
        self.previous = self.chunk
        self.chunk = data
        self.offset += len(data)
        return data

    def position(self, offset: int) -> tuple[int, int] | None:
        """``(line, column)``, 1-based, of a byte offset inside the current chunk."""
        inside = offset - self.chunk_start
        if not 0 <= inside <= len(self.chunk):
            return None
        before = self.chunk[:inside]
        line = self._lines_before_chunk + before.count(b"\n") + 1
        newline = before.rfind(b"\n")
        # A line may have begun in an earlier chunk (a minified export is one line).
        line_start = (
            self.chunk_start + newline + 1 if newline >= 0 else self._line_start_before_chunk
        )
        return line, offset - line_start + 1


def locate_in_chunk(message: str, reader: TrackedReader) -> int | None:
    """The byte offset yajl's error snippet points at, when it can be found exactly.

    yajl renders up to 30 bytes before the error, newlines as spaces, so that
    the error byte sits under the caret of ``(right here) ------^``.
    """
    lines = message.split("\n")
    for i, line in enumerate(lines[1:], start=1):
        caret = line.find("------^")
        if caret < 0:
            continue
        column = caret + len("------^") - 1
        context = lines[i - 1]
        before = context[:column].lstrip(" ")
        if not before:
            return None
        needle = before.encode("utf-8", "surrogateescape")
        hay = reader.chunk.replace(b"\n", b" ").replace(b"\r", b" ")
        found = hay.find(needle)
        if found < 0 or hay.find(needle, found + 1) >= 0:
            return None
        return reader.chunk_start + found + len(needle)
    return None


def invalid_utf8(reader: TrackedReader) -> tuple[int, str] | None:
    """The byte offset of the first byte that is not UTF-8 in what the parser has in hand
    (the last two chunks), and why; ``None`` when they decode.

    A chunk boundary may cut a character in two: continuation bytes at the start
    of the kept bytes and a character left unfinished at their end are not errors.
    """
    data = reader.previous + reader.chunk
    base = reader.chunk_start - len(reader.previous)
    skip = 0
    if base > 0:
        while skip < min(3, len(data)) and 0x80 <= data[skip] <= 0xBF:
            skip += 1
    try:
        data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(data) - skip:
            return None  # unfinished at the end of what was read: the rest is still to come
        return base + skip + exc.start, f"byte 0x{data[skip + exc.start]:02x}: {exc.reason}"
    return None


_SURROGATE_ESCAPE = re.compile(
    rb"\\u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?|\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def lone_surrogate_escape_in(data: bytes) -> bool:
    """Whether ``data`` holds a ``\\uD800``-``\\uDFFF`` escape that is not half of a pair."""
    return any(m.group(1) is None or m.group(2) is None for m in _SURROGATE_ESCAPE.finditer(data))


def lone_surrogate_escape(reader: TrackedReader) -> int | None:
    """The byte offset of the first ``\\uD800``-``\\uDFFF`` escape in the last two chunks
    that is not half of a high-low pair (a lone surrogate, which UTF-8 cannot encode);
    ``None`` when there is none."""
    data = reader.previous + reader.chunk
    base = reader.chunk_start - len(reader.previous)
    for match in _SURROGATE_ESCAPE.finditer(data):
        if match.group(1) is None or match.group(2) is None:
            return base + match.start()
    return None


class StreamPosition:
    """Where an export stream is: the bytes read, and the chat and message being read.

    Errors about the file are made here (:meth:`error`), so each names the byte
    offset (exact where the parser allows it, else the range it was reading),
    line and column, and the chat and message it was in.
    """

    def __init__(self, reader: TrackedReader, source: str) -> None:
        self.reader = reader
        self.source = source
        self.chat: ExportChat | None = None
        """The chat whose messages are being read; ``None`` before its messages."""
        self.current_id: Any = None
        """The ``id`` of the message being read (or read last)."""
        self.last_id: Any = None
        """The ``id`` of the last message handed out."""

    def enter_chat(self) -> None:
        """A new chat object starts: no chat or message is known yet."""
        self.chat = None
        self.current_id = self.last_id = None

    def where(self, *, in_last: bool = False) -> str:
        """The chat and message the reader is at; ``in_last`` when the message read last
        is itself the bad one (it parsed, but cannot be stored)."""
        chat = self.chat.describe() if self.chat else "no chat yet"
        if self.current_id is not None and (in_last or self.current_id != self.last_id):
            return f"{chat}, in message {self.current_id!r}"
        if self.last_id is not None:
            return f"{chat}, after message {self.last_id!r}"
        return chat

    def error(self, reason: str, offset: int | None = None, *, in_last: bool = False) -> InputError:
        located = self.reader.position(offset) if offset is not None else None
        if offset is None:
            reason = f"{reason} (somewhere in bytes {self.reader.chunk_start}-{self.reader.offset})"
        return InputError(
            f"{reason}; {self.where(in_last=in_last)}",
            source=self.source,
            line=located[0] if located else None,
            column=located[1] if located else None,
            offset=offset,
        )
