"""The structured tables the analyzer files into, and the columns each may hold.

Part of the data model, below storage: every backend needs the column whitelist
(it is what makes choosing a table by name safe), and so do the analyzer that
fills the tables and the explore/web readers that show them. Which
classification goes to which table is the analyzer's business
(:mod:`superbrain_core.analyzer.routing`).
"""

from __future__ import annotations

#: The destination of a message that is filed nowhere.
NONE = "none"

#: Each table's own columns (besides raw_message_id, chat_id, message_id, timestamps).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("title", "starts_at", "ends_at", "kind", "people", "recurrence"),
    "tasks": ("title", "due_at", "status"),
    "notes": ("text", "tags", "sensitive"),
    "files": ("raw_file_id", "title", "tags"),
    "people": ("name", "phone", "email", "username"),
    "links": ("url", "title"),
    "expenses": ("amount", "currency", "description", "spent_at"),
}

#: Columns holding a JSON list.
JSON_COLUMNS = frozenset({"people", "tags"})

#: Columns holding a yes/no flag (SQLite keeps them as 0/1; every store reads a bool).
BOOLEAN_COLUMNS = frozenset({"sensitive"})

#: Columns written when a row is first inserted and then left to the owner
#: (a task ticked off by hand stays done when a clarification re-files it).
INSERT_ONLY_COLUMNS = frozenset({"status"})

#: Every structured table, in a fixed order.
TABLES = tuple(TABLE_COLUMNS)

#: What a task's ``status`` may be.
TASK_STATUSES = ("open", "done")


def check_task_status(status: str) -> str:
    """``status`` if a task may have it; ``ValueError`` otherwise."""
    if status not in TASK_STATUSES:
        raise ValueError(f"a task's status is one of {', '.join(TASK_STATUSES)}, not {status!r}")
    return status
