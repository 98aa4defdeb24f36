"""Task-group helpers: errors surface as themselves, not wrapped in an ExceptionGroup.

anyio's task groups wrap whatever escapes them in an ``ExceptionGroup``, even a
single error from the body. Callers of this library catch ``StorageError`` or
``ConfigError`` (the CLI maps them to exit codes), so where a task group only
runs helpers beside one piece of work, its one error is re-raised as itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import anyio

#: What a stage raises when its peer has already failed and closed the stream
#: between them: a consequence, never the cause.
CONSEQUENCES = (anyio.BrokenResourceError, anyio.ClosedResourceError)


@contextlib.contextmanager
def single_errors() -> Iterator[None]:
    """Around ``async with create_task_group()``: re-raise the one cause unwrapped.

    Consequences (a closed stream to a stage that failed) are left out; more
    than one real cause keeps the group, so nothing is hidden.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        causes = [e for e in group.exceptions if not isinstance(e, CONSEQUENCES)]
        if len(causes) != 1:
            raise
        cause = causes[0]
        raise cause from cause.__cause__


__all__ = ["CONSEQUENCES", "single_errors"]
