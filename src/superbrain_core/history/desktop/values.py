"""Loose values of an export, read the way storage can keep them.

An export is untrusted JSON: a number may be past what a 64-bit column holds, a
"string" may be anything. The mapping of messages and of their files both read
such values and must agree on what is usable, so the rule lives here once.
"""

from __future__ import annotations

from typing import Any

#: Ids and sizes are stored in 64-bit columns; a larger number cannot be.
INT64_MAX = 2**63 - 1


def fits(value: int | None) -> bool:
    """Whether ``value`` (or its absence) fits a 64-bit column."""
    return value is None or -INT64_MAX - 1 <= value <= INT64_MAX


def int64_or_none(value: Any) -> int | None:
    """An integer that fits a 64-bit column, else ``None`` (the raw object keeps it)."""
    if isinstance(value, int) and not isinstance(value, bool) and fits(value):
        return value
    return None


def str_or_none(value: Any) -> str | None:
    """A non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None
