"""``superbrain web`` (serve the review page) and ``superbrain web-login`` (print a link).

Commands of :mod:`superbrain_core.cli.commands`, registered there with one line.
Both read the same secret (``SUPERBRAIN_WEB_SECRET``, or ``<data dir>/web/secret``)
and owners (``SUPERBRAIN_OWNER_IDS``); with no owners configured, the link is for
the local owner (id 0), which only a server with no owners configured accepts.
"""

from __future__ import annotations

import os
import signal
from typing import Annotated

import anyio
import typer
from rich.console import Console
from rich.markup import escape

from superbrain_core import login_links
from superbrain_core.cli.boundary import EXIT_CONFIG_ERROR, config_error, explain
from superbrain_core.errors import ConfigError, StorageError
from superbrain_core.settings import INT64_MAX, Settings, parse_owner_ids

DEFAULT_BASE_URL = "http://127.0.0.1:8765"

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_object(Settings)
    if settings is None:  # pragma: no cover - the global callback always sets it
        raise typer.Exit(EXIT_CONFIG_ERROR)
    return settings


def _owners() -> frozenset[int]:
    return parse_owner_ids(os.environ.get("SUPERBRAIN_OWNER_IDS"))


def web(
    ctx: typer.Context,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to serve on (env SUPERBRAIN_WEB_LISTEN).")
    ] = "",
) -> None:
    """Serve the review page and the archive (log in with a link from web-login)."""
    from superbrain_core.files import SupabaseBucketFileStore
    from superbrain_core.storage import open_store
    from superbrain_core.web.app import DEFAULT_LISTEN, file_roots, parse_listen, serve
    from superbrain_core.web.context import FileBytes
    from superbrain_core.web.security import Access

    settings = _settings(ctx)
    listen = listen or os.environ.get("SUPERBRAIN_WEB_LISTEN") or DEFAULT_LISTEN
    try:
        parse_listen(listen)
        owners = _owners()
        secret = login_links.load_secret(settings.data_dir)
    except ValueError as exc:
        config_error(ConfigError(str(exc), variable="SUPERBRAIN_WEB_LISTEN"))
    except ConfigError as exc:
        config_error(exc)
    base = os.environ.get("SUPERBRAIN_WEB_URL", "")
    access = Access(
        secret=secret,
        owners=owners,
        ledger=login_links.NonceLedger(settings.data_dir / "web" / "used-links.db"),
        secure_cookies=base.startswith("https://"),
    )
    bucket_name = os.environ.get("SUPERBRAIN_FILES_BUCKET")
    supabase_url = os.environ.get("SUPABASE_URL")
    supabase_key = os.environ.get("SUPABASE_SERVICE_KEY") or os.environ.get("SUPABASE_KEY")
    if bucket_name and not (supabase_url and supabase_key):
        config_error(
            ConfigError(
                "SUPERBRAIN_FILES_BUCKET needs SUPABASE_URL and SUPABASE_SERVICE_KEY",
                variable="SUPERBRAIN_FILES_BUCKET",
            )
        )

    async def run() -> None:
        bucket = None
        if bucket_name and supabase_url and supabase_key:
            bucket = SupabaseBucketFileStore(
                supabase_url, supabase_key, bucket_name, tmp_dir=settings.data_dir / "tmp"
            )
        files = file_roots(settings.files_dir, settings.db_url, bucket)
        try:
            await serve_store(files)
        finally:
            if bucket is not None:
                await bucket.aclose()

    async def serve_store(files: FileBytes) -> None:
        async with open_store(settings.db_url) as store:
            err_console.print(
                f"Serving {escape(store.where)} on http://{escape(listen)}"
                " — log in with a link from: superbrain web-login"
            )
            async with anyio.create_task_group() as group:
                group.start_soon(serve, store, access, files, settings.zone, listen)
                # SIGTERM (a pod stopping) and Ctrl-C end the server cleanly.
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        err_console.print("Stopping.")
                        group.cancel_scope.cancel()
                        break

    try:
        anyio.run(run)
    except (ConfigError, StorageError) as exc:
        message, code = explain(exc)
        err_console.print(f"[red]{escape(message)}[/]")
        raise typer.Exit(code) from None
    except KeyboardInterrupt:
        pass


def web_login(
    ctx: typer.Context,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help=f"Where the page is served (env SUPERBRAIN_WEB_URL; {DEFAULT_BASE_URL}).",
        ),
    ] = None,
    owner: Annotated[
        int | None,
        typer.Option("--owner", min=0, max=INT64_MAX, help="Owner id (default: the first owner)."),
    ] = None,
) -> None:
    """Print a single-use login link, valid for 10 minutes."""
    settings = _settings(ctx)
    try:
        owners = _owners()
        secret = login_links.load_secret(settings.data_dir)
    except ConfigError as exc:
        config_error(exc)
    if owner is None:
        owner = min(owners) if owners else login_links.LOCAL_OWNER
    allowed = owners or frozenset({login_links.LOCAL_OWNER})
    if owner not in allowed:
        config_error(
            ConfigError(f"{owner} is not in SUPERBRAIN_OWNER_IDS", variable="SUPERBRAIN_OWNER_IDS")
        )
    base = base_url or os.environ.get("SUPERBRAIN_WEB_URL") or DEFAULT_BASE_URL
    if not base.startswith(("http://", "https://")):
        config_error(ConfigError("--base-url must start with http:// or https://"))
    print(login_links.login_url(base, login_links.mint_login(secret, owner)))


def register(app: typer.Typer) -> None:
    app.command("web")(web)
    app.command("web-login")(web_login)
