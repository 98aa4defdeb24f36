"""The real Postgres server the backend tests run against is reachable.

This is the first of the ``postgres`` tests: on a developer machine without the
server it skips with the reason; with CI=true a skip fails the run (see
tests/conftest.py), so CI can never pass without having talked to Postgres.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.postgres

DSN = os.environ.get("SUPERBRAIN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def test_postgres_answers_and_is_recent_enough() -> None:
    psycopg = pytest.importorskip(
        "psycopg", reason="psycopg is not installed (pip install -e '.[dev]')"
    )
    try:
        conn = psycopg.connect(DSN, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no Postgres at {DSN.split('@')[-1]}: {exc}")
    with conn:
        (version,) = conn.execute("SHOW server_version_num").fetchone()
    assert int(version) >= 130000, "superbrain's SQL needs Postgres 13 or newer"
