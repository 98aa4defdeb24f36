"""Storage backends behind one interface, chosen by URL.

Naming a backend never imports its driver until it is opened, so the embedded
default works with the core dependencies alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from superbrain_core.errors import ConfigError
from superbrain_core.storage.base import BOT_API_DOWNLOAD_LIMIT, CaptureOptions, Store

DEFAULT_DB_URL = "sqlite:///superbrain.db"


def open_store(
    url: str,
    *,
    durable: bool = False,
    env: Mapping[str, str] | None = None,
    read_only: bool = False,
) -> Store:
    """A store for ``url``, not yet opened: use ``async with open_store(url) as store``.

    ``sqlite:///relative.db``, ``sqlite:////absolute.db`` and ``sqlite:///:memory:``
    select the embedded store, ``postgresql://`` (or ``postgres://``) URLs the
    Postgres store, whose schema ``superbrain db migrate`` creates; ``supabase``
    (or ``supabase://``) the Supabase store, configured by ``SUPABASE_URL`` and
    ``SUPABASE_SERVICE_KEY`` (or ``SUPABASE_KEY``) from ``env`` (default: the
    process environment). ``durable=True`` (the bot) makes every commit survive a
    power loss, not only a crash of the process, unless the URL says otherwise:
    what the bot acknowledged to Telegram is never redelivered.

    ``read_only=True`` is for commands that only look (``stats``, ``search``,
    ``explain``, notebooks): a SQLite file is opened without the right to write,
    and a missing file, a folder or a file that is not a superbrain database is
    refused with :class:`ConfigError` instead of being created or changed.
    Postgres and Supabase never create or migrate on open, so there it changes
    nothing.
    """
    url = url.strip()
    if url.startswith("sqlite:"):
        from superbrain_core.storage.sqlite.store import SqliteStore

        return SqliteStore.from_url(
            url, default_synchronous="FULL" if durable else "NORMAL", read_only=read_only
        )
    scheme = url.split(":", 1)[0] if ":" in url else url
    if scheme in {"postgres", "postgresql"}:
        try:
            from superbrain_core.storage.postgres.store import PostgresStore
        except ImportError as exc:
            if not (exc.name or "").startswith("psycopg") and "psycopg" not in str(exc):
                raise
            raise ConfigError(
                f"the Postgres backend needs psycopg ({exc}):"
                " pip install 'superbrain-core[postgres]'",
                variable="SUPERBRAIN_DB",
            ) from None
        # Postgres commits are durable (synchronous_commit), so `durable` needs nothing.
        return PostgresStore(url)
    if scheme == "supabase":
        # Only `supabase` / `supabase://`: the project and its key come from
        # SUPABASE_URL and SUPABASE_SERVICE_KEY, never from a URL that gets logged.
        if url.rstrip("/") not in {"supabase", "supabase:"}:
            raise ConfigError(
                "SUPERBRAIN_DB=supabase takes nothing after `supabase://`:"
                " set SUPABASE_URL and SUPABASE_SERVICE_KEY instead",
                variable="SUPERBRAIN_DB",
            )
        try:
            from superbrain_core.storage.supabase.store import SupabaseStore
        except ImportError as exc:
            missing = exc.name or ""
            if not missing.startswith(("postgrest", "supabase", "psycopg")):
                raise
            raise ConfigError(
                f"the Supabase backend needs {missing} ({exc}):"
                " pip install 'superbrain-core[supabase,postgres]'",
                variable="SUPERBRAIN_DB",
            ) from None
        # Every write is one SQL function call, committed durably by Postgres.
        return SupabaseStore.from_env(os.environ if env is None else env)
    raise ConfigError(
        f"unsupported database URL scheme {scheme!r}: expected sqlite:///PATH"
        " or postgresql://USER@HOST/DATABASE",
        variable="SUPERBRAIN_DB",
    )


__all__ = ["BOT_API_DOWNLOAD_LIMIT", "DEFAULT_DB_URL", "CaptureOptions", "Store", "open_store"]
