"""The ``superbrain`` command line. Thin: it parses options and calls the library.

``anyio.run`` lives here and nowhere else in the library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import anyio
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from superbrain_core.capture import Capturer
from superbrain_core.errors import ConfigError, InputError, StorageError
from superbrain_core.logs import configure_logging
from superbrain_core.settings import Settings
from superbrain_core.storage import CaptureOptions, open_store

app = typer.Typer(
    name="superbrain",
    help="Save every Telegram update raw; structure it later.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

EXIT_INPUT_ERROR = 1
EXIT_CONFIG_ERROR = 2


@app.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL (env SUPERBRAIN_DB; default sqlite:///superbrain.db)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Where file bytes and demo data go (env SUPERBRAIN_DATA_DIR)."
        ),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="auto, console or json.")
    ] = None,
) -> None:
    try:
        settings = Settings.from_env(db_url=db, data_dir=data_dir, log_format=log_format)
    except ConfigError as exc:
        _config_error(exc)
    configure_logging(settings.log_format, settings.log_level)
    ctx.obj = settings


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Update files: object, array, getUpdates reply or JSON Lines; - for stdin."
        ),
    ],
    source: Annotated[str, typer.Option(help="Origin label stored with each update.")] = "ingest",
    bot_id: Annotated[
        int | None, typer.Option(help="Bot the updates were received by (env SUPERBRAIN_BOT_ID).")
    ] = None,
) -> None:
    """Store Bot API updates from files through the bot's own capture path."""
    settings = _settings(ctx)
    options = CaptureOptions(
        bot_id=settings.bot_id if bot_id is None else bot_id,
        source=source,
        max_download_bytes=settings.max_download_bytes,
    )

    async def run() -> None:
        from superbrain_core.ingest import ingest_paths

        async with open_store(settings.db_url) as store:
            with Progress(
                TextColumn("[bold]ingest"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            ) as progress:
                task = progress.add_task("updates", total=None)
                report = await ingest_paths(
                    Capturer(store, options),
                    paths,
                    on_progress=lambda n: progress.advance(task, n),
                )
        t = report.tally
        console.print(f"new: {t.new}  duplicate: {t.duplicate}  edits: {t.edits}")
        for problem in t.problems:
            err_console.print(f"[yellow]kept raw only:[/] {problem}")

    _run(run)


@app.command()
def stats(ctx: typer.Context) -> None:
    """Counts per table and per message type."""
    settings = _settings(ctx)

    async def run() -> None:
        async with open_store(settings.db_url) as store:
            result = await store.stats()
        tables = Table("table", "rows", title="Tables")
        for name, count in result.tables.items():
            tables.add_row(name, str(count))
        types = Table("message_type", "messages", title="Raw messages by type")
        for name, count in result.message_types.items():
            types.add_row(name, str(count))
        files = Table("status", "files", title="Files by status")
        for name, count in result.file_statuses.items():
            files.add_row(name, str(count))
        console.print(tables, types, files)

    _run(run)


@app.command()
def demo(ctx: typer.Context) -> None:
    """Run the whole pipeline on a fresh embedded store with built-in sample data."""
    settings = _settings(ctx)

    async def run() -> None:
        from superbrain_core.demo import run_demo

        await run_demo(settings.data_dir, console)

    _run(run)


@app.command()
def bot(
    ctx: typer.Context,
    webhook_url: Annotated[
        str | None, typer.Option(help="Public URL Telegram posts to; omit for long polling.")
    ] = None,
    listen: Annotated[
        str | None, typer.Option(help="HOST:PORT for the webhook and /healthz, /readyz.")
    ] = None,
    webhook_path: Annotated[str | None, typer.Option(help="Path of the webhook endpoint.")] = None,
    secret_token: Annotated[
        str | None,
        typer.Option(help="X-Telegram-Bot-Api-Secret-Token (env SUPERBRAIN_WEBHOOK_SECRET)."),
    ] = None,
    api_server: Annotated[
        str | None, typer.Option(help="Another Bot API server (a local one, or a test double).")
    ] = None,
    local_api: Annotated[
        bool, typer.Option("--local-api", help="The API server runs with --local: no 20 MB limit.")
    ] = False,
) -> None:
    """Run the Telegram bot (reads TELEGRAM_BOT_TOKEN; long polling unless --webhook-url)."""
    settings = _settings(ctx)
    try:
        from superbrain_core.bot import BotSettings, run_bot
    except ImportError:
        err_console.print(
            "[red]the bot needs the 'bot' extra:[/] pip install 'superbrain-core[bot]'"
        )
        raise typer.Exit(EXIT_CONFIG_ERROR) from None
    try:
        bot_settings = BotSettings.from_env(
            settings,
            webhook_url=webhook_url,
            listen=listen,
            webhook_path=webhook_path,
            secret_token=secret_token,
            api_server=api_server,
            local_api=local_api or None,
        )
    except ConfigError as exc:
        _config_error(exc)
    _run(lambda: run_bot(settings, bot_settings))


def _run(fn: object) -> None:
    """Run an async command; turn the library's errors into clear messages and exit codes."""
    try:
        anyio.run(fn)  # type: ignore[arg-type]
    except InputError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        err_console.print("Everything before that point was stored.")
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    except ConfigError as exc:
        _config_error(exc)
    except StorageError as exc:
        err_console.print(f"[red]storage error:[/] {exc}")
        raise typer.Exit(EXIT_INPUT_ERROR) from None


def _config_error(exc: ConfigError) -> NoReturn:
    where = f" ({exc.variable})" if exc.variable and exc.variable not in str(exc) else ""
    err_console.print(f"[red]configuration error{where}:[/] {exc}", highlight=False)
    raise typer.Exit(EXIT_CONFIG_ERROR) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
