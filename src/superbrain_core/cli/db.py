"""``superbrain db migrate`` and ``superbrain db status``: the Postgres schema from ``sql/``.

A sub-app of :mod:`superbrain_core.cli.commands` (registered there with one line). It
does not import the main CLI module, which imports it; the database URL comes
from the global ``--db`` option / ``SUPERBRAIN_DB`` through the context's
:class:`Settings`. The embedded SQLite store creates and upgrades its own schema
when it is opened: for a ``sqlite:`` URL ``migrate`` creates or upgrades the file
and ``status`` opens it read-only (a missing file is refused, never created).

Exit codes: 0 done / up to date, 1 a storage error or a schema that needs
attention (pending or changed migrations, for ``status``), 2 a configuration
error (a malformed URL, psycopg missing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import anyio
import typer
from rich.console import Console

from superbrain_core.cli.boundary import EXIT_CONFIG_ERROR, config_error
from superbrain_core.errors import ConfigError, StorageError
from superbrain_core.logs import redact_text
from superbrain_core.settings import Settings

if TYPE_CHECKING:  # the driver is imported only when a Postgres URL is used
    from superbrain_core.storage.postgres.migrations import MigrationReport

T = TypeVar("T")
EXIT_ATTENTION = 1

db_app = typer.Typer(
    name="db",
    help="The Postgres schema: apply the migrations in sql/ and show where a database stands.",
    no_args_is_help=True,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _postgres_url(ctx: typer.Context, *, write: bool) -> str | None:
    """The Postgres URL to work on, or None once the embedded store has been handled."""
    settings = ctx.find_object(Settings)
    if settings is None:  # pragma: no cover - the global callback always sets it
        raise typer.Exit(EXIT_CONFIG_ERROR)
    url = settings.db_url.strip()
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        _sqlite(url, write=write)
        return None
    if scheme not in {"postgres", "postgresql"}:
        config_error(
            ConfigError(
                f"`superbrain db` manages Postgres databases; {scheme!r} URLs are not supported",
                variable="SUPERBRAIN_DB",
            )
        )
    return url


def _sqlite(url: str, *, write: bool) -> None:
    """The embedded store keeps its own schema: ``migrate`` creates or upgrades the
    file (as any writing command would), ``status`` only looks and never creates."""
    from superbrain_core.storage.sqlite import SqliteStore
    from superbrain_core.storage.sqlite.connection import SCHEMA_VERSION

    store = SqliteStore.from_url(url, read_only=not write)

    async def run() -> None:
        async with store:
            pass

    _run(run)
    console.print(f"database: {store.where} (SQLite, embedded)")
    console.print(f"the schema is up to date (version {SCHEMA_VERSION}).")


def _run(fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return anyio.run(fn)
    except ConfigError as exc:
        config_error(exc)
    except ImportError as exc:
        config_error(
            ConfigError(
                f"Postgres needs psycopg ({exc}): pip install 'superbrain-core[postgres]'",
                variable="SUPERBRAIN_DB",
            )
        )
    except StorageError as exc:
        err_console.print(f"[red]error:[/] {redact_text(str(exc))}")
        raise typer.Exit(EXIT_ATTENTION) from None


@db_app.command()
def migrate(ctx: typer.Context) -> None:
    """Apply pending migrations, each in its own transaction (safe to repeat)."""
    url = _postgres_url(ctx, write=True)
    if url is None:
        return

    async def run() -> MigrationReport:
        from superbrain_core.storage.postgres import migrations
        from superbrain_core.storage.postgres.connect import connection_kwargs, describe_dsn

        connection_kwargs(url)  # a malformed URL is a ConfigError before anything is printed
        console.print(f"database: {describe_dsn(url)}")
        return await migrations.migrate(url)

    report = _run(run)
    for notice in report.notices:
        err_console.print(f"[yellow]notice:[/] {notice}")
    for name in report.applied_now:
        console.print(f"applied  {name}")
    if report.applied_now:
        console.print(f"{len(report.applied_now)} migration(s) applied; the schema is up to date.")
    else:
        console.print("nothing to apply; the schema is up to date.")
    for name in report.unknown:
        console.print(f"[yellow]note:[/] {name} is recorded but unknown to this version.")


@db_app.command()
def status(ctx: typer.Context) -> None:
    """List each migration as applied, pending or changed; exit 1 unless up to date."""
    url = _postgres_url(ctx, write=False)
    if url is None:
        return

    async def run() -> MigrationReport:
        from superbrain_core.storage.postgres import migrations
        from superbrain_core.storage.postgres.connect import connection_kwargs, describe_dsn

        connection_kwargs(url)  # a malformed URL is a ConfigError before anything is printed
        console.print(f"database: {describe_dsn(url)}")
        return await migrations.migration_status(url)

    report = _run(run)
    for s in report.statuses:
        when = s.applied_at.isoformat(timespec="seconds") if s.applied_at else ""
        line = f"{s.name:<40} {s.state.value:<8} {when}"
        if s.name in report.changed:
            line += "  (the file differs from what was applied)"
        console.print(line.rstrip())
    if report.changed:
        err_console.print(
            f"[red]error:[/] changed since applied: {', '.join(report.changed)}."
            " Migrations are additive: restore the file and put the change in a new one."
        )
        raise typer.Exit(EXIT_ATTENTION)
    if report.pending:
        console.print(f"{len(report.pending)} pending: run `superbrain db migrate`.")
        raise typer.Exit(EXIT_ATTENTION)
    console.print("the schema is up to date.")
