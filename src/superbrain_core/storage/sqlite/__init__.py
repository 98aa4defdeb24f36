"""The embedded SQLite backend: the default, needing no server and no driver."""

from superbrain_core.storage.sqlite.connection import sqlite_path_from_url
from superbrain_core.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore", "sqlite_path_from_url"]
