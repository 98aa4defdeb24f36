"""Row-level security and privileges: Supabase's API roles get nothing, service_role all.

Tables, sequences and functions are enumerated from the catalog, so whatever a
later migration adds is covered without touching this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from superbrain_core.demo.samples import make_message, make_update
from superbrain_core.storage.base import CaptureOptions
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.telegram import normalize_update
from tests.storage.postgres import pgutil

pytestmark = pytest.mark.postgres

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def conn(migrated_dsn: str) -> Iterator[Conn]:
    """A superuser connection with one captured chain, so tables are not empty."""
    with psycopg.connect(migrated_dsn, autocommit=True) as c:
        root = make_message(1, text="корень")
        items = pgcodec.capture_items(
            [
                normalize_update({"update_id": 1, "message": root}),
                normalize_update(make_update(2, message_id=2, text="ответ", reply_to=root)),
            ],
            CaptureOptions(),
        )
        c.execute("SELECT superbrain_capture_many(%s::jsonb)", (items,))
        c.execute("INSERT INTO batch_runs (status) VALUES ('done')")
        yield c


def tables(c: Conn) -> list[str]:
    rows = c.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relkind IN ('r', 'p') ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def first_column(c: Conn, table: str) -> str:
    row = c.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
        (f"public.{table}",),
    ).fetchone()
    assert row is not None
    return str(row[0])


def sequences(c: Conn) -> list[str]:
    rows = c.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relkind = 'S' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def functions(c: Conn) -> list[tuple[str, sql.Composed]]:
    """Every function in public, with a call of it on typed NULLs."""
    rows = c.execute(
        "SELECT p.proname, array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t)"
        " FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1"
    ).fetchall()
    return [
        (
            name,
            sql.SQL("SELECT public.{}({})").format(
                sql.Identifier(name),
                sql.SQL(", ").join(sql.SQL("NULL::" + t) for t in types),  # type: ignore[arg-type,unused-ignore]
            ),
        )
        for name, types in rows
    ]


def test_the_catalog_holds_what_we_expect(conn: Conn) -> None:
    assert {
        "raw_updates",
        "raw_messages",
        "raw_files",
        "bot_responses",
        "message_chains",
        "batch_runs",
        "schema_migrations",
    } <= set(tables(conn))
    names = {name for name, _ in functions(conn)}
    assert {
        "superbrain_capture_many",
        "superbrain_record_bot_responses",
        "superbrain_set_file_status",
    } <= names
    assert sequences(conn), "identity sequences exist"


def test_every_table_has_row_level_security_and_no_policy_for_the_api_roles(conn: Conn) -> None:
    off = conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relkind IN ('r', 'p') AND NOT relrowsecurity"
    ).fetchall()
    assert off == []
    open_policies = conn.execute(
        "SELECT tablename, policyname FROM pg_policies WHERE schemaname = 'public'"
        " AND roles && ARRAY['public', 'anon', 'authenticated']::name[]"
    ).fetchall()
    assert open_policies == []
    for table in tables(conn):
        policy = conn.execute(
            "SELECT roles::text FROM pg_policies WHERE schemaname = 'public' AND tablename = %s"
            " AND policyname = 'superbrain_service_role_all'",
            (table,),
        ).fetchone()
        assert policy == ("{service_role}",), table


def test_functions_are_security_invoker_with_a_fixed_search_path(conn: Conn) -> None:
    rows = conn.execute(
        "SELECT proname, prosecdef, proconfig FROM pg_proc"
        " WHERE pronamespace = 'public'::regnamespace"
    ).fetchall()
    assert rows
    for name, definer, config in rows:
        assert not definer, f"{name} is SECURITY DEFINER"
        assert config and "search_path=public, pg_temp" in config, name


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_the_api_roles_can_touch_nothing(conn: Conn, role: str) -> None:
    all_tables = [(t, first_column(conn, t)) for t in tables(conn)]
    all_sequences, all_functions = sequences(conn), functions(conn)
    denied: list[str] = []
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        statements: list[tuple[str, sql.Composed]] = []
        for t, column in all_tables:
            ident, col = sql.Identifier(t), sql.Identifier(column)
            statements += [
                (f"SELECT {t}", sql.SQL("SELECT * FROM {} LIMIT 1").format(ident)),
                (f"INSERT {t}", sql.SQL("INSERT INTO {} DEFAULT VALUES").format(ident)),
                (f"UPDATE {t}", sql.SQL("UPDATE {} SET {} = {}").format(ident, col, col)),
                (f"DELETE {t}", sql.SQL("DELETE FROM {}").format(ident)),
                (f"TRUNCATE {t}", sql.SQL("TRUNCATE {}").format(ident)),
            ]
        for s in all_sequences:
            statements.append(
                (f"nextval {s}", sql.SQL("SELECT nextval({})").format(sql.Literal(s)))
            )
        for name, call in all_functions:
            statements.append((f"EXECUTE {name}", call))
        for label, statement in statements:
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                denied.append(label)
            else:
                pytest.fail(f"{role} could run {label}")
    finally:
        conn.execute("RESET ROLE")
    assert len(denied) == len(statements)
    # Nothing in the ACLs either (a grant could hide behind an error above).
    for t, _ in all_tables:
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"):
            assert not conn.execute(
                "SELECT has_table_privilege(%s, %s, %s)", (role, f"public.{t}", privilege)
            ).fetchone()[0], (role, t, privilege)  # type: ignore[index]
    for name, _ in all_functions:
        allowed = conn.execute(
            "SELECT bool_or(has_function_privilege(%s, p.oid, 'EXECUTE')) FROM pg_proc p"
            " WHERE p.pronamespace = 'public'::regnamespace AND p.proname = %s",
            (role, name),
        ).fetchone()
        assert allowed == (False,), (role, name)


def test_service_role_can_read_write_and_call_even_without_bypassrls(conn: Conn) -> None:
    """Supabase's service_role has BYPASSRLS; the explicit policies make that unnecessary."""
    counts = {}
    for t in tables(conn):
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()
        assert row is not None
        counts[t] = row[0]
    assert counts["raw_updates"] == 2 and counts["message_chains"] == 1
    for bypass in (True, False):
        with conn.transaction(force_rollback=True):
            if not bypass:
                conn.execute("ALTER ROLE service_role NOBYPASSRLS")
            conn.execute("SET LOCAL ROLE service_role")
            for t, expected in counts.items():
                seen = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))
                ).fetchone()
                assert seen == (expected,), (t, bypass)
            items = pgcodec.capture_items(
                [normalize_update(make_update(3, message_id=3, text="от service_role"))],
                CaptureOptions(),
            )
            row = conn.execute("SELECT superbrain_capture_many(%s::jsonb)", (items,)).fetchone()
            assert row is not None and row[0][0]["outcome"] == "new"
            conn.execute(
                "SELECT superbrain_record_bot_responses(%s::jsonb)",
                ('[{"chat_id": 1, "message_id": 9, "response_text": "ok"}]',),
            )
            with pytest.raises(psycopg.errors.NoDataFound), conn.transaction():
                # Allowed to call it: it ran and found no such file.
                conn.execute("SELECT superbrain_set_file_status(%s, 'missing')", (-1,))
            conn.execute("UPDATE raw_messages SET is_processed = true WHERE message_id = 3")
            conn.execute("DELETE FROM batch_runs")
            for name, _ in functions(conn):
                allowed = conn.execute(
                    "SELECT bool_and(has_function_privilege('service_role', p.oid, 'EXECUTE'))"
                    " FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace"
                    " AND p.proname = %s",
                    (name,),
                ).fetchone()
                assert allowed == (True,), name


def test_row_level_security_really_filters(conn: Conn) -> None:
    """A role granted SELECT but covered by no policy sees no rows: RLS is on, not just ACLs."""
    probe = "superbrain_rls_probe"
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(probe)))
        conn.execute(sql.SQL("GRANT SELECT ON raw_updates TO {}").format(sql.Identifier(probe)))
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(probe)))
        assert conn.execute("SELECT count(*) FROM raw_updates").fetchone() == (0,)


def test_the_legacy_upgrade_takes_back_what_the_seed_schema_gave_away(legacy_dsn: str) -> None:
    """The seed schema granted everything to anon and had a read-all policy."""
    import anyio

    from superbrain_core.storage.postgres import migrations

    report = anyio.run(migrations.migrate, legacy_dsn)
    assert any("Enable read access for all users" in n for n in report.notices)
    with psycopg.connect(legacy_dsn, autocommit=True) as c:
        c.execute("SET ROLE anon")
        for t in ("raw_messages", "raw_files", "bot_responses", "message_chains"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(t)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT nextval('raw_messages_id_seq')")
        c.execute("RESET ROLE")
        assert c.execute(
            "SELECT count(*) FROM pg_policies WHERE roles && ARRAY['public','anon']::name[]"
        ).fetchone() == (0,)
    assert pgutil.user_tables(legacy_dsn)
