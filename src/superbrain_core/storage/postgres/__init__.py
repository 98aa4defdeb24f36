"""The Postgres backend: psycopg on a direct DSN, calling the SQL functions in
``sql/`` for every atomic write (extra ``postgres``)."""

from superbrain_core.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
