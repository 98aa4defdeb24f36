"""The ``superbrain`` command line. Thin: it parses options and calls the library.

``anyio.run`` lives here and nowhere else in the library.
"""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
import attrs
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from superbrain_core.capture import Capturer
from superbrain_core.cli.batch_output import batch_progress as _batch_progress
from superbrain_core.cli.batch_output import print_report as _print_report
from superbrain_core.cli.boundary import (
    EXIT_CONFIG_ERROR,
    EXIT_INPUT_ERROR,
    EXIT_SOME_FAILED,
    config_error,
    err_console,
    run_guarded,
)
from superbrain_core.cli.boundary import (
    explain as explain_error,
)
from superbrain_core.cli.db import db_app
from superbrain_core.cli.evaluate import evaluate as evaluate_command
from superbrain_core.cli.files import files_app
from superbrain_core.cli.importing import register as register_import_desktop
from superbrain_core.cli.search import search as search_command
from superbrain_core.cli.web import register as register_web
from superbrain_core.errors import ConfigError, InputError, RunLockHeld, StorageError
from superbrain_core.logs import configure_logging
from superbrain_core.settings import Settings
from superbrain_core.storage import DEFAULT_DB_URL, CaptureOptions, open_store

app = typer.Typer(
    name="superbrain",
    help="Save every Telegram update raw; structure it later.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app)
app.add_typer(files_app)
register_import_desktop(app)
register_web(app)
app.command("search")(search_command)
app.command("eval")(evaluate_command)
console = Console()


def _db_help() -> str:
    """The --db help, naming the database a command would use right now: a relative
    SQLite path is relative to the current folder, which explains an empty answer."""
    base = "Database URL (env SUPERBRAIN_DB; default sqlite:///superbrain.db)."
    url = os.environ.get("SUPERBRAIN_DB", DEFAULT_DB_URL).strip()
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url[len("sqlite:///") :].split("?", 1)[0]).resolve()
        return f"{base} Now: {path}"
    return base


@app.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help=_db_help()),
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
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the traceback of an unexpected error (for a bug report)."
        ),
    ] = False,
) -> None:
    try:
        settings = Settings.from_env(db_url=db, data_dir=data_dir, log_format=log_format)
    except ConfigError as exc:
        config_error(exc)
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
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="Store every good file; list the bad ones at the end (exit 1 if any).",
        ),
    ] = False,
) -> None:
    """Store Bot API updates from files through the bot's own capture path.

    Files are streamed, so memory stays flat whatever their size. Without
    --keep-going the first bad file stops the run; what came before is stored.
    """
    settings = _settings(ctx)
    options = CaptureOptions(
        bot_id=settings.bot_id if bot_id is None else bot_id,
        source=source,
        max_download_bytes=settings.max_download_bytes,
    )
    failed: list[InputError] = []

    async def run() -> None:
        from rich.markup import escape as plain

        from superbrain_core.history.ingest import ingest_paths

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
                    keep_going=keep_going,
                )
        t = report.tally
        console.print(
            f"new: {t.new}  duplicate: {t.duplicate}  edits: {t.edits}  conflicts: {t.conflicts}"
        )
        for problem in t.problems:
            err_console.print(f"[yellow]note:[/] {plain(problem)}")
        failed.extend(report.errors)
        if failed:
            err_console.print(
                f"[red]{len(failed)} of {len(paths)} files failed[/]"
                " (in each, everything before the error was stored):"
            )
            for error in failed:
                err_console.print(f"  {plain(str(error))}")

    _run(run, storing=True)
    if failed:
        raise typer.Exit(EXIT_INPUT_ERROR)


@app.command()
def stats(ctx: typer.Context) -> None:
    """Counts per table and per message type."""
    settings = _settings(ctx)

    async def run() -> None:
        async with open_store(settings.db_url, read_only=True) as store:
            result = await store.stats()
        console.print(f"database: {store.where} ({store.backend})", highlight=False)
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
    """Run the whole pipeline on a fresh embedded store with built-in sample data.

    The database is <data-dir>/demo/demo.db, or the SQLite file --db names, with
    file bytes in files/ beside it. SUPERBRAIN_DB is not used: the demo never writes
    samples into your database. A rerun replaces only what an earlier demo wrote;
    a database the demo did not make is refused (exit 2), never replaced.
    """
    settings = _settings(ctx)
    # Only an explicit --db counts; ctx.obj merged it with SUPERBRAIN_DB.
    db_option = ctx.parent.params.get("db") if ctx.parent is not None else None

    async def run() -> None:
        from superbrain_core.demo.scenario import demo_database, run_demo

        db_path = demo_database(db_option, settings.data_dir)
        await run_demo(settings.data_dir, console, db_path=db_path)

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
        from superbrain_core.bot.server import BotSettings, run_bot
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
        config_error(exc)
    _run(lambda: run_bot(settings, bot_settings))


@app.command()
def batch(
    ctx: typer.Context,
    classifier: Annotated[
        str,
        typer.Option(
            envvar="SUPERBRAIN_CLASSIFIER", help="rules (offline), webhook (n8n) or openai."
        ),
    ] = "rules",
    concurrency: Annotated[int, typer.Option(min=1, help="Classifications in flight.")] = 16,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Claim at most this many raw messages.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Classify and report; write nothing.")
    ] = False,
    reclassify: Annotated[
        bool,
        typer.Option(
            "--reclassify", help="Also re-file items placed by another classifier version."
        ),
    ] = False,
    retry_quarantined: Annotated[
        bool,
        typer.Option("--retry-quarantined", help="Give quarantined messages fresh attempts first."),
    ] = False,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Failed attempts before a message is quarantined.")
    ] = 5,
) -> None:
    """Classify unprocessed messages and file them into the structured tables.

    Exit 0 when every claimed message was processed, 3 when some failed or were
    quarantined, 2 on a configuration error (found before any data is touched).
    """
    settings = _settings(ctx)
    from superbrain_core.analyzer.batch import BatchOptions, BatchReport, run_batch
    from superbrain_core.analyzer.classify.factory import make_classifier

    try:
        chosen = make_classifier(classifier, connections=concurrency)
        store = open_store(settings.db_url)
        options = BatchOptions(
            concurrency=concurrency,
            limit=limit,
            dry_run=dry_run,
            reclassify=reclassify,
            max_attempts=max_attempts,
            timezone=settings.timezone,
        )
    except ConfigError as exc:
        config_error(exc)
    outcome: list[BatchReport] = []

    async def run() -> None:
        from superbrain_core.analyzer.batch import default_worker_name
        from superbrain_core.analyzer.nightly import RUN_LOCK

        worker = default_worker_name()
        try:
            async with store:
                # A dry run writes nothing, so it may look while a real run works.
                lock: AbstractAsyncContextManager[object] = (
                    contextlib.nullcontext() if dry_run else store.run_lock(RUN_LOCK, worker)
                )
                async with lock:
                    await locked(worker)
        finally:
            await chosen.aclose()

    async def locked(worker: str) -> None:
        if retry_quarantined and not dry_run:
            requeued = await store.requeue_quarantined()
            err_console.print(f"quarantined messages given fresh attempts: {requeued}")
        total = await store.pending_work(now=datetime.now(UTC))
        with _batch_progress() as progress:
            task = progress.add_task("messages", total=min(total, limit or total) or None)

            def advance(report: BatchReport) -> None:
                settled = report.processed + report.failed + report.quarantined
                progress.update(task, completed=settled if not dry_run else report.claimed)

            # Under the run lock (a real run): any other run still marked running is dead.
            run_options = attrs.evolve(options, worker=worker, exclusive=not dry_run)
            outcome.append(await run_batch(store, chosen, run_options, on_progress=advance))

    _run(run)
    (report,) = outcome
    _print_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_SOME_FAILED)


@app.command()
def nightly(
    ctx: typer.Context,
    retry_quarantined: Annotated[
        bool,
        typer.Option("--retry-quarantined", help="Give quarantined messages fresh attempts first."),
    ] = False,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Send tonight's digests and questions again, as first sent (analyzes nothing).",
        ),
    ] = False,
    night: Annotated[
        datetime | None,
        typer.Option(
            "--night",
            formats=["%Y-%m-%d"],
            help="The night the digest belongs to (default: today in SUPERBRAIN_TIMEZONE).",
        ),
    ] = None,
) -> None:
    """One night of the analyzer, as the CronJob runs it: lock, file, tell the owners.

    Each digest and question is sent at most once per owner and night, however
    often the Job is retried; --resend sends them again on purpose.

    Settings come from the environment (docs/configuration.md): the classifier
    (SUPERBRAIN_CLASSIFIER), and TELEGRAM_BOT_TOKEN with SUPERBRAIN_OWNER_IDS
    for the digest. Exit 0 all processed and delivered, 3 some messages failed,
    4 the digest could not be delivered, 2 configuration error, 1 storage
    error, 75 another run holds the lock, 143 stopped by SIGTERM.
    """
    settings = _settings(ctx)
    from superbrain_core.analyzer.batch import BatchReport
    from superbrain_core.analyzer.nightly import (
        NightlyResult,
        NightlySettings,
        run_nightly_until_stopped,
    )

    try:
        nightly_settings = NightlySettings.from_env(
            retry_quarantined=retry_quarantined or None,
            resend=resend or None,
            night=night.date() if night else None,
        )
    except ConfigError as exc:
        config_error(exc)
    outcome: list[NightlyResult] = []

    async def run() -> None:
        with _batch_progress() as progress:
            task = progress.add_task("messages", total=None)

            def advance(report: BatchReport) -> None:
                settled = report.processed + report.failed + report.quarantined
                progress.update(task, completed=settled)

            outcome.append(
                await run_nightly_until_stopped(settings, nightly_settings, on_progress=advance)
            )

    _run(run)
    (result,) = outcome
    if result.interrupted:
        err_console.print(
            "[yellow]stopped by a signal:[/] claims released, the run recorded as"
            " interrupted; the next run continues from here."
        )
    if result.locked_by is not None:
        err_console.print(
            f"[yellow]another analyzer run is active:[/] {result.locked_by}", highlight=False
        )
    if result.report is not None:
        _print_report(result.report)
    for d in result.deliveries:
        target = f"{d.chat_id}" + (
            f" (reply to {d.reply_to_message_id})" if d.reply_to_message_id else ""
        )
        if d.skipped:
            console.print(f"already sent tonight: {d.kind} to {target}", highlight=False)
        elif d.ok:
            console.print(f"sent {d.kind} to {target}", highlight=False)
        else:
            err_console.print(f"[red]not sent[/] {d.kind} to {target}: {d.error}", highlight=False)
    if result.report is not None and not nightly_settings.notify:
        err_console.print("TELEGRAM_BOT_TOKEN is not set: the digest was only printed.")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command()
def explain(
    ctx: typer.Context,
    message: Annotated[str, typer.Argument(metavar="CHAT_ID:MESSAGE_ID")],
) -> None:
    """Show a message's versions, its chain, and every classification and placement of it."""
    settings = _settings(ctx)
    try:
        chat_text, _, message_text = message.partition(":")
        chat_id, message_id = int(chat_text), int(message_text)
    except ValueError:
        err_console.print(
            f"[red]error:[/] expected CHAT_ID:MESSAGE_ID, got {escape(repr(message))}"
        )
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    from superbrain_core.settings import INT64_MAX, INT64_MIN

    if not (INT64_MIN <= chat_id <= INT64_MAX and INT64_MIN <= message_id <= INT64_MAX):
        err_console.print(
            f"[red]error:[/] CHAT_ID:MESSAGE_ID {escape(repr(message[:80]))} is out of range:"
            f" each must be from {INT64_MIN} to {INT64_MAX} (a signed 64-bit integer)"
        )
        raise typer.Exit(EXIT_INPUT_ERROR)

    async def run() -> None:
        from superbrain_core.analyzer.explain import explain_message

        async with open_store(settings.db_url, read_only=True) as store:
            found = await explain_message(store, chat_id, message_id)
        if found is None:
            err_console.print(f"no message {chat_id}:{message_id} is stored")
            raise typer.Exit(EXIT_INPUT_ERROR)
        _print_explanation(found, settings.zone)

    _run(run)


def _print_explanation(e: Any, zone: Any) -> None:
    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value else "—"

    versions = Table("version", "date", "edited", "processed", "text", title="Versions")
    for v in e.versions:
        versions.add_row(
            str(v.version),
            when(v.message_date),
            when(v.edit_date),
            "yes" if v.is_processed else "no",
            v.message_text or f"[{v.message_type}]",
        )
    console.print(versions)
    if e.chain is not None:
        chain = Table("message", "date", "text", title=f"Chain {e.chain.chain_id}")
        chain.add_row(str(e.chain.original_message_id), "root", e.chain.original_text or "")
        for r in e.chain.replies:
            chain.add_row(str(r.message_id), when(r.date), r.text or "")
        console.print(chain)
    if e.filed_under != e.message_id:
        console.print(f"A clarification: filed under message {e.filed_under}.")
    history = Table(
        "when",
        "destination",
        "record",
        "classifier",
        "confidence",
        "type",
        "title",
        "superseded",
        title="Placements",
    )
    for h in e.history:
        history.add_row(
            when(h.created_at),
            h.destination,
            str(h.record_id or "—"),
            f"{h.classifier} {h.classifier_version}",
            f"{h.confidence:.2f}",
            str(h.classification.get("type")),
            str(h.classification.get("title") or ""),
            when(h.superseded_at) if h.superseded_at else "current",
        )
    console.print(history if e.history else "Not classified yet.")
    if e.example is not None:
        console.print(
            f"Filed like the owner's own example {e.example.chat_id}:{e.example.message_id}:"
            f" «{escape(e.example.message_text or '')}»",
            soft_wrap=True,
        )
    if e.current is not None:
        console.print_json(data=e.current.classification)
    if e.record is not None:
        console.print(f"Now in {e.current.destination}:", e.record)


def _run(fn: object, *, storing: bool = False) -> None:
    """Run an async command; turn the library's errors into clear messages and exit codes.

    ``storing``: the command writes input as it reads it, so an input error is
    followed by the reassurance that what came before it is kept.
    """
    try:
        anyio.run(fn)  # type: ignore[arg-type]
    except (ConfigError, InputError, StorageError, RunLockHeld) as exc:
        message, code = explain_error(exc)
        err_console.print(f"[red]{escape(message)}[/]")
        if storing and isinstance(exc, InputError):
            err_console.print("Everything before that point was stored.")
        raise typer.Exit(code) from None


def main() -> None:
    """The console script: the app inside the error boundary."""
    run_guarded(app)


if __name__ == "__main__":
    main()
