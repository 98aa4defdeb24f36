"""The CLI's error boundary: every failure a user can cause ends in one or two plain
lines with a documented exit code; a traceback only when asked for.

Commands already turn the library's own errors into messages (``_run`` in each
command module); this is the last net around the whole app, for what slips
through: an exception group from a task group, a RecursionError from hostile
JSON, an OSError naming a file, or a bug. People read the message; ``--debug``
or ``SUPERBRAIN_LOG_LEVEL=DEBUG`` shows the traceback for a bug report.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from superbrain_core.errors import (
    ConfigError,
    InputError,
    RunLockHeld,
    StorageError,
    TransientStorageError,
)
from superbrain_core.logs import redact_text

#: Exit codes of every command (also in docs/configuration.md).
EXIT_OK = 0
EXIT_INPUT_ERROR = 1
EXIT_CONFIG_ERROR = 2
EXIT_SOME_FAILED = 3
#: Files were read but could not be saved (disk full, a wrong --data-dir, the
#: bucket refused): listed on stderr; `superbrain files retry` saves them.
EXIT_FILES_UNSAVED = 5
#: EX_SOFTWARE: a bug in superbrain, not the user's doing.
EXIT_INTERNAL = 70
#: EX_TEMPFAIL: another run holds the run lock; nothing was done, try later.
EXIT_LOCKED = 75
EXIT_INTERRUPTED = 130

#: Errors print on one line each however narrow the terminal (or a log file):
#: wrapping would split file names and URLs.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def debug_requested(argv: Sequence[str] | None = None) -> bool:
    """``--debug`` anywhere on the command line, or ``SUPERBRAIN_LOG_LEVEL=DEBUG``."""
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args or os.environ.get("SUPERBRAIN_LOG_LEVEL", "").upper() == "DEBUG"


def _single(exc: BaseException) -> BaseException:
    """The one error inside (nested) exception groups of one, else the group."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def explain(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for ``exc``: what was wrong, where, what to do."""
    exc = _single(exc)
    text = redact_text(str(exc))
    if isinstance(exc, ConfigError):
        where = f" ({exc.variable})" if exc.variable and exc.variable not in text else ""
        return f"configuration error{where}: {text}", EXIT_CONFIG_ERROR
    if isinstance(exc, RunLockHeld):
        return f"another analyzer run is active: {text}", EXIT_LOCKED
    if isinstance(exc, InputError):
        return f"error: {text}", EXIT_INPUT_ERROR
    if isinstance(exc, TransientStorageError):
        return f"storage error (temporary; try again): {text}", EXIT_INPUT_ERROR
    if isinstance(exc, StorageError):
        return f"storage error: {text}", EXIT_INPUT_ERROR
    if isinstance(exc, RecursionError):
        return (
            "error: the input is nested too deeply to read (a JSON value inside"
            " thousands of arrays or objects); no Telegram update looks like that",
            EXIT_INPUT_ERROR,
        )
    if isinstance(exc, OverflowError):
        return (
            f"error: a number is out of range ({text}); ids and sizes must fit in 64 bits",
            EXIT_INPUT_ERROR,
        )
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"error: the input is not valid UTF-8 (byte {exc.start}: {exc.reason})",
            EXIT_INPUT_ERROR,
        )
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"error: {name}{exc.strerror or text}", EXIT_INPUT_ERROR
    if isinstance(exc, MemoryError):
        return "error: out of memory", EXIT_INPUT_ERROR
    return (
        f"internal error: {type(exc).__name__}: {text}. Nothing more was written after it;"
        " run again with --debug for the traceback and report it",
        EXIT_INTERNAL,
    )


def config_error(exc: ConfigError) -> NoReturn:
    """Say what a setting got wrong and leave with :data:`EXIT_CONFIG_ERROR`."""
    message, code = explain(exc)
    err_console.print(f"[red]{escape(message)}[/]")
    raise typer.Exit(code) from None


def run_guarded(app: Callable[[], object], argv: Sequence[str] | None = None) -> None:
    """Run ``app`` (the Typer app) and turn whatever escapes into a message and exit code."""
    debug = debug_requested(argv)
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except BaseException as exc:
        if debug:
            raise
        message, code = explain(exc)
        err_console.print(f"[red]{escape(message)}[/]")
        sys.exit(code)
