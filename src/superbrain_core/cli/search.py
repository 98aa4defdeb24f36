"""``superbrain search QUERY``: full-text search over everything captured.

A command of :mod:`superbrain_core.cli.commands` (registered there with one line); it
does not import that module, which imports it. Dates are shown on the owner's
clock (``SUPERBRAIN_TIMEZONE``), the matched words in bold. Exit codes: 0 with
hits or none (an empty result is an answer, not an error), 1 for a query with
nothing searchable or a storage error, 2 for a configuration error.
"""

from __future__ import annotations

from typing import Annotated

import anyio
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from superbrain_core.cli.boundary import EXIT_CONFIG_ERROR
from superbrain_core.errors import ConfigError, StorageError
from superbrain_core.logs import redact_text
from superbrain_core.search import MAX_LIMIT, SearchHit, SearchQueryError
from superbrain_core.settings import INT64_MAX, INT64_MIN, Settings
from superbrain_core.storage import open_store

EXIT_BAD_QUERY = 1

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to find, in any form (all must occur).")],
    chat: Annotated[
        int | None,
        typer.Option(
            "--chat",
            # Chat ids are signed 64-bit; a larger number is an option error (exit 2).
            min=INT64_MIN,
            max=INT64_MAX,
            help="Only this chat id.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="At most this many results.")
    ] = 20,
) -> None:
    """Find messages by words in their text, caption or file names (newest first)."""
    settings = ctx.find_object(Settings)
    if settings is None:  # pragma: no cover - the global callback always sets it
        raise typer.Exit(EXIT_CONFIG_ERROR)

    async def run() -> list[SearchHit]:
        async with open_store(settings.db_url, read_only=True) as store:
            return await store.search(query, limit=limit, chat_id=chat)

    try:
        hits = anyio.run(run)
    except SearchQueryError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_QUERY) from None
    except ConfigError as exc:
        where = f" ({exc.variable})" if exc.variable and exc.variable not in str(exc) else ""
        err_console.print(f"[red]configuration error{where}:[/] {exc}")
        raise typer.Exit(EXIT_CONFIG_ERROR) from None
    except StorageError as exc:
        # Storage errors can quote the database URL, password included.
        err_console.print(f"[red]storage error:[/] {escape(redact_text(str(exc)))}")
        raise typer.Exit(EXIT_BAD_QUERY) from None
    if not hits:
        console.print(f"nothing found for {escape(repr(query))}")
        return
    table = Table(
        "date", "chat", "message", "type", "found", "filed as", title=f"Search: {escape(query)}"
    )
    for hit in hits:
        table.add_row(
            hit.date.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M"),
            str(hit.chat_id),
            str(hit.message_id),
            hit.message_type,
            _snippet(hit),
            _filed(hit),
        )
    console.print(table)
    shown = "all" if len(hits) < limit else f"the newest {limit}; --limit for more"
    console.print(f"{len(hits)} {'message' if len(hits) == 1 else 'messages'} ({shown})")


def _snippet(hit: SearchHit) -> Text:
    text = Text(hit.snippet)
    for start, end in hit.highlights:
        text.stylize("bold yellow", start, end)
    if hit.matched_in == "file":
        text = Text("file: ", style="dim") + text
    if hit.from_bot:
        text = Text("bot: ", style="dim") + text
    return text


def _filed(hit: SearchHit) -> str:
    if hit.from_bot:
        return "the bot's message"
    if hit.destination is None:
        return "not analyzed yet"
    if hit.destination == "none":
        return "nothing to file"
    return f"{hit.destination} #{hit.record_id}" if hit.record_id else hit.destination
