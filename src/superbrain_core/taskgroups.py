"""Task-group helpers: errors surface as themselves, not wrapped in an ExceptionGroup.

anyio's task groups wrap whatever escapes them in an ``ExceptionGroup``, even a
single error from the body. Callers of this library catch ``StorageError`` or
``ConfigError`` (the CLI maps them to exit codes), so where a task group only
runs helpers beside one piece of work, its one error is re-raised as itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def single_errors() -> Iterator[None]:
    """Around ``async with create_task_group()``: re-raise a lone error unwrapped."""
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        cause = group.exceptions[0]
        raise cause from cause.__cause__


__all__ = ["single_errors"]
