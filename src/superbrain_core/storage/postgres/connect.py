"""Connecting to Postgres: libpq parameters, safe descriptions, connection errors.

Shared by the store and the migration runner, and careful never to repeat a
DSN, which may hold a password.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from superbrain_core.errors import ConfigError, TransientStorageError
from superbrain_core.logs import redact_text

DSN_HINT = "expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"


def connection_kwargs(
    dsn: str, *, application_name: str = "superbrain", connect_timeout: float = 10.0
) -> dict[str, Any]:
    """libpq parameters for ``dsn``, with an application name and a connect timeout
    unless the DSN sets its own.

    Raises :class:`ConfigError` for a malformed DSN; the message never repeats
    the DSN, which may hold a password.
    """
    try:
        params: dict[str, Any] = conninfo_to_dict(_without_pooler_flag(dsn.strip())[0])
    except psycopg.Error:
        params = {}
    # libpq parses a bad port happily and only fails when connecting; a list is
    # allowed for several hosts.
    if not params or not re.fullmatch(r"\d*(,\d*)*", str(params.get("port") or "")):
        raise ConfigError(
            f"SUPERBRAIN_DB is not a valid PostgreSQL URL ({DSN_HINT})", variable="SUPERBRAIN_DB"
        ) from None
    params.setdefault("application_name", application_name)
    params.setdefault("connect_timeout", str(max(1, round(connect_timeout))))
    return params


#: Supabase's transaction-mode pooler (Supavisor) listens on this port; its
#: session mode, like a direct connection, is on 5432.
TRANSACTION_POOLER_PORT = "6543"
_POOLER_FLAG = re.compile(r"(?:(?<=[?&])|(?<=^)|(?<=\s))pgbouncer=(\w+)&?", re.IGNORECASE)


def _without_pooler_flag(dsn: str) -> tuple[str, bool]:
    """``dsn`` without a ``pgbouncer=true`` parameter (libpq refuses unknown ones),
    and whether it said true. Tools that know they sit behind PgBouncer (Prisma and
    others) write it into the URL; it is read here, never sent to the server."""
    found = _POOLER_FLAG.search(dsn)
    if found is None:
        return dsn, False
    cleaned = (dsn[: found.start()] + dsn[found.end() :]).rstrip("?&").strip()
    return cleaned, found.group(1).lower() in {"true", "1", "on", "yes"}


def transaction_pooler(dsn: str) -> str | None:
    """Why ``dsn`` goes through a transaction-mode pooler, or ``None``.

    Such a pooler hands each transaction to any server connection: a session
    advisory lock taken on one is held by a connection the next transaction
    may not use, so it cannot keep two analyzer runs apart (nor survive the
    run's own next statement). Detected: Supabase's pooler port 6543 and a
    ``pgbouncer=true`` URL parameter.
    """
    cleaned, flagged = _without_pooler_flag(dsn.strip())
    if flagged:
        return "SUPERBRAIN_DB says pgbouncer=true (a transaction-mode pooler)"
    try:
        params = conninfo_to_dict(cleaned)
    except psycopg.Error:
        return None
    ports = str(params.get("port") or "").split(",")
    if TRANSACTION_POOLER_PORT in ports:
        return f"SUPERBRAIN_DB uses port {TRANSACTION_POOLER_PORT} (Supabase's transaction pooler)"
    return None


def describe_dsn(dsn: str) -> str:
    """``user@host:port/dbname`` for messages and logs: never the password."""
    try:
        params = conninfo_to_dict(_without_pooler_flag(dsn.strip())[0])
    except psycopg.Error:
        return "<malformed URL>"
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{host}:{port}/{params.get('dbname') or ''}"


def describe_error(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return redact_text((primary or str(exc) or type(exc).__name__).strip())


def connect_error(exc: psycopg.OperationalError) -> TransientStorageError:
    """The error for a connection that could not be made (the server may be starting)."""
    return TransientStorageError(f"cannot connect to Postgres: {describe_error(exc)}")
