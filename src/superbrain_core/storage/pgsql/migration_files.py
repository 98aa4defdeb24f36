"""The ordered migrations in ``sql/``: reading, checksumming and comparing them.

The files ship inside the package (``superbrain_core/sql/0001_….sql``; the
top-level ``sql/`` of a source checkout is a link to that directory), so an
installed wheel and a checkout migrate from the same bytes. Files are additive
and never edited once applied: a file whose checksum differs from the one a
database recorded is ``changed``.

No driver here: the Supabase backend checks a project's recorded migrations
against these through PostgREST, the Postgres backend applies them with psycopg
(:mod:`superbrain_core.storage.postgres.migrations`).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path

import attrs

from superbrain_core.errors import StorageError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(StorageError):
    """The migrations cannot be applied as they stand (a changed file, a bad name)."""


class MigrationState(enum.StrEnum):
    APPLIED = "applied"
    PENDING = "pending"
    CHANGED = "changed"
    """Applied, but the file's checksum differs from the recorded one."""
    UNKNOWN = "unknown"
    """Recorded in the database, absent from this version's files (a newer one applied it)."""


@attrs.frozen
class Migration:
    """One ``sql/NNNN_name.sql`` file."""

    name: str
    sql: str
    checksum: str


@attrs.frozen
class MigrationStatus:
    name: str
    state: MigrationState
    applied_at: datetime | None = None
    checksum: str | None = None
    recorded_checksum: str | None = None


@attrs.frozen
class MigrationReport:
    """Where a database stands, and what a ``migrate`` run applied."""

    statuses: tuple[MigrationStatus, ...]
    applied_now: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()

    def _names(self, state: MigrationState) -> list[str]:
        return [s.name for s in self.statuses if s.state is state]

    @property
    def pending(self) -> list[str]:
        return self._names(MigrationState.PENDING)

    @property
    def changed(self) -> list[str]:
        return self._names(MigrationState.CHANGED)

    @property
    def unknown(self) -> list[str]:
        return self._names(MigrationState.UNKNOWN)

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.changed


def checksum(sql: str) -> str:
    """sha256 of the file with line endings normalized (a Windows checkout is not a change)."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def migrations_from(directory: Path) -> list[Migration]:
    """The migrations in ``directory`` (``NNNN_name.sql``), in order; other files are ignored."""
    return _parse((p.name, p.read_text(encoding="utf-8")) for p in directory.iterdir())


@functools.cache
def bundled_migrations() -> tuple[Migration, ...]:
    """The migrations shipped with this version of superbrain_core."""
    folder = resources.files("superbrain_core").joinpath("sql")
    return tuple(
        _parse((f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.is_file())
    )


def _parse(files: Iterable[tuple[str, str]]) -> list[Migration]:
    found: dict[str, Migration] = {}
    numbers: dict[str, str] = {}
    for name, text in files:
        match = _NAME.match(name)
        if match is None:
            continue
        number = match.group(1)
        if number in numbers:
            raise MigrationError(f"two migrations numbered {number}: {numbers[number]}, {name}")
        numbers[number] = name
        stem = name.removesuffix(".sql")
        found[stem] = Migration(name=stem, sql=text, checksum=checksum(text))
    return [found[k] for k in sorted(found)]


def compare(
    migrations: Sequence[Migration], recorded: dict[str, tuple[str, datetime]]
) -> tuple[MigrationStatus, ...]:
    """Each file's state against what the database recorded, then recorded unknowns."""
    statuses = []
    for m in migrations:
        if m.name not in recorded:
            statuses.append(MigrationStatus(m.name, MigrationState.PENDING, checksum=m.checksum))
            continue
        digest, applied_at = recorded[m.name]
        state = MigrationState.APPLIED if digest == m.checksum else MigrationState.CHANGED
        statuses.append(MigrationStatus(m.name, state, applied_at, m.checksum, digest))
    known = {m.name for m in migrations}
    for name in sorted(set(recorded) - known):
        digest, applied_at = recorded[name]
        statuses.append(
            MigrationStatus(name, MigrationState.UNKNOWN, applied_at, recorded_checksum=digest)
        )
    return tuple(statuses)
