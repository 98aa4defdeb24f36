"""Bot API update dumps read as a stream of JSON values, in every shape people have.

Accepted: one Update object, a JSON array of updates, a ``getUpdates`` reply
(``{"ok": true, "result": [...]}``), or JSON Lines / concatenated objects.

Input is read in chunks (:data:`CHUNK_BYTES`) and decoded one value at a time
with the standard decoder, so memory stays flat whatever the input's size: what
is held is one chunk and the value being decoded. A value that spans chunks is
decoded again once more text is in, on text that at least doubles each time,
so even one huge value costs linear time. Each value comes with its offset,
line and column; every error is an :class:`InputError` naming the exact
``source:line:column (offset N)``, including for hostile values (JSON nested
more than :data:`MAX_DEPTH` levels, numbers too long to read, bytes that are
not UTF-8). Storing is :mod:`superbrain_core.history.ingest`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Generator, Iterator
from typing import IO, Any, NamedTuple

from superbrain_core import jsonutil
from superbrain_core.errors import InputError

_WS = re.compile(r"[ \t\n\r]*")
#: Any whitespace, as ``str.strip`` sees it: what JSON Lines tolerate around a value.
_SPACE = re.compile(r"\s*")
_COMMA = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")
#: ``{"ok": true, "result": [``, token by token (whitespace allowed between).
_ENVELOPE = ("{", '"ok"', ":", "true", ",", '"result"', ":", "[")
#: What may follow a number that a chunk boundary cut (``12|.5``, ``1e|7``).
_NUMBER_TAIL = re.compile(r"[0-9.eE+\-]*")
_DECODER = json.JSONDecoder()

#: Bytes read at a time from a file or standard input.
CHUNK_BYTES = 1 << 20
#: Containers one update may nest (Telegram's stay under twenty).
MAX_DEPTH = jsonutil.MAX_DEPTH
#: A decoding error this close to the end of the text read so far may be the
#: chunk boundary's doing (``tr|ue``, ``"\u12|34"``): it is retried with more text.
_SLACK = 32


class Located(NamedTuple):
    """A decoded JSON value and where it started: character offset, line and column.

    A named tuple, not an attrs class: one is made per update on the bulk path,
    and a frozen attrs instance costs several times as much to build.
    """

    value: Any
    offset: int
    line: int | None = None
    column: int | None = None


class _More:
    """What the parser yields when it needs more text than has been read."""


_MORE = _More()


class _Window:
    """The text read and not yet consumed, addressed by absolute character offsets.

    Text before ``keep`` is dropped when more is fed. Line numbers survive the
    drop: the newlines of dropped text are counted on the way, and a cursor
    resumes counting where the last position was asked for, so numbering every
    value costs one pass over the input in all.
    """

    def __init__(self, text: str = "", *, eof: bool = False) -> None:
        self.text = text
        self.eof = eof
        #: Set when the input goes bad at the end of the text (a byte that is not
        #: UTF-8): raised where the parser would need more text to go on.
        self.broken: InputError | None = None
        self.base = 0  # absolute offset of text[0]
        self.keep = 0  # absolute offset from which text is still needed
        self._base_line, self._base_line_start = 1, 0
        self._cursor, self._cursor_line, self._cursor_line_start = 0, 1, 0

    @property
    def end(self) -> int:
        return self.base + len(self.text)

    def at(self, offset: int) -> str:
        """The character at ``offset`` (empty past what has been read)."""
        i = offset - self.base
        return self.text[i : i + 1]

    def feed(self, chunk: str) -> None:
        cut = self.keep - self.base
        if cut > 0:
            line, column = self.position(self.keep)
            self._base_line, self._base_line_start = line, self.keep - column + 1
            self.text = self.text[cut:] + chunk
            self.base = self.keep
        else:
            self.text += chunk

    def position(self, offset: int) -> tuple[int, int]:
        """``(line, column)``, both 1-based, of an offset not yet dropped."""
        if offset >= self._cursor:
            start, line, line_start = self._cursor, self._cursor_line, self._cursor_line_start
        else:
            start, line, line_start = self.base, self._base_line, self._base_line_start
        i, j = start - self.base, offset - self.base
        newlines = self.text.count("\n", i, j)
        if newlines:
            line += newlines
            line_start = self.base + self.text.rfind("\n", i, j) + 1
        if offset >= self._cursor:
            self._cursor, self._cursor_line, self._cursor_line_start = offset, line, line_start
        return line, offset - line_start + 1

    def error(self, source: str, offset: int, message: str) -> InputError:
        line, column = self.position(offset)
        return InputError(message, source=source, line=line, column=column, offset=offset)

    def located(self, value: Any, offset: int) -> Located:
        line, column = self.position(offset)
        return Located(value, offset, line, column)


# -- the parser: a generator that yields values, and _MORE when it needs text ------


def _more(w: _Window) -> Iterator[_More]:
    """Ask for text until what is kept has doubled, or the input ends.

    Doubling keeps re-decoding linear: a value spanning many chunks is tried
    again only a logarithmic number of times, on ever larger text.
    """
    want, before = 2 * (w.end - w.keep), w.end
    while not w.eof:
        if w.broken is not None:
            if w.end > before:
                return  # look at the text that came before the bad spot first
            raise w.broken
        yield _MORE
        if w.end - w.keep >= want:
            return


def _skip_ws(w: _Window, pos: int) -> Generator[_More, None, tuple[int, bool]]:
    """The offset of the next non-space character (the end, at end of input), and
    whether a newline was passed on the way."""
    newline = False
    while True:
        i = pos - w.base
        match = _WS.match(w.text, i)
        j = match.end() if match else i
        newline = newline or w.text.find("\n", i, j) >= 0
        pos = w.base + j
        if j < len(w.text) or w.eof:
            return pos, newline
        w.keep = pos
        yield from _more(w)


def _too_deep(w: _Window, start: int, source: str) -> InputError:
    deep = jsonutil.nested_too_deep(w.text, start - w.base)
    offset = w.base + deep if deep is not None else start
    return w.error(
        source,
        offset,
        f"the JSON is nested more than {MAX_DEPTH} levels deep; no Telegram update is",
    )


def _long_number(w: _Window, start: int, source: str) -> InputError:
    limit = sys.get_int_max_str_digits()
    found = re.compile(rf"[0-9]{{{limit + 1},}}").search(w.text, start - w.base)
    offset = w.base + found.start() if found else start
    return w.error(
        source, offset, f"a number has more than {limit} digits; no Telegram value is that long"
    )


def _check_depth(w: _Window, start: int, end: int, source: str) -> None:
    deep = jsonutil.nested_too_deep(w.text, start - w.base, end - w.base)
    if deep is not None:
        raise w.error(
            source,
            w.base + deep,
            f"the JSON is nested more than {MAX_DEPTH} levels deep; no Telegram update is",
        )


def _cut_number(value: Any, text: str, end: int) -> bool:
    """Whether a number decoded up to ``end`` may go on past the end of ``text``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    tail = _NUMBER_TAIL.match(text, end)
    return tail is not None and tail.end() == len(text)


def _decode(w: _Window, pos: int, source: str) -> Generator[_More, None, tuple[Any, int]]:
    """The JSON value at ``pos`` and the offset just past it, reading more as needed."""
    w.keep = pos
    while True:
        text, i = w.text, pos - w.base
        try:
            value, j = _DECODER.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            unterminated = exc.msg.startswith("Unterminated string")
            if not w.eof and (unterminated or exc.pos >= len(text) - _SLACK):
                yield from _more(w)  # the value may go on in the next chunk
                continue
            reason = exc.msg
            # A string with no closing quote runs to the end of the input, so it
            # is truncation just like an error at the very end.
            if exc.pos >= len(text.rstrip()) or unterminated:
                reason = f"unexpected end of input ({exc.msg}); the file looks truncated"
            raise w.error(source, w.base + exc.pos, f"invalid JSON: {reason}") from exc
        except RecursionError:
            raise _too_deep(w, pos, source) from None
        except ValueError:  # an integer past the interpreter's digit limit
            raise _long_number(w, pos, source) from None
        if not w.eof and _cut_number(value, text, j):
            yield from _more(w)
            continue
        _check_depth(w, pos, w.base + j, source)
        return value, w.base + j


def _iter_array(w: _Window, pos: int, source: str) -> Generator[Located | _More, None, int]:
    """Elements of the JSON array whose ``[`` is at ``pos``, one at a time.

    Returns the offset just past the closing ``]``.
    """
    truncated = "unexpected end of input inside an array; the file looks truncated"
    pos, _ = yield from _skip_ws(w, pos + 1)
    if w.at(pos) == "]":
        return pos + 1
    while True:
        if pos >= w.end:
            raise w.error(source, pos, truncated)
        value, end = yield from _decode(w, pos, source)
        yield w.located(value, pos)
        # The usual case, with the next element already read: a comma between.
        comma = _COMMA.match(w.text, end - w.base)
        if comma is not None and comma.end() < len(w.text):
            pos = w.base + comma.end()
            continue
        pos, _ = yield from _skip_ws(w, end)
        if pos >= w.end:
            raise w.error(source, pos, truncated)
        char = w.at(pos)
        if char == "]":
            return pos + 1
        if char != ",":
            raise w.error(source, pos, f"expected ',' or ']' in array, found {char!r}")
        pos, _ = yield from _skip_ws(w, pos + 1)


def _envelope_end(w: _Window, pos: int) -> Generator[_More, None, int | None]:
    """Just past the ``[`` of ``{"ok": true, "result": [`` at ``pos``, else ``None``."""
    w.keep = pos
    while True:
        text, i = w.text, pos - w.base
        for token in _ENVELOPE:
            space = _WS.match(text, i)
            i = space.end() if space else i
            piece = text[i : i + len(token)]
            if piece != token:
                break
            i += len(token)
        else:
            return w.base + i
        cut = i + len(piece) == len(text) and token.startswith(piece)
        if w.eof or not cut:
            return None
        yield from _more(w)


def _parse(w: _Window, source: str) -> Generator[Located | _More, None, None]:
    """The update-shaped values of the input, whichever of the accepted shapes it has."""
    pos, _ = yield from _skip_ws(w, 0)
    if w.at(pos) == "\ufeff":  # a byte-order mark some editors add
        pos, _ = yield from _skip_ws(w, pos + 1)
    if pos >= w.end:
        raise w.error(source, pos, "empty input: no updates")
    first = w.at(pos)
    if first == "[":
        end = yield from _iter_array(w, pos, source)
        yield from _expect_nothing_after(w, source, end)
        return
    if first != "{":
        raise w.error(source, pos, f"expected a JSON object or array, found {first!r}")
    envelope = yield from _envelope_end(w, pos)
    if envelope is not None:
        end = yield from _iter_array(w, envelope - 1, source)
        close, _ = yield from _skip_ws(w, end)
        if w.at(close) != "}":
            raise w.error(source, close, "getUpdates reply is not closed with '}'")
        yield from _expect_nothing_after(w, source, close + 1)
        return
    # One object, JSON Lines, or concatenated (possibly pretty-printed) objects.
    value, end = yield from _decode(w, pos, source)
    one_line = w.text.find("\n", pos - w.base, end - w.base) < 0
    yield from _unwrap(w, value, pos)
    rest, newline = yield from _skip_ws(w, end)
    if rest < w.end and one_line and newline:
        # JSON Lines: each line stands alone, so a line cut short is reported at
        # that line instead of swallowing the next one.
        yield from _iter_lines(w, rest, source)
        return
    pos = rest
    while pos < w.end:
        value, end = yield from _decode(w, pos, source)
        yield from _unwrap(w, value, pos)
        pos, _ = yield from _skip_ws(w, end)


def _unwrap(
    w: _Window, value: Any, pos: int, where: tuple[int, int] | None = None
) -> Iterator[Located]:
    """The value at ``pos`` as an update; the updates inside a getUpdates reply whose
    keys come in another order (decoded whole). ``where``: its line and column if known."""
    line, column = w.position(pos) if where is None else where
    if (
        isinstance(value, dict)
        and "update_id" not in value
        and value.get("ok") is True
        and isinstance(value.get("result"), list)
    ):
        for item in value["result"]:
            yield Located(item, pos, line, column)
    else:
        yield Located(value, pos, line, column)


def _iter_lines(w: _Window, pos: int, source: str) -> Generator[Located | _More, None, None]:
    """JSON Lines from ``pos``: one value per line; blank lines are skipped."""
    number, _ = w.position(pos)
    while True:
        w.keep = pos
        searched = pos
        while True:
            newline = w.text.find("\n", searched - w.base)
            if newline >= 0 or w.eof:
                break
            searched = w.end
            yield from _more(w)
        last = newline < 0
        line_end = w.end if last else w.base + newline
        line = w.text[pos - w.base : line_end - w.base]
        if line and not line.isspace():
            value, start = _decode_line(w, line, pos, source, last=last)
            yield from _unwrap(w, value, pos + start, (number, start + 1))
        if last:
            return
        pos, number = line_end + 1, number + 1


def _decode_line(w: _Window, line: str, pos: int, source: str, *, last: bool) -> tuple[Any, int]:
    """The value on one line (at ``pos``) and where on the line it starts."""
    space = _SPACE.match(line)
    start = space.end() if space else 0
    fast = jsonutil.loads_exact(line)
    if fast is not jsonutil.UNDECIDED:
        # One well-formed value and JSON whitespace: what raw_decode would find.
        _check_depth(w, pos + start, pos + len(line), source)
        return fast, start
    try:
        value, end = _DECODER.raw_decode(line, start)
    except json.JSONDecodeError as exc:
        reason = exc.msg
        if last and (exc.pos >= len(line.rstrip()) or reason.startswith("Unterminated string")):
            reason += "; the file looks truncated"
        raise w.error(source, pos + exc.pos, f"invalid JSON line: {reason}") from exc
    except RecursionError:
        raise _too_deep(w, pos + start, source) from None
    except ValueError:
        raise _long_number(w, pos + start, source) from None
    trailing = _SPACE.match(line, end)
    if trailing is None or trailing.end() < len(line):
        raise w.error(source, pos + end, "unexpected content after the JSON value on this line")
    _check_depth(w, pos + start, pos + end, source)
    return value, start


def _expect_nothing_after(w: _Window, source: str, pos: int) -> Generator[_More, None, None]:
    pos, _ = yield from _skip_ws(w, pos)
    if pos < w.end:
        raise w.error(source, pos, "unexpected content after the end of the JSON value")


# -- reading: bytes in chunks, decoded as UTF-8 -------------------------------------


class _NotUtf8(Exception):
    def __init__(self, byte: int) -> None:
        super().__init__(byte)
        self.byte = byte


class _Chunks:
    """Text of a binary stream, ``size`` bytes at a time, decoded as UTF-8.

    A character cut by a chunk boundary waits for the rest of its bytes. At a
    byte that is not UTF-8 the text before it comes out first; the next read
    raises :class:`_NotUtf8` with the byte's offset in the stream.
    """

    def __init__(self, raw: IO[bytes], size: int, source: str) -> None:
        self._raw, self._size, self._source = raw, size, source
        self._pending = b""
        self._done = 0  # bytes decoded so far
        self._bad: int | None = None

    def read(self) -> str:
        """The next piece of text, ``""`` at the end of the input."""
        while True:
            if self._bad is not None:
                raise _NotUtf8(self._bad)
            try:
                data = self._raw.read(self._size)
            except OSError as exc:
                raise InputError(
                    f"cannot read file: {exc.strerror or exc}", source=self._source
                ) from exc
            final = not data
            data = self._pending + data if self._pending else data
            try:
                text = data.decode("utf-8")
                self._pending = b""
            except UnicodeDecodeError as exc:
                cut = not final and exc.end == len(data) and exc.reason == "unexpected end of data"
                text = data[: exc.start].decode("utf-8")
                self._pending = data[exc.start :] if cut else b""
                if not cut:
                    self._bad = self._done + exc.start
            self._done += len(data) - len(self._pending)
            if text or (final and self._bad is None):
                return text


class _TextChunks:
    """Text of a text stream (standard input replaced by one), ``size`` characters at a time."""

    def __init__(self, raw: IO[str], size: int) -> None:
        self._raw, self._size = raw, size

    def read(self) -> str:
        return self._raw.read(self._size)


class UpdateInput:
    """One input being parsed: the window, the parser and where more text comes from.

    ``parser`` yields each :class:`Located` value, and something else when it
    needs more text: then ``take(read())`` (``read`` blocks, so async callers run
    it in a worker thread) and go on iterating.
    """

    def __init__(
        self, source: str, window: _Window, chunks: _Chunks | _TextChunks | None = None
    ) -> None:
        self.source = source
        self.window = window
        self.chunks = chunks
        self.parser = _parse(window, source)

    @classmethod
    def of_text(cls, text: str, source: str) -> UpdateInput:
        return cls(source, _Window(text, eof=True))

    @classmethod
    def of_stream(cls, raw: IO[bytes] | IO[str], source: str, chunk_size: int) -> UpdateInput:
        chunks: _Chunks | _TextChunks
        if isinstance(raw.read(0), str):
            chunks = _TextChunks(raw, chunk_size)  # type: ignore[arg-type]
        else:
            chunks = _Chunks(raw, chunk_size, source)  # type: ignore[arg-type]
        return cls(source, _Window(), chunks)

    def read(self) -> str:
        """The next piece of text (blocking: in a worker thread when async, while
        the parser waits for it)."""
        assert self.chunks is not None, "text inputs are read whole"
        try:
            return self.chunks.read()
        except _NotUtf8 as exc:
            # Raised where the parser needs text past this point: the values
            # complete before the bad byte still come out first.
            self.window.broken = self.window.error(
                self.source,
                self.window.end,
                f"not UTF-8 text (byte {exc.byte}): Bot API JSON is UTF-8",
            )
            return ""

    def take(self, chunk: str) -> None:
        """Add what :meth:`read` returned to the window (the end of input when empty)."""
        w = self.window
        if chunk:
            w.feed(chunk)
        elif w.broken is None:
            w.eof = True


def iter_json_values(text: str, source: str = "<input>") -> Iterator[Located]:
    """The update-shaped values in ``text``, whichever of the accepted shapes it has."""
    for item in UpdateInput.of_text(text, source).parser:
        if isinstance(item, Located):
            yield item


def iter_json_stream(
    raw: IO[bytes] | IO[str], source: str = "<input>", *, chunk_size: int = CHUNK_BYTES
) -> Iterator[Located]:
    """Like :func:`iter_json_values`, reading ``raw`` (UTF-8 bytes, or text) in chunks."""
    stream = UpdateInput.of_stream(raw, source, chunk_size)
    for item in stream.parser:
        if isinstance(item, Located):
            yield item
        else:
            stream.take(stream.read())
