"""The migration files and their runner on the real server: order, idempotency, checksums,
concurrent migrators, the CLI, and where the files are found."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import anyio
import psycopg
import pytest

from superbrain_core.storage.postgres import migrations
from superbrain_core.storage.postgres.migrations import MigrationError
from tests.storage.postgres import pgutil

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

PROJECT_SQL = pgutil.HERE.parents[2] / "sql"


def schema_snapshot(dsn: str) -> dict[str, object]:
    """Columns, indexes, policies and RLS flags of public: what a re-run must not change."""
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        policies = conn.execute(
            "SELECT tablename, policyname, roles::text FROM pg_policies ORDER BY 1, 2"
        ).fetchall()
        rls = conn.execute(
            "SELECT relname, relrowsecurity FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1"
        ).fetchall()
        functions = conn.execute(
            "SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig::text, p.proacl::text"
            " FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1"
        ).fetchall()
    return {
        "columns": columns,
        "indexes": indexes,
        "policies": policies,
        "rls": rls,
        "functions": functions,
    }


def run_files_directly(dsn: str) -> None:
    """Each file as psql would run it (no runner, no bookkeeping), in one transaction each."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for m in migrations.bundled_migrations():
            with conn.transaction():
                conn.execute(m.sql.encode())


def test_files_are_found_in_the_package_and_at_the_documented_place() -> None:
    bundled = migrations.bundled_migrations()
    assert [m.name for m in bundled] == sorted(m.name for m in bundled)
    numbers = [int(m.name[:4]) for m in bundled]
    # Numbered from 0001 and strictly increasing; a branch may leave a number to
    # another branch's migration (the runner applies whatever is pending, in order).
    assert numbers[0] == 1 and numbers == sorted(set(numbers))
    # The top-level sql/ of a checkout is the same directory, not a copy.
    assert [m for m in migrations.migrations_from(PROJECT_SQL)] == list(bundled)
    assert (PROJECT_SQL / "README.md").is_file()


def test_files_are_additive() -> None:
    """Never drop or rename a table or column: a new file adds instead."""
    forbidden = re.compile(
        r"\bDROP\s+(TABLE|COLUMN|SCHEMA)\b|\bRENAME\b|\bALTER\s+TABLE\b[^;]*\bDROP\s+(?!NOT\s+NULL)",
        re.IGNORECASE,
    )
    for m in migrations.bundled_migrations():
        code = re.sub(r"--[^\n]*", "", m.sql)
        assert not forbidden.search(code), f"{m.name}: {forbidden.search(code)}"


def test_status_migrate_and_status_again_through_the_cli(empty_dsn: str) -> None:
    before = pgutil.superbrain("--db", empty_dsn, "db", "status")
    assert before.returncode == 1, before.stdout + before.stderr
    names = [m.name for m in migrations.bundled_migrations()]
    for name in names:
        assert re.search(rf"^{name}\s+pending\s*$", before.stdout, re.MULTILINE), before.stdout
    assert f"{len(names)} pending: run `superbrain db migrate`" in before.stdout

    # The URL from the environment, as a deploy job passes it.
    env = {"SUPERBRAIN_DB": empty_dsn}
    first = pgutil.superbrain("db", "migrate", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert [f"applied  {n}" for n in names] == [
        line for line in first.stdout.splitlines() if line.startswith("applied")
    ]
    again = pgutil.superbrain("db", "migrate", env=env)
    assert again.returncode == 0 and "nothing to apply" in again.stdout

    after = pgutil.superbrain("--db", empty_dsn, "db", "status")
    assert after.returncode == 0, after.stdout + after.stderr
    for name in names:
        assert re.search(rf"^{name}\s+applied\s+\d{{4}}-\d\d-\d\dT", after.stdout, re.MULTILINE)
    assert "the schema is up to date" in after.stdout
    assert "postgres@" in after.stdout  # says which database, without a password


def test_sqlite_urls_are_managed_by_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    missing = pgutil.superbrain("--db", url, "db", "status")
    assert missing.returncode == 2, "status only looks: a missing file is refused"
    assert not (tmp_path / "x.db").exists()
    for command in ("migrate", "status"):
        result = pgutil.superbrain("--db", url, "db", command)
        assert result.returncode == 0, result.stderr
        assert "(SQLite, embedded)" in result.stdout
        assert "the schema is up to date" in result.stdout


def test_a_malformed_url_is_a_config_error_without_the_password() -> None:
    result = pgutil.superbrain("--db", "postgresql://me:hunter2@host:port/db?x=y", "db", "migrate")
    assert result.returncode == 2
    assert "SUPERBRAIN_DB" in result.stderr and "hunter2" not in result.stdout + result.stderr


def test_running_the_files_again_directly_changes_nothing(migrated_dsn: str) -> None:
    """Idempotent files, not just a runner that skips them: psql users re-run them."""
    before = schema_snapshot(migrated_dsn)
    run_files_directly(migrated_dsn)
    run_files_directly(migrated_dsn)
    assert schema_snapshot(migrated_dsn) == before


def test_the_files_alone_give_the_same_schema_as_the_runner(
    empty_dsn: str, migrated_dsn: str
) -> None:
    with pgutil.database("by_psql") as other:
        run_files_directly(other)
        direct = schema_snapshot(other)
    ours = schema_snapshot(migrated_dsn)
    # The runner adds schema_migrations (and the files then lock it down too).
    ours_without = {
        key: [row for row in rows if "schema_migrations" not in str(row)]  # type: ignore[attr-defined]
        for key, rows in ours.items()
    }
    assert ours_without == direct


def test_a_changed_file_is_reported_and_stops_migrate(migrated_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    shutil.copytree(PROJECT_SQL, folder)
    first = sorted(folder.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an edit after the fact\n")
    edited = migrations.migrations_from(folder)

    report = anyio.run(migrations.migration_status, migrated_dsn, edited)
    assert report.changed == [first.stem] and not report.up_to_date
    (status,) = [s for s in report.statuses if s.name == first.stem]
    assert status.checksum != status.recorded_checksum
    with pytest.raises(MigrationError, match="changed since they were applied"):
        anyio.run(migrations.migrate, migrated_dsn, edited)

    # The CLI reports a tampered record the same way.
    with psycopg.connect(migrated_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE schema_migrations SET checksum = 'tampered' WHERE name = %s", (first.stem,)
        )
    status_run = pgutil.superbrain("--db", migrated_dsn, "db", "status")
    assert status_run.returncode == 1
    assert re.search(rf"^{first.stem}\s+changed", status_run.stdout, re.MULTILINE)
    assert "changed since applied" in status_run.stderr
    migrate_run = pgutil.superbrain("--db", migrated_dsn, "db", "migrate")
    assert migrate_run.returncode == 1 and "changed since they were applied" in migrate_run.stderr


def test_line_endings_are_not_a_change() -> None:
    text = "SELECT 1;\nSELECT 2;\n"
    assert migrations.checksum(text) == migrations.checksum(text.replace("\n", "\r\n"))


def test_a_failing_file_is_rolled_back_and_named(empty_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    shutil.copytree(PROJECT_SQL, folder)
    (folder / "0999_broken.sql").write_text(
        "CREATE TABLE superbrain_half_done (id int);\nSELECT 1/0;\n"
    )
    with pytest.raises(MigrationError, match="0999_broken"):
        anyio.run(migrations.migrate, empty_dsn, migrations.migrations_from(folder))
    report = anyio.run(migrations.migration_status, empty_dsn, migrations.migrations_from(folder))
    assert report.pending == ["0999_broken"]
    assert "superbrain_half_done" not in pgutil.user_tables(empty_dsn)


def test_a_database_from_a_newer_version_is_reported_not_refused(migrated_dsn: str) -> None:
    with psycopg.connect(migrated_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (name, checksum) VALUES ('9000_future', 'x')")
    report = anyio.run(migrations.migration_status, migrated_dsn)
    assert report.unknown == ["9000_future"] and report.up_to_date
    result = pgutil.superbrain("--db", migrated_dsn, "db", "migrate")
    assert result.returncode == 0 and "9000_future is recorded but unknown" in result.stdout


async def test_two_migrators_at_once_apply_each_file_once(empty_dsn: str) -> None:
    reports: list[migrations.MigrationReport] = []

    async def one() -> None:
        reports.append(await migrations.migrate(empty_dsn))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(one)
    names = [m.name for m in migrations.bundled_migrations()]
    applied = [name for r in reports for name in r.applied_now]
    assert sorted(applied) == names, "each file applied by exactly one migrator"
    assert all(r.up_to_date for r in reports)
    with psycopg.connect(empty_dsn) as conn:
        rows = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    assert [r[0] for r in rows] == names


def test_two_migrator_processes_at_once(empty_dsn: str) -> None:
    """The real command, twice in parallel (two replicas booting)."""
    import subprocess
    import sys

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "superbrain_core", "--db", empty_dsn, "db", "migrate"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    applied = [
        line for out, _ in outputs for line in out.splitlines() if line.startswith("applied")
    ]
    assert len(applied) == len(migrations.bundled_migrations())


def test_migrations_work_where_the_supabase_roles_do_not_exist(empty_dsn: str) -> None:
    """Plain Postgres has no anon/authenticated/service_role: the files must not need them.

    The roles are cluster-wide and other databases use them, so instead of
    dropping them they are renamed inside a transaction that is rolled back.
    """
    hidden = {role: f"{role}_hidden_for_test" for role in pgutil.API_ROLES}
    with psycopg.connect(empty_dsn) as conn:  # one transaction, rolled back at the end
        for role, other in hidden.items():
            conn.execute(f'ALTER ROLE "{role}" RENAME TO "{other}"'.encode())
        assert not conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')"
        ).fetchall()
        for m in migrations.bundled_migrations():
            conn.execute(m.sql.encode())
        rls = conn.execute(
            "SELECT bool_and(relrowsecurity) FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        ).fetchone()
        assert rls == (True,)
        public_acl = conn.execute(
            "SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a"
            " WHERE p.pronamespace = 'public'::regnamespace AND a.grantee = 0"
        ).fetchone()
        assert public_acl == (0,), "no function is executable by PUBLIC"
        conn.rollback()
    with psycopg.connect(pgutil.ADMIN_DSN) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')"
        ).fetchone()
    assert found == (3,)
