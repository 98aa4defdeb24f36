"""Telegram Desktop's ``result.json`` read as a stream of message objects.

An export is one ``result.json``: either a single chat (``name``, ``type``,
``id``, ``messages``) or a whole account (``chats.list[]`` and
``left_chats.list[]``, each chat shaped like the single one). It can be
gigabytes, so it is never loaded whole: :class:`ExportStream` walks it with ijson
(the C backend when it is there), builds one message object at a time and
attaches the chat it belongs to. Telegram writes a chat's ``name``, ``type`` and
``id`` before its ``messages``; an export that does not is refused with the spot
(:mod:`~superbrain_core.history.desktop.locations`).

The parser's own memory is bounded too: a message nested past
:data:`MAX_MESSAGE_DEPTH` is skipped and handed out as a problem, never the end
of the import; nesting that would make the parser itself unsafe stops it.
Nothing here touches the disk beyond the stream it is given.
"""

from __future__ import annotations

import importlib
import itertools
import json
from collections.abc import Callable, Iterator
from typing import IO, Any

import attrs

from superbrain_core.errors import InputError
from superbrain_core.history.desktop.locations import (
    StreamPosition,
    TrackedReader,
    invalid_utf8,
    locate_in_chunk,
    lone_surrogate_escape,
    lone_surrogate_escape_in,
)
from superbrain_core.history.desktop.peers import ExportChat


def _ijson_backend() -> Any:
    """ijson's C backend (~10x faster), else its pure-Python one, which is always there.

    Imported by name: ijson ships no type information, and its modules are only
    used through the few calls below.
    """
    try:
        return importlib.import_module("ijson.backends.yajl2_c")
    except ImportError:  # pragma: no cover - depends on the platform's wheel
        return importlib.import_module("ijson.backends.python")


_IJSON: Any = _ijson_backend()
#: The pure-Python parser, for files the C one would change (see :func:`_parser_for`)
#: and for files whose integers pass 64 bits, which yajl refuses ("integer overflow").
_IJSON_PYTHON: Any = importlib.import_module("ijson.backends.python")
_IJSON_COMMON: Any = importlib.import_module("ijson.common")
_IJSON_UTILS: Any = importlib.import_module("ijson.utils")
_SCAN_CHUNK = 4 * 1024 * 1024


def _is_yajl(backend: Any) -> bool:
    """Whether ``backend`` is yajl's C parser, whose errors carry a "(right here)"
    snippet and which refuses integers past 64 bits."""
    return str(getattr(backend, "__name__", "")).endswith("yajl2_c")


_CHAT = "chats.list.item"
_LEFT = "left_chats.list.item"
#: Keys only a single-chat export has at the top (a full export starts with ``about``).
_SINGLE_CHAT_KEYS = frozenset({"name", "type", "id", "messages"})
#: Containers nested inside one message beyond which it is skipped as a problem.
#: Telegram's deepest (buttons, entities) are under ten levels.
MAX_MESSAGE_DEPTH = 64
#: Nesting (inside a message being skipped) or key path length (bytes) at which
#: the import stops. The parser builds a prefix string per open container, so
#: memory grows with depth times path length: 100,000 levels (a 200 KB file)
#: would take gigabytes. These bounds keep it to tens of megabytes.
MAX_SKIPPED_DEPTH = 2048
MAX_PATH_BYTES = 32 * 1024
#: Containers outside messages (a full export's own structure is six levels deep).
MAX_OUTER_DEPTH = 64
_OPENS = frozenset({"start_map", "start_array"})
_CLOSES = frozenset({"end_map", "end_array"})


def _parser_for(raw: IO[bytes]) -> Any:
    """The ijson backend for this file: the C one, unless the file escapes a lone
    UTF-16 surrogate (``"\\ud800"`` without its pair), which yajl turns into ``?`` or
    refuses as "not UTF-8"; the Python parser keeps it, so the message is stored as
    written. Finding out reads the file once more (a regular expression over the
    bytes, a small fraction of parsing); a stream that cannot seek back gets the C one.
    """
    if _IJSON is _IJSON_PYTHON:  # pragma: no cover - no C backend on this platform
        return _IJSON
    try:
        start = raw.tell()
    except (OSError, ValueError):
        return _IJSON
    if not raw.seekable():
        return _IJSON
    tail = b""
    try:
        while chunk := raw.read(_SCAN_CHUNK):
            # The last bytes of the chunk before: an escape may straddle the two (a pair
            # split there looks lone, which only costs speed).
            if lone_surrogate_escape_in(tail + chunk):
                return _IJSON_PYTHON
            tail = chunk[-12:]
    finally:
        raw.seek(start)
    return _IJSON


def _under(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _builder(
    prefix: str, backend: Any = _IJSON
) -> tuple[list[Any], Callable[[tuple[str, str, Any]], Any]]:
    """ijson's object builder (C) for the objects at ``prefix``: the list each lands in
    when complete, and the function that takes one parser event."""
    found: list[Any] = _IJSON_UTILS.sendable_list()
    return found, backend.items_basecoro(found, prefix, None).send


class _IntegerOverflow(Exception):
    """yajl met an integer past 64 bits: the file is read again with the Python parser."""


@attrs.frozen
class RawExportMessage:
    """A message object as read, with the chat it is in and where the reader was.

    ``problem`` is set (and ``data`` is ``None``) for a message the stream had to
    skip, e.g. one nested too deep to build.
    """

    chat: ExportChat
    data: Any
    offset: int
    problem: str | None = None


class ChatHeader:
    """The keys Telegram writes before a chat's messages (``id``, ``type``, ``name``),
    noted as they stream past and turned into the :class:`ExportChat` the messages
    belong to once they start."""

    def __init__(self, position: StreamPosition) -> None:
        self._position = position
        self.count = 0
        """Chats whose messages were reached."""
        self.index = 0
        """The chat object being read (1-based); 0 before the first one."""
        self.fields: dict[str, Any] = {}

    def start(self) -> None:
        """A chat object opens: forget the previous chat's keys and place."""
        self.index += 1
        self._position.enter_chat()
        self.fields = {}

    def chat(self) -> ExportChat:
        """The chat of the keys noted so far; an :class:`InputError` at the spot when
        they do not make one."""
        export_id, kind = self.fields.get("id"), self.fields.get("type")
        if isinstance(export_id, bool) or not isinstance(export_id, int):
            raise self._position.error(f"chat #{self.index} has no integer id before its messages")
        if not isinstance(kind, str):
            raise self._position.error(f"chat #{self.index} has no type before its messages")
        name = self.fields.get("name")
        try:
            found = ExportChat.of(
                export_id,
                kind,
                name if isinstance(name, str) else None,
                max(self.index, 1),  # a single-chat export has no list
            )
        except ValueError as exc:
            raise self._position.error(f"chat #{self.index}: {exc}") from None
        self.count += 1
        return found


class ExportStream:
    """Iterates the messages of one export file, each with its chat.

    ``source`` names the file in errors. Errors are :class:`InputError`: the
    JSON is malformed or ends early, or a chat's messages come before its id
    and type. Each names the byte offset (exact where the parser allows it,
    else the range it was reading), line and column, and the chat and message
    it was in.
    """

    def __init__(self, raw: IO[bytes], source: str) -> None:
        self._raw = raw
        self.source = source
        self._backend: Any = _parser_for(raw)
        self._restart()

    def _restart(self) -> None:
        self.reader = TrackedReader(self._raw)
        self._position = StreamPosition(self.reader, self.source)
        self._header = ChatHeader(self._position)

    @property
    def chats(self) -> int:
        """Chats whose messages the stream has reached."""
        return self._header.count

    @property
    def offset(self) -> int:
        return self.reader.offset

    def where(self, *, in_last: bool = False) -> str:
        """The chat and message the reader is at (:meth:`StreamPosition.where`)."""
        return self._position.where(in_last=in_last)

    def error(self, reason: str, offset: int | None = None, *, in_last: bool = False) -> InputError:
        """An error naming the spot (:meth:`StreamPosition.error`)."""
        return self._position.error(reason, offset, in_last=in_last)

    def __iter__(self) -> Iterator[RawExportMessage]:
        """Every message in file order. A number past 64 bits (a ``duration_seconds`` of
        2**64-1, a poll's 2**70 voters) stops the C parser; the file is then read again
        from the start with the Python parser, which keeps such numbers exactly, and
        the messages already handed out are skipped."""
        handed_out = 0
        try:
            for message in self._read():
                handed_out += 1
                yield message
            return
        except _IntegerOverflow as exc:
            if not self._raw.seekable():
                raise self.error(
                    "a number is too large for the fast JSON parser and the input cannot be"
                    " read again; import it from a file",
                    self.reader.offset,
                ) from exc
        self._raw.seek(0)
        self._backend = _IJSON_PYTHON
        self._restart()
        for n, message in enumerate(self._read()):
            if n >= handed_out:
                yield message

    def _read(self) -> Iterator[RawExportMessage]:
        events = iter(self._backend.parse(self.reader, use_float=True))
        try:
            head, base = self._shape(events)
            yield from self._messages(itertools.chain(head, events), base)
        except UnicodeDecodeError as exc:
            # The parser passed bytes UTF-8 forbids (a surrogate, an overlong form)
            # on to Python, which refuses to decode them.
            raise self._not_utf8(exc) from exc
        except _IJSON_COMMON.JSONError as exc:
            message = exc.args[0] if exc.args else ""
            if isinstance(message, UnicodeDecodeError):  # ijson's Python parser wraps it
                raise self._not_utf8(exc) from exc
            if isinstance(message, bytes):
                # yajl hands back its snippet as bytes when they are not UTF-8 themselves.
                if invalid_utf8(self.reader) is not None:
                    raise self._not_utf8(exc) from exc
                message = message.decode("utf-8", "surrogateescape")
            text = str(message)
            if "integer overflow" in text and _is_yajl(self._backend):
                raise _IntegerOverflow(text) from exc
            if "premature EOF" in text or (
                isinstance(exc, _IJSON_COMMON.IncompleteJSONError) and not _is_yajl(self._backend)
            ):
                raise self.error(
                    "the file ends in the middle of the JSON: it looks truncated",
                    self.reader.offset,
                ) from exc
            if "UTF8" in text or "UTF-8" in text:
                raise self._not_utf8(exc) from exc
            first = text.strip().split("\n", 1)[0]
            raise self.error(f"invalid JSON: {first}", locate_in_chunk(text, self.reader)) from exc
        except json.JSONDecodeError as exc:
            # ijson's Python parser (a file with lone surrogate escapes) decodes strings
            # with the json module, whose errors (a broken \u escape) come out as they are.
            raise self.error(f"invalid JSON: {exc.msg}") from exc

    def _not_utf8(self, exc: Exception) -> InputError:
        """Text the reader cannot decode: the first byte that is not UTF-8, else an escaped
        lone surrogate (the bytes are fine, the character is not), else the range read."""
        found = invalid_utf8(self.reader)
        if found is None and (lone := lone_surrogate_escape(self.reader)) is not None:
            return self.error(
                "a string holds a \\u escape of half a UTF-16 surrogate pair (a lone"
                " surrogate), which this reader cannot decode",
                lone,
            )
        detail = f" ({found[1]})" if found is not None else ""
        return self.error(
            f"the file is not valid UTF-8{detail}: Telegram Desktop writes result.json"
            " in UTF-8; was it saved again in another encoding, or damaged?",
            found[0] if found is not None else None,
        )

    @staticmethod
    def _shape(
        events: Iterator[tuple[str, str, Any]],
    ) -> tuple[list[tuple[str, str, Any]], str]:
        """The events up to the first top-level key, and where chats are: at the top
        (``""``, a single-chat export) or under ``chats.list.item``."""
        head: list[tuple[str, str, Any]] = []
        for event in events:
            head.append(event)
            if event[0] == "" and event[1] != "start_map":
                single = event[1] == "map_key" and event[2] in _SINGLE_CHAT_KEYS
                return head, "" if single else _CHAT
        return head, _CHAT

    def _messages(
        self, events: Iterator[tuple[str, str, Any]], base: str
    ) -> Iterator[RawExportMessage]:
        """Feed the parser's events to ijson's object builder (C), noting each chat's keys
        and the message being read, and yield each message as it completes.

        A left chat's events are moved under ``chats`` so one prefix finds every
        message. This loop runs once per JSON token of a file that may hold
        gigabytes, so the events inside a message take the first branch only,
        where nesting is counted: a message deeper than :data:`MAX_MESSAGE_DEPTH`
        is no longer built but skipped to its end and yielded as a problem.
        """
        chat, messages, message = base, _under(base, "messages"), _under(base, "messages.item")
        inner, message_id = message + ".", message + ".id"
        keys = {_under(base, k): k for k in ("id", "type", "name")}
        left = _LEFT if base else None  # only a full export has left chats
        position, header = self._position, self._header
        found, build = _builder(message, self._backend)
        depth = 0  # containers open inside the current message
        outer = 0  # containers open outside messages
        skipping = False
        for item in events:
            prefix = item[0]
            if left is not None and prefix.startswith(left):
                prefix = chat + prefix[len(left) :]
                item = (prefix, item[1], item[2])
            if prefix.startswith(inner):
                event = item[1]
                if event in _OPENS:
                    depth += 1
                    if depth > MAX_MESSAGE_DEPTH or len(prefix) > MAX_PATH_BYTES:
                        skipping = True
                        self._check_skip(depth, prefix)
                elif event in _CLOSES:
                    depth -= 1
                elif prefix == message_id:
                    position.current_id = item[2]
                if not skipping:
                    build(item)
                continue
            event = item[1]
            if event in _OPENS:
                outer += 1
                if outer > MAX_OUTER_DEPTH or len(prefix) > MAX_PATH_BYTES:
                    raise self.error(
                        f"the JSON is nested more than {MAX_OUTER_DEPTH} levels deep"
                        f" (or its key path passes {MAX_PATH_BYTES} bytes) outside any message"
                        f" at {prefix[:80]!r}"
                    )
            elif event in _CLOSES:
                outer -= 1
            if skipping:  # the end of the message being skipped: start afresh
                assert position.chat is not None
                skipping, depth = False, 0
                found, build = _builder(message, self._backend)
                position.last_id = position.current_id
                problem = (
                    f"{position.chat.describe()}, message {position.current_id!r}: nested more"
                    f" than {MAX_MESSAGE_DEPTH} levels deep; skipped"
                )
                yield RawExportMessage(position.chat, None, self.reader.offset, problem)
                continue
            build(item)
            if found:
                assert position.chat is not None  # messages only start after header.chat()
                for data in found:
                    position.last_id = position.current_id
                    yield RawExportMessage(position.chat, data, self.reader.offset)
                del found[:]
                continue
            if prefix in keys and event in ("string", "number", "null"):
                header.fields[keys[prefix]] = item[2]
            if prefix == chat and event == "start_map":
                header.start()
            elif prefix == messages and event == "start_array":
                position.chat = header.chat()

    def _check_skip(self, depth: int, prefix: str) -> None:
        """Past the bounds a skipped message may reach, the parser's own memory is at
        stake: stop here, naming the message."""
        if depth > MAX_SKIPPED_DEPTH or len(prefix) > MAX_PATH_BYTES:
            raise self.error(
                f"a message is nested more than {MAX_SKIPPED_DEPTH} levels deep (or its key"
                f" path passes {MAX_PATH_BYTES} bytes); the parser cannot go on safely",
                in_last=True,
            )
