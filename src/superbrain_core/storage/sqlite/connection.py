"""Opening a SQLite file for the store: URL parsing, pragmas, the schema, checkpoints."""

from __future__ import annotations

import sqlite3
import threading
from importlib import resources
from pathlib import Path

from superbrain_core.errors import ConfigError, StorageError
from superbrain_core.logs import get_logger

SCHEMA_VERSION = 3
#: Script (in ``schema/``) that brings the schema from version N-1 to N, applied in order.
_SCHEMA_SCRIPTS = {1: "0001_capture.sql", 2: "0002_analyzer.sql", 3: "0003_search.sql"}


def sqlite_path_from_url(url: str) -> str:
    """The file path in a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(
            f"not a SQLite URL: expected sqlite:///PATH, got {url.split(':', 1)[0]}:…",
            variable="SUPERBRAIN_DB",
        )
    path = url[len("sqlite:///") :].split("?", 1)[0]
    if not path:
        raise ConfigError("SQLite URL has no path (sqlite:///PATH)", variable="SUPERBRAIN_DB")
    return path


class Checkpointer:
    """Copies the write-ahead log back into the database file, off the capture path.

    SQLite's automatic checkpoint runs inside whichever commit crosses the
    threshold and fsyncs the database there: one capture in a few hundred then
    takes 10-30 ms instead of half a millisecond. Capture connections turn the
    automatic checkpoint off and this thread, on its own connection, runs
    ``PASSIVE`` checkpoints (which never block writers) after enough writes or
    after a quiet second. A failed checkpoint loses nothing: the WAL keeps the
    data and the next checkpoint tries again.
    """

    def __init__(self, path: str, *, every_writes: int = 100, interval: float = 1.0) -> None:
        self._path = path
        self._every = every_writes
        self._interval = interval
        self._writes = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._loop, name="superbrain-sqlite-checkpoint", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def note_write(self) -> None:
        self._writes += 1
        if self._writes >= self._every:
            self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
        try:
            while not self._stopping:
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._writes and not self._stopping:
                    self._writes = 0
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    except sqlite3.Error as exc:
                        get_logger(__name__).warning("sqlite_checkpoint_failed", error=str(exc))
        finally:
            conn.close()


def connect(path: str, synchronous: str) -> sqlite3.Connection:
    """A connection to ``path`` set up for capture, its schema brought up to date.

    WAL with the automatic checkpoint off (the :class:`Checkpointer` does it off
    the capture path), foreign keys on, a 30 s busy timeout. Upgrading holds
    ``BEGIN IMMEDIATE``, so two processes opening an old file upgrade it once.
    """
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    if not is_in_memory(path):
        conn.execute("PRAGMA wal_autocheckpoint=0")  # see Checkpointer
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA cache_size=-32000")  # 32 MB of page cache
    conn.execute("PRAGMA temp_store=MEMORY")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        conn.close()
        raise StorageError(
            f"{path} has schema version {version}; this superbrain_core "
            f"knows up to {SCHEMA_VERSION}. Upgrade the library."
        )
    if version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have upgraded.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version + 1, SCHEMA_VERSION + 1):
                package = resources.files("superbrain_core.storage.sqlite").joinpath("schema")
                script = package.joinpath(_SCHEMA_SCRIPTS[step]).read_text(encoding="utf-8")
                for statement in script.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            conn.close()
            raise
    return conn


def is_in_memory(path: str) -> bool:
    return path == ":memory:" or path.startswith("file::memory:")
