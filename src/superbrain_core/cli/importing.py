"""``superbrain import-desktop PATH``: a Telegram Desktop JSON export into the store.

Registered on the main app by :func:`register` (one line in :mod:`superbrain_core.cli.commands`);
like :mod:`superbrain_core.cli.db` it does not import the main CLI module, which
imports it. The database and the file folder come from the global ``--db`` and
``--data-dir`` options through the context's :class:`Settings`.

Exit codes: 0 imported; 3 imported, but some files were refused (a path out of
the export folder) or could not be read; 1 bad input (the error names the byte
offset, line and column; everything before it is stored) or a storage error;
2 a configuration error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from superbrain_core.cli.boundary import (
    EXIT_CONFIG_ERROR,
    EXIT_FILES_UNSAVED,
    EXIT_INPUT_ERROR,
    EXIT_SOME_FAILED,
    config_error,
)
from superbrain_core.errors import ConfigError, InputError, StorageError
from superbrain_core.logs import redact_text
from superbrain_core.settings import Settings

if TYPE_CHECKING:  # the importer (and ijson) load only when the command runs
    from superbrain_core.files import FileStore
    from superbrain_core.history.importer import ImportReport

T = TypeVar("T")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``import-desktop`` to ``app``."""
    app.command("import-desktop")(import_desktop)


def import_desktop(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="The export folder, or its result.json (JSON format).")
    ],
    timezone: Annotated[
        str | None,
        typer.Option(
            help="Time zone of the computer that exported (only for exports before 2022,"
            " whose dates are local clock times). Default: SUPERBRAIN_TIMEZONE."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Messages stored per transaction.")] = 5000,
) -> None:
    """Import a Telegram Desktop "Export chat history" (JSON): messages, chains and files.

    Re-running adds nothing; messages the bot already captured are left as they are.
    """
    settings = ctx.find_object(Settings)
    if settings is None:  # pragma: no cover - the global callback always sets it
        raise typer.Exit(EXIT_CONFIG_ERROR)
    zone = timezone or settings.timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        config_error(ConfigError(f"unknown time zone {zone!r} (e.g. Europe/Moscow)"))
    _check_export(path)

    # The running report, so an import that stops early can still say what it stored.
    stored: list[ImportReport] = []

    async def run() -> ImportReport:
        from superbrain_core.files import close_file_store, file_store_from_env

        # Media go where the bot puts its downloads: the Storage bucket when one
        # is configured (SUPERBRAIN_FILES_BUCKET), else <data-dir>/files.
        files = file_store_from_env(settings.files_dir, settings.data_dir / "tmp")
        try:
            return await store_export(files)
        finally:
            await close_file_store(files)

    async def store_export(files: FileStore) -> ImportReport:
        from superbrain_core.history.importer import SOURCE, import_desktop_export
        from superbrain_core.storage import CaptureOptions, open_store

        options = CaptureOptions(bot_id=settings.bot_id, source=SOURCE, max_download_bytes=None)
        async with open_store(settings.db_url) as store:
            with Progress(
                TextColumn("[bold]import"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[messages]} messages"),
                console=err_console,
                transient=True,
            ) as progress:
                task = progress.add_task("result.json", total=None, messages=0)

                def advance(report: ImportReport) -> None:
                    stored[:] = [report]
                    progress.update(
                        task,
                        completed=report.bytes_read,
                        total=report.bytes_total,
                        messages=report.messages,
                    )

                return await import_desktop_export(
                    store,
                    files,
                    path,
                    timezone=zone,
                    options=options,
                    batch_size=batch_size,
                    on_progress=advance,
                )

    report = _run(run, lambda: stored[0] if stored else None)
    _print_summary(report)
    if report.files_unsaved:
        raise typer.Exit(EXIT_FILES_UNSAVED)
    if report.files_refused or report.files_failed:
        raise typer.Exit(EXIT_SOME_FAILED)


def _check_export(path: Path) -> None:
    """Find result.json before the store is opened: a wrong path is one line (exit 1),
    with nothing opened, created or stored."""
    from superbrain_core.history.importer import locate_export

    try:
        locate_export(path)
    except InputError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_INPUT_ERROR) from None


def _print_summary(report: ImportReport) -> None:
    console.print(
        f"chats: {report.chats}  messages: {report.messages_new} new,"
        f" {report.messages_present} already stored"
    )
    console.print(
        f"files: {report.files_stored} stored, {report.files_deduplicated} deduplicated,"
        f" {report.files_missing} missing, {report.files_refused} refused,"
        f" {report.files_failed} failed, {report.files_unsaved} not saved"
        + (f", {report.files_recovered} saved now" if report.files_recovered else "")
    )
    for line in report.unsaved:
        err_console.print(f"[red]not saved:[/] {escape(line)}", highlight=False)
    if report.files_unsaved:
        more = report.files_unsaved - len(report.unsaved)
        if more > 0:
            err_console.print(f"…and {more} more files not saved")
        err_console.print(
            "Those files were read but could not be written (disk full? --data-dir?)."
            " Fix that, then run `superbrain files retry` or this import again."
        )
    for line in report.refusals:
        err_console.print(f"[yellow]refused (not read):[/] {line}")
    for line in report.problems:
        err_console.print(f"[yellow]problem:[/] {line}")
    if report.unlisted:
        err_console.print(f"…and {report.unlisted} more refusals or problems")


def _run(fn: Callable[[], Awaitable[T]], partial: Callable[[], ImportReport | None]) -> T:
    """Run the import; on an error, first say what was stored before it (``partial``)."""
    try:
        return anyio.run(fn)
    except InputError as exc:
        report = partial()
        _print_partial(report)
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        if report is not None or exc.offset is not None:  # reading had begun
            err_console.print(
                "Everything before that point was stored; running again adds the rest."
            )
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    except ConfigError as exc:
        config_error(exc)
    except StorageError as exc:
        _print_partial(partial())
        err_console.print(f"[red]storage error:[/] {redact_text(str(exc))}")
        err_console.print("Batches stored before the error are kept; running again adds the rest.")
        raise typer.Exit(EXIT_INPUT_ERROR) from None


def _print_partial(report: ImportReport | None) -> None:
    if report is None:  # nothing was stored (or the export was not even found)
        return
    console.print("stopped early; stored until then:")
    _print_summary(report)
