"""Helpers for tests on the real Postgres server: throwaway databases, roles, the CLI.

Every test session creates its own databases (``superbrain_test_<random>``) and
drops them at the end, so sessions never see each other's rows. The Supabase API
roles (anon, authenticated, service_role) are cluster-wide: they are created
when missing, as Supabase has them, and left in place for the next session.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from tests.conftest import in_ci

ADMIN_DSN = os.environ.get(
    "SUPERBRAIN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
HERE = Path(__file__).resolve().parent
LEGACY_SCHEMA = HERE / "legacy_schema.sql"
#: The roles a Supabase project has; service_role bypasses RLS there.
API_ROLES = {
    "anon": "NOLOGIN NOINHERIT",
    "authenticated": "NOLOGIN NOINHERIT",
    "service_role": "NOLOGIN NOINHERIT BYPASSRLS",
}


def require_server() -> None:
    """Skip (fail under CI=true) when the test server does not answer."""
    try:
        psycopg.connect(ADMIN_DSN, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        reason = f"no Postgres at {ADMIN_DSN.split('@')[-1]}: {exc}"
        if in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)


def dsn_for(dbname: str) -> str:
    """The admin URL pointed at another database."""
    parts = urlsplit(ADMIN_DSN)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5)


def ensure_api_roles() -> None:
    with admin() as conn:
        for role, options in API_ROLES.items():
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                continue
            # Another session may create it a moment before us.
            with contextlib.suppress(
                psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation
            ):
                conn.execute(sql.SQL("CREATE ROLE {} " + options).format(sql.Identifier(role)))  # type: ignore[arg-type,unused-ignore]


def create_database(label: str) -> str:
    name = f"superbrain_test_{label}_{secrets.token_hex(4)}"
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(name: str) -> None:
    with admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def database(label: str) -> Iterator[str]:
    """A fresh empty database for the block; its URL."""
    name = create_database(label)
    try:
        yield dsn_for(name)
    finally:
        drop_database(name)


def superbrain(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``superbrain`` command line, in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERBRAIN_")}
    full_env["COLUMNS"] = "200"
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "superbrain_core", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def cli_migrate_twice(dsn: str) -> None:
    """``superbrain db migrate`` twice: the first applies everything, the second nothing."""
    first = superbrain("--db", dsn, "db", "migrate")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "applied  0001_" in first.stdout, first.stdout
    second = superbrain("--db", dsn, "db", "migrate")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to apply" in second.stdout, second.stdout


def load_legacy_schema(dsn: str) -> None:
    """The original Supabase tables with their seed rows (``legacy_schema.sql``)."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(LEGACY_SCHEMA.read_bytes())


def user_tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') ORDER BY relname"
        ).fetchall()
    return [str(r[0]) for r in rows]


def truncate_all(dsn: str) -> None:
    """Empty every table but schema_migrations, ids restarting at 1."""
    tables = [t for t in user_tables(dsn) if t != "schema_migrations"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in tables)
            )
        )
