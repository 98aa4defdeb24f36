"""The exceptions superbrain_core raises.

Every error the library raises on purpose derives from :class:`SuperbrainError`,
so a caller embedding the library can catch one base class. The tree::

    SuperbrainError
    ├── ConfigError            a setting is missing or malformed (names it, never a secret)
    ├── InputError (ValueError) bad input data, with the file and spot where it went wrong
    │   └── NotAnUpdateError   valid JSON that is not a Telegram update
    ├── StorageError           the storage backend failed
    │   └── TransientStorageError  worth retrying (disconnect, lock timeout, 5xx)
    └── RunLockHeld            another analyzer run is active; this one did nothing

The split between transient and terminal failures exists because the bot and the
nightly batch must decide between "retry later" and "record and move on" without
knowing which backend they talk to.
"""

from __future__ import annotations

from datetime import UTC, datetime


class SuperbrainError(Exception):
    """Base class of every error raised by superbrain_core on purpose."""


class ConfigError(SuperbrainError):
    """A setting is missing or malformed.

    The message names the variable or option, and never includes the value of a
    secret, so it is safe to print at start-up.
    """

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class InputError(SuperbrainError, ValueError):
    """Input data could not be read.

    ``source`` names the file (or ``<stdin>``); ``line``/``column`` are 1-based
    and ``offset`` is the 0-based character offset, so the user can open the file
    at the exact spot. Everything read before this point has already been stored.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "<input>",
        line: int | None = None,
        column: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.line = line
        self.column = column
        self.offset = offset
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.offset is not None:
            where += f" (offset {self.offset})"
        return f"{where}: {self.reason}"


class NotAnUpdateError(InputError):
    """The JSON value is well formed but is not a Telegram ``Update`` object."""


class StorageError(SuperbrainError):
    """The storage backend failed; the original driver error is ``__cause__``."""


class PermanentStorageError(StorageError):
    """The store refused *this data* and will refuse it every time (a value out of
    range, a broken constraint), while it answers everything else.

    Retrying cannot help, so a queue must set the record aside (the spool's
    ``.rejected`` file) instead of waiting behind it as for an outage.
    """


class TransientStorageError(StorageError):
    """A storage failure that is expected to go away (disconnect, busy, 5xx).

    Writes in this library are idempotent, so retrying the same call is safe.
    """


class RunLockHeld(SuperbrainError):
    """Another analyzer run holds the run lock, so this one started nothing.

    Not a failure of the data: the other run is doing the work. ``holder`` names
    it (host, pid and a random suffix) and ``since`` says when it took the lock,
    when the backend knows.
    """

    def __init__(self, name: str, holder: str | None, since: datetime | None = None) -> None:
        who = holder or "another run"
        when = f" since {since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if since else ""
        super().__init__(f"the {name!r} run lock is held by {who}{when}; this run did nothing")
        self.name = name
        self.holder = holder
        self.since = since


class FileSizeMismatchError(SuperbrainError):
    """Downloaded bytes do not match the size Telegram declared; nothing was stored."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected {expected} bytes, received {actual}")
        self.expected = expected
        self.actual = actual
