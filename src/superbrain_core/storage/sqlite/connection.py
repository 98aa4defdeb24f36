"""Opening a SQLite file for the store: URL parsing, pragmas, the schema, checkpoints."""

from __future__ import annotations

import sqlite3
import threading
import time
from importlib import resources
from pathlib import Path

from superbrain_core.errors import ConfigError, StorageError, TransientStorageError
from superbrain_core.logs import get_logger

SCHEMA_VERSION = 6
#: How long a statement waits for another connection's lock before failing.
BUSY_TIMEOUT_MS = 30_000
#: Script (in ``schema/``) that brings the schema from version N-1 to N, applied in order.
_SCHEMA_SCRIPTS = {
    1: "0001_capture.sql",
    2: "0002_analyzer.sql",
    3: "0003_search.sql",
    4: "0004_event_periods.sql",
    5: "0005_arrival_order.sql",
    6: "0006_outbox_and_leases.sql",
}


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


#: Columns capture and the analyzer rely on; a file whose tables lack them is
#: somebody else's database that happens to use the same table names.
REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "raw_updates": frozenset({"id", "bot_id", "update_id", "update_type", "payload"}),
    "raw_messages": frozenset(
        {"id", "chat_id", "message_id", "version", "message_type", "raw_telegram_json"}
    ),
}


def _refuse(path: str, problem: str, advice: str) -> ConfigError:
    return ConfigError(f"{Path(path).resolve()} {problem}: {advice}", variable="SUPERBRAIN_DB")


def _check_target(path: str, *, read_only: bool) -> None:
    """Refuse, before SQLite touches anything, a path that cannot be our database."""
    if is_in_memory(path):
        return
    target = Path(path)
    if target.is_dir():
        raise _refuse(path, "is a folder", "give a database file, e.g. sqlite:///superbrain.db")
    if read_only and not target.exists():
        raise _refuse(
            path,
            "does not exist",
            "nothing was created; check --db / SUPERBRAIN_DB (a relative sqlite:///NAME"
            " is relative to the current folder)",
        )
    if target.exists() and target.stat().st_size >= 16:
        with target.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise _refuse(path, "is not a SQLite database", "give a superbrain database file")


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(r[0]) for r in rows}


def _check_ours(conn: sqlite3.Connection, path: str, version: int) -> None:
    """Refuse a SQLite file that is somebody else's database (never add tables to it)."""
    tables = _tables(conn)
    if version == 0:
        foreign = sorted(t for t in tables if not t.startswith("sqlite_"))
        if foreign:
            shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
            raise _refuse(
                path,
                f"is a SQLite database of something else (tables: {shown})",
                "superbrain leaves it untouched; give a new or a superbrain database file",
            )
        return
    for table, needed in REQUIRED_COLUMNS.items():
        if table not in tables:
            raise _refuse(path, f"has no {table} table", "it is not a superbrain database")
        have = {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}
        missing = sorted(needed - have)
        if missing:
            raise _refuse(
                path,
                f"has a {table} table without {', '.join(missing)}",
                "it is not a superbrain database",
            )


def _open_error(path: str, exc: sqlite3.Error) -> Exception:
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        return _refuse(path, "is not a SQLite database", "give a superbrain database file")
    if "locked" in str(exc) or "busy" in str(exc):
        return TransientStorageError(
            f"{Path(path).resolve()} stayed locked by another process for 30 s: {exc}."
            " Try again when the other writer is done."
        )
    return StorageError(f"cannot open {Path(path).resolve()}: {exc}")


def connect(path: str, synchronous: str, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to ``path`` set up for the store, its schema brought up to date.

    WAL with the automatic checkpoint off (the :class:`Checkpointer` does it off
    the capture path), foreign keys on, a 30 s busy timeout. Upgrading holds
    ``BEGIN IMMEDIATE``, so two processes opening an old file upgrade it once.

    ``read_only`` (the reading commands, notebooks) opens an existing superbrain
    database without the right to change it: a mistyped path, a folder or
    somebody else's SQLite file is refused by name instead of being created,
    upgraded or given twenty new tables. Writers refuse folders, non-SQLite
    files and foreign databases the same way.
    """
    _check_target(path, read_only=read_only)
    try:
        conn = _connect(path, synchronous, read_only=read_only)
    except sqlite3.Error as exc:
        raise _open_error(path, exc) from exc
    return conn


def _connect(path: str, synchronous: str, *, read_only: bool) -> sqlite3.Connection:
    if read_only and not is_in_memory(path):
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(
            uri, uri=True, check_same_thread=False, isolation_level=None, timeout=30.0
        )
    else:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
    try:
        return _prepare(conn, path, synchronous, read_only=read_only)
    except BaseException:
        conn.close()
        raise


def _wal(conn: sqlite3.Connection, *, patience: float = 30.0) -> None:
    """Switch to WAL, waiting out other openers of a new file.

    Changing the journal mode needs the file to itself and SQLite does not run
    the busy handler for it, so processes opening a fresh file at the same
    moment get "database is locked" at once; each waits its turn instead.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _prepare(
    conn: sqlite3.Connection, path: str, synchronous: str, *, read_only: bool
) -> sqlite3.Connection:
    conn.row_factory = sqlite3.Row
    if not read_only:
        _wal(conn)
    if not is_in_memory(path) and not read_only:
        conn.execute("PRAGMA wal_autocheckpoint=0")  # see Checkpointer
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA cache_size=-32000")  # 32 MB of page cache
    conn.execute("PRAGMA temp_store=MEMORY")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{path} has schema version {version}; this superbrain_core "
            f"knows up to {SCHEMA_VERSION}. Upgrade the library."
        )
    _check_ours(conn, path, version)
    if read_only:
        if version == 0:
            raise _refuse(path, "is an empty SQLite file", "it holds no superbrain data yet")
        if version < SCHEMA_VERSION:
            raise _refuse(
                path,
                f"has schema version {version} of {SCHEMA_VERSION}",
                "any writing command upgrades it (e.g. `superbrain db migrate`)",
            )
        return conn
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
            raise
    return conn


def is_in_memory(path: str) -> bool:
    return path == ":memory:" or path.startswith("file::memory:")
