"""``superbrain files retry``: save again the attachments an import read but could not save.

A sub-app of :mod:`superbrain_core.cli.commands` (registered there with one
line). Files go to the same place ``import-desktop`` puts them: the Storage
bucket when ``SUPERBRAIN_FILES_BUCKET`` is set, else ``<data-dir>/files``.

Exit codes: 0 every such file is saved now (or there was none), 5 some are still
not saved (each listed on stderr), 1 a storage error, 2 a configuration error.
"""

from __future__ import annotations

import anyio
import typer
from rich.console import Console
from rich.markup import escape

from superbrain_core.cli.boundary import (
    EXIT_CONFIG_ERROR,
    EXIT_FILES_UNSAVED,
    EXIT_INPUT_ERROR,
    config_error,
)
from superbrain_core.errors import ConfigError, StorageError
from superbrain_core.logs import redact_text
from superbrain_core.settings import Settings

files_app = typer.Typer(
    name="files",
    help="Attachments: save again those an import read but could not save.",
    no_args_is_help=True,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@files_app.command("retry")
def retry(ctx: typer.Context) -> None:
    """Read every attachment that failed to save from its export folder and save it."""
    settings = ctx.find_object(Settings)
    if settings is None:  # pragma: no cover - the global callback always sets it
        raise typer.Exit(EXIT_CONFIG_ERROR)

    async def run() -> tuple[int, list[str]]:
        from superbrain_core.files import close_file_store, file_store_from_env
        from superbrain_core.history.file_retry import retry_unsaved
        from superbrain_core.history.importer import open_inside
        from superbrain_core.storage import open_store

        files = file_store_from_env(settings.files_dir, settings.data_dir / "tmp")
        try:
            async with open_store(settings.db_url) as store:
                outcome = await retry_unsaved(store, files, open_inside)
        finally:
            await close_file_store(files)
        return outcome.saved, outcome.failed

    try:
        saved, failed = anyio.run(run)
    except ConfigError as exc:
        config_error(exc)
    except StorageError as exc:
        err_console.print(f"[red]storage error:[/] {redact_text(str(exc))}")
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    console.print(f"files saved now: {saved}, still not saved: {len(failed)}")
    for line in failed:
        err_console.print(f"[red]not saved:[/] {escape(line)}")
    if failed:
        raise typer.Exit(EXIT_FILES_UNSAVED)
