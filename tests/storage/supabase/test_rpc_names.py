"""The Supabase store against the real schema (marker ``postgres``; no PostgREST binary here).

1. Every function the store calls through ``rpc`` exists in a migrated database,
   once, and the argument names it sends are that function's (all required ones
   included); every column its selects name exists. PostgREST resolves a
   function by its argument *names*, so a renamed ``p_…`` in ``sql/`` breaks the
   Supabase backend while the Postgres one (positional) keeps working: this
   catches that drift.
2. ``PostgrestOnPostgres``, a transport speaking just enough of PostgREST from
   the real database (rpc arguments bound through ``json_to_record`` as
   PostgREST binds them, rows as ``to_jsonb``, the *max-rows* cap, errors as
   PostgREST maps SQLSTATEs, a session time zone other than UTC), lets the whole
   storage conformance suite run against :class:`SupabaseStore`, and a scenario
   compare every read with what :class:`PostgresStore` returns from the same rows.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import psycopg
import pytest
import respx
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.rules import RulesClassifier
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import BOT_ID, BOT_REPLIES, OWNER_ID, demo_day, make_update
from superbrain_core.errors import StorageError
from superbrain_core.models import (
    BotResponseIn,
    FileStatus,
    ImportedMessage,
    Placement,
    WorkFailure,
)
from superbrain_core.records import TABLES as ROUTING_TABLES
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.storage.outbox import Notification
from superbrain_core.storage.pgsql import json_rows as sbrows
from superbrain_core.storage.postgres import migrations
from superbrain_core.storage.postgres.store import PostgresStore
from superbrain_core.storage.supabase.store import SupabaseStore
from superbrain_core.telegram import normalize_update
from tests.analyzer.test_batch_backends import *  # noqa: F403  (the suite, run on this module's store)
from tests.bot.test_poison_spool import (  # noqa: F401  (run on this module's store)
    test_a_live_batch_with_a_poison_update_loses_none_of_the_others,
    test_a_mixed_batch_is_stored_whole_or_not_at_all,
    test_a_poison_update_is_set_aside_and_the_rest_replays,
)
from tests.fuzz.test_arrival_order_fuzz import *  # noqa: F403
from tests.history.test_desktop_import_backends import *  # noqa: F403
from tests.history.test_huge_numbers_backends import *  # noqa: F403
from tests.storage.conformance.test_arrival_order import *  # noqa: F403
from tests.storage.conformance.test_business import *  # noqa: F403
from tests.storage.conformance.test_conflicts import *  # noqa: F403
from tests.storage.conformance.test_crash_rescue import *  # noqa: F403
from tests.storage.conformance.test_run_lock import (  # noqa: F401  (run on this module's store)
    test_a_second_holder_is_refused_and_told_who_holds_it,
    test_the_lock_is_released_when_the_body_raises,
    test_two_runs_racing_for_the_lock_let_exactly_one_in,
)
from tests.storage.conformance.test_search import (  # noqa: F401  (run on this module's store)
    test_a_query_with_nothing_searchable_is_a_clear_error,
    test_bad_arguments_are_refused_before_the_database,
    test_captions_and_file_names_are_searched,
    test_chat_filter_limit_and_dates,
    test_english_forms_and_a_mixed_query,
    test_odd_text_is_captured_and_searchable,
    test_query_syntax_characters_are_plain_text,
    test_results_show_the_newest_version_of_an_edited_message,
    test_russian_word_forms_find_each_other,
    test_where_the_analyzer_filed_a_message_is_shown,
)
from tests.storage.conformance.test_search_bot import *  # noqa: F403
from tests.storage.conformance.test_store import *  # noqa: F403
from tests.storage.conformance.test_work import *  # noqa: F403
from tests.storage.postgres import pgutil

# It sets up a race's leftovers with SQL on the database; the Supabase store reads
# contexts through the same superbrain_work_contexts_json, which the postgres run tests.
del test_input_version_never_goes_backwards  # noqa: F821

# It spells out the backend names whose text columns drop NUL ("postgres"); the
# Supabase store is one of them (the same Postgres text type), so its own copy
# of that check is test_nul_is_dropped_from_text_columns_only below.
del test_any_text_round_trips  # noqa: F821

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

PROJECT = "https://proj.supabase.co"
KEY = "sb_secret_integration0123456789"
T0 = datetime(2026, 11, 24, 20, 59, 30, tzinfo=UTC)
#: Not UTC, so every timestamp PostgREST would send carries an offset to convert.
SESSION_TIME_ZONE = "Asia/Kolkata"
StoreFactory = Callable[[], Store]


@pytest.fixture(scope="module")
def supabase_dsn() -> Iterator[str]:
    pgutil.require_server()
    pgutil.ensure_api_roles()
    with pgutil.database("supabase") as dsn:
        anyio.run(migrations.migrate, dsn)
        yield dsn


# -- 1. names ------------------------------------------------------------------------------------


async def _hold_run_lock(store: SupabaseStore) -> None:
    """Take, renew (through a heartbeat of 1 s) and release the run lock."""
    async with store.run_lock("batch", "w", ttl=3):
        await anyio.sleep(1.2)


async def _every_rpc_call() -> dict[str, set[str]]:
    """Each function the store calls, with the argument names it sends."""
    sent: dict[str, set[str]] = {}

    def record(request: httpx.Request) -> httpx.Response:
        function = request.url.path.rsplit("/", 1)[1]
        sent.setdefault(function, set()).update(json.loads(request.content))
        if function == "superbrain_try_run_lock":  # so that renew and release follow
            return httpx.Response(200, json={"acquired": True, "holder": "w"})
        return httpx.Response(200, json=[])

    placement = Placement(1, 1, 1, "notes", {"text": "x"}, {}, "rules", "1", 1.0, 1, (1,), (2,))
    calls: list[Callable[[SupabaseStore], Any]] = [
        lambda s: s.capture_many([normalize_update(make_update(1, message_id=1, text="x"))]),
        lambda s: s.record_bot_responses(
            [BotResponseIn(chat_id=1, message_id=2, response_text="y")]
        ),
        lambda s: s.set_file_status(1, FileStatus.STORED, file_hash="h", file_path="p"),
        lambda s: s.chain_of(1, 1),
        lambda s: s.claim_work("w", limit=1, lease_until=T0, now=T0),
        lambda s: s.peek_work(after_id=0, limit=1, now=T0, reclassify=("rules", "1")),
        lambda s: s.pending_work(now=T0),
        lambda s: s.load_work_contexts([(1, 1)]),
        lambda s: s.apply_placements([placement], run_id=None),
        lambda s: s.record_work_failures([WorkFailure(1, "e", T0)]),
        lambda s: s.extend_claims("w", lease_until=T0),
        lambda s: s.release_claims("w"),
        lambda s: s.requeue_for_reclassify("rules", "1"),
        lambda s: s.requeue_quarantined(),
        lambda s: s.start_batch_run("rules", "1", "w"),
        lambda s: s.finish_batch_run(1, status="ok", counts={}, digest=""),
        lambda s: s.search("встреча", limit=5, chat_id=1, since=T0, until=T0),
        lambda s: _hold_run_lock(s),
        lambda s: s.import_messages(
            [ImportedMessage(normalize_update(make_update(2, message_id=2, text="x")).message)]
        ),
        lambda s: s.stored_message_keys([(1, 1), (1, 2)]),
        lambda s: s.write_batch(
            [
                normalize_update(make_update(3, message_id=3, text="x")),
                BotResponseIn(chat_id=1, message_id=4, response_text="y"),
            ]
        ),
        lambda s: s.rescue_crashed_runs(
            "w", stale_after=timedelta(seconds=60), exclusive=False, now=T0
        ),
        lambda s: s.claim_notification(NOTE, "h"),
        lambda s: s.finish_notification(NOTE, "h", message_id=1, error=None),
        lambda s: s.open_questions(1, before=T0.date(), max_asks=3),
        lambda s: s.notifications(T0.date()),
    ]
    with respx.mock(base_url=f"{PROJECT}/rest/v1", assert_all_called=False) as api:
        api.get("/schema_migrations").mock(
            return_value=httpx.Response(
                200, json=[{"name": m.name} for m in migrations.bundled_migrations()]
            )
        )
        api.post(path__startswith="/rpc/").mock(side_effect=record)
        async with SupabaseStore(PROJECT, KEY) as store:
            for call in calls:
                # The canned answer is not what each call expects; the request is what counts.
                with contextlib.suppress(StorageError, ValueError):
                    await call(store)
    return sent


NOTE = Notification(night=datetime(2026, 11, 25, tzinfo=UTC).date(), owner_id=1, kind="digest")


def test_the_functions_and_argument_names_the_store_sends_exist(supabase_dsn: str) -> None:
    sent = anyio.run(_every_rpc_call)
    run_lock = {
        "superbrain_try_run_lock",
        "superbrain_renew_run_lock",
        "superbrain_release_run_lock",
    }
    assert run_lock <= set(sent), sorted(sent)
    assert "superbrain_search_all" in sent, sorted(sent)
    assert "superbrain_import_messages" in sent, sorted(sent)
    assert "superbrain_stored_message_keys" in sent, sorted(sent)
    assert len(sent) >= 16 + len(run_lock)
    with psycopg.connect(supabase_dsn) as conn:
        for function, arguments in sent.items():
            found = conn.execute(
                "SELECT p.proargnames, p.proargmodes, p.pronargs, p.pronargdefaults"
                " FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace"
                " AND p.proname = %s",
                (function,),
            ).fetchall()
            assert len(found) == 1, f"{function}: {len(found)} functions (PostgREST needs one)"
            names, modes, count, defaults = found[0]
            inputs = [
                n
                for n, m in zip(names or [], modes or ["i"] * count, strict=False)
                if m in ("i", "b", "v")
            ]
            assert arguments <= set(inputs), f"{function}: sends {arguments - set(inputs)}"
            required = set(inputs[: count - defaults])
            assert required <= arguments, f"{function}: does not send {required - arguments}"


def test_the_columns_the_store_selects_exist(supabase_dsn: str) -> None:
    selects = {
        "raw_messages": [sbrows.MESSAGE_SELECT, sbrows.PROBLEM_SELECT],
        "raw_files": [sbrows.FILE_SELECT],
        "bot_responses": [sbrows.BOT_SELECT],
        "message_chains": [sbrows.CHAIN_SELECT],
        "routing_log": [sbrows.ROUTING_SELECT],
        "raw_updates": [sbrows.UPDATE_SELECT],
        "batch_runs": [sbrows.BATCH_RUN_SELECT],
        "schema_migrations": ["name"],
    }
    with psycopg.connect(supabase_dsn) as conn:
        for table, lists in selects.items():
            columns = {
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND table_name = %s",
                    (table,),
                )
            }
            for select in lists:
                assert set(select.split(",")) <= columns, (
                    f"{table}: {set(select.split(',')) - columns}"
                )


# -- 2. PostgREST's behaviour, answered from the real database -------------------------------------


def _status(sqlstate: str) -> int:
    """PostgREST's mapping of SQLSTATEs to HTTP statuses (the part this suite meets)."""
    if sqlstate in {"23503", "23505"}:
        return 409
    if sqlstate in {"42883", "42P01"}:
        return 404
    if sqlstate == "42501":
        return 403
    if sqlstate == "P0001":
        return 400
    if sqlstate[:2] in {"08", "53"}:
        return 503
    if sqlstate[:2] in {
        "25",
        "40",
        "54",
        "55",
        "57",
        "58",
        "XX",
        "P0",
        "F0",
        "HV",
        "2D",
        "38",
        "39",
    }:
        return 500
    return 400


class PostgrestOnPostgres(httpx.AsyncBaseTransport):
    """Just enough of PostgREST, answered from a real database."""

    def __init__(self, dsn: str, max_rows: int = 1000) -> None:
        self.max_rows = max_rows
        self.pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=8,
            open=False,
            kwargs={"autocommit": True},
            configure=self._configure,
        )
        self._opened = False
        self._lock = anyio.Lock()

    @staticmethod
    async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(f"SET TimeZone = '{SESSION_TIME_ZONE}'")

    async def aclose(self) -> None:
        """A store closing its HTTP client must not close the shared database pool."""

    async def shutdown(self) -> None:
        await self.pool.close()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with self._lock:
            if not self._opened:
                await self.pool.open(wait=True)
                self._opened = True
        assert request.headers["apikey"] == KEY and "authorization" not in request.headers
        path = request.url.path.removeprefix("/rest/v1/")
        await request.aread()
        try:
            async with self.pool.connection() as conn:
                if path.startswith("rpc/"):
                    return await self._rpc(conn, path[4:], json.loads(request.content or b"{}"))
                return await self._read(conn, path, request)
        except psycopg.Error as exc:
            state = exc.sqlstate or ""
            if not state:
                raise httpx.ConnectError(str(exc)) from exc
            diag = exc.diag
            return httpx.Response(
                _status(state),
                json={
                    "code": state,
                    "message": diag.message_primary,
                    "details": diag.message_detail,
                    "hint": diag.message_hint,
                },
            )

    async def _rpc(
        self, conn: psycopg.AsyncConnection[Any], function: str, arguments: dict[str, Any]
    ) -> httpx.Response:
        cur = await conn.execute(
            "SELECT p.proretset, p.prorettype = 'void'::regtype, p.proargnames,"
            " array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t),"
            " p.pronargs - p.pronargdefaults"
            " FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.proname = %s",
            (function,),
        )
        found = await cur.fetchall()
        if len(found) != 1:
            return httpx.Response(404, json={"code": "PGRST202", "message": f"no {function}"})
        returns_set, returns_void, names, types, required = found[0]
        names = list(names or [])[: len(types)]
        if set(arguments) - set(names) or set(names[:required]) - set(arguments):
            return httpx.Response(404, json={"code": "PGRST202", "message": "argument names"})
        given = [(n, t) for n, t in zip(names, types, strict=True) if n in arguments]
        call = sql.SQL("{}({})").format(
            sql.Identifier(function),
            sql.SQL(", ").join(
                sql.SQL("{} := a.{}").format(sql.Identifier(n), sql.Identifier(n)) for n, _ in given
            ),
        )
        source = sql.SQL("json_to_record(%s::json) AS a({})").format(
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in given
            )
            if given
            else sql.SQL("_ int")
        )
        params = (json.dumps(arguments),)
        if returns_set:
            query = sql.SQL(
                "WITH src AS MATERIALIZED (SELECT r.* FROM {source}, LATERAL {call} r)"
                " SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]')::text"
                " FROM (SELECT * FROM src LIMIT {cap}) x"
            ).format(source=source, call=call, cap=sql.Literal(self.max_rows))
        elif returns_void:
            await conn.execute(sql.SQL("SELECT {} FROM {}").format(call, source), params)
            return httpx.Response(204)
        else:
            query = sql.SQL("SELECT to_jsonb({})::text FROM {}").format(call, source)
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
        text = row[0] if row and row[0] is not None else "null"  # to_jsonb(NULL) is NULL
        return httpx.Response(200, content=text.encode())

    async def _read(
        self, conn: psycopg.AsyncConnection[Any], table: str, request: httpx.Request
    ) -> httpx.Response:
        query = request.url.params
        conditions: list[sql.Composable] = []
        values: list[str] = []
        for column, condition in query.multi_items():
            if column in {"select", "order", "limit", "offset"}:
                continue
            negate = condition.startswith("not.")
            operator, _, argument = condition.removeprefix("not.").partition(".")
            name = sql.Identifier(column)
            if operator == "is":
                clause = sql.SQL("{} IS {}").format(
                    name, sql.SQL({"null": "NULL", "true": "TRUE", "false": "FALSE"}[argument])
                )
            else:
                clause = sql.SQL("{} {} %s").format(name, sql.SQL({"eq": "=", "gt": ">"}[operator]))
                values.append(argument)
            conditions.append(sql.SQL("NOT ({})").format(clause) if negate else clause)
        where = (
            sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
        )
        relation = sql.Identifier(table)
        if request.method == "HEAD":
            assert request.headers["prefer"] == "count=exact"
            cur = await conn.execute(
                sql.SQL("SELECT count(*) FROM {}{}").format(relation, where), values
            )
            row = await cur.fetchone()
            total = row[0] if row else 0
            return httpx.Response(
                200, headers={"content-range": f"{'0-0' if total else '*'}/{total}"}
            )
        select = query.get("select", "*")
        columns = (
            sql.SQL("*")
            if select == "*"
            else sql.SQL(", ").join(sql.Identifier(c) for c in select.split(","))
        )
        order = sql.SQL("")
        if "order" in query:
            column, direction = query["order"].split(".")[:2]
            order = sql.SQL(" ORDER BY {} {}").format(
                sql.Identifier(column), sql.SQL("DESC" if direction == "desc" else "ASC")
            )
        limit = min(int(query.get("limit", self.max_rows)), self.max_rows)
        cur = await conn.execute(
            sql.SQL("SELECT to_jsonb(t)::text FROM (SELECT {} FROM {}{}{} LIMIT {}) t").format(
                columns, relation, where, order, sql.Literal(limit)
            ),
            values,
        )
        rows = [json.loads(r[0]) for r in await cur.fetchall()]
        return httpx.Response(200, json=rows)


@pytest.fixture
async def rest(supabase_dsn: str) -> AsyncIterator[PostgrestOnPostgres]:
    pgutil.truncate_all(supabase_dsn)
    transport = PostgrestOnPostgres(supabase_dsn)
    try:
        yield transport
    finally:
        await transport.shutdown()


@pytest.fixture
def store_factory(rest: PostgrestOnPostgres) -> StoreFactory:
    """What the imported conformance tests open: Supabase stores on one database."""
    return lambda: SupabaseStore(PROJECT, KEY, transport=rest, retry_delay=0.01)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    async with store_factory() as opened:
        yield opened


async def test_every_read_equals_the_postgres_stores(store: Store, supabase_dsn: str) -> None:
    """A day through the Supabase store (capture, bot replies, files, two analyzer
    nights, a failure), then every read compared with the Postgres store's."""
    capturer = Capturer(store, CaptureOptions(bot_id=BOT_ID, source="demo"))
    replies = {after: (mid, text, rel) for after, mid, text, rel in BOT_REPLIES}
    payloads = demo_day()
    rules = RulesClassifier()
    for n, payload in enumerate(payloads):
        if n == len(payloads) // 2:
            await run_batch(store, rules, BatchOptions(concurrency=4))
        (result,) = await capturer.capture_normalized([normalize_update(payload)])
        if result.update_id in replies:
            mid, text, rel = replies[result.update_id]
            await store.record_bot_response(
                BotResponseIn(
                    chat_id=OWNER_ID,
                    message_id=mid,
                    response_text=text,
                    user_id=OWNER_ID,
                    related_user_message_id=rel,
                    method="sendMessage",
                    request={"text": text + "\x00"},
                )
            )
    await capturer.capture_normalized(
        [normalize_update(make_update(990001, message_id=77, text="nul \x00 and \ud83d", date=T0))]
    )
    pending = await store.list_files(status=FileStatus.PENDING)
    await store.set_file_status(
        pending[0].id, FileStatus.STORED, file_hash="ab" * 32, file_path="ab/cd/x"
    )
    await store.set_file_status(pending[1].id, FileStatus.FAILED, reason="HTTP 404")
    await run_batch(store, rules, BatchOptions(concurrency=4))
    (late,) = await store.peek_work(after_id=0, limit=10, now=T0 + timedelta(days=3)) or [None]
    assert late is None
    await capturer.capture_normalized(
        [normalize_update(make_update(990002, message_id=78, text="later", date=T0))]
    )
    (item,) = await store.claim_work(
        "w", limit=5, lease_until=T0 + timedelta(days=9), now=T0 + timedelta(days=3)
    )
    await store.record_work_failures([WorkFailure(item.id, "boom", T0 + timedelta(days=4))])

    async with PostgresStore(supabase_dsn) as postgres:
        keys = sorted(
            {(OWNER_ID, m.message_id) for m in await postgres.work_problems(limit=1000)}
            | {
                (p["message"]["chat"]["id"], p["message"]["message_id"])
                for p in payloads
                if "message" in p
            }
        )
        later = T0 + timedelta(days=30)
        reads: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
            ("stats", (), {}),
            ("list_files", (), {}),
            ("list_files", (), {"status": FileStatus.PENDING}),
            ("bot_responses", (OWNER_ID,), {}),
            ("last_batch_run", (), {}),
            ("work_problems", (), {}),
            ("pending_work", (), {"now": later}),
            (
                "peek_work",
                (),
                {"after_id": 0, "limit": 100, "now": later, "reclassify": ("x", "1")},
            ),
            ("load_work_contexts", (keys,), {}),
            *[("list_records", (t,), {}) for t in ROUTING_TABLES],
            *[("get_update", (p["update_id"],), {"bot_id": BOT_ID}) for p in payloads],
            *[
                (name, key, {})
                for key in keys
                for name in ("message_versions", "chain_of", "files_of_message", "routing_history")
            ],
        ]
        for name, args, kwargs in reads:
            mine = await getattr(store, name)(*args, **kwargs)
            theirs = await getattr(postgres, name)(*args, **kwargs)
            assert mine == theirs, (name, args)
        stats = await postgres.stats()
        assert stats.tables["routing_log"] > 0 and stats.tables["raw_files"] > 1
        assert any(c.members for c in (await postgres.load_work_contexts(keys)).values())


@pytest.mark.parametrize(
    "text", ["\x00", "a\x00b", "\ud83d half", "\ue000esc:looks\\0escaped", "😀 \u202eRTL"]
)
async def test_nul_is_dropped_from_text_columns_only(store: Store, text: str) -> None:
    payload = make_update(1, message_id=1, text=text, date=T0)
    await Capturer(store).capture(payload)
    raw = await store.get_update(1)
    assert raw is not None and raw.payload == payload
    msg = await store.get_message(OWNER_ID, 1)
    assert msg is not None and msg.raw_telegram_json == payload["message"]
    expected = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    assert msg.message_text == expected.replace("\x00", "")


async def test_a_chain_known_only_to_an_older_version_is_found(
    store: Store, supabase_dsn: str
) -> None:
    capturer = Capturer(store)
    await capturer.capture(make_update(1, message_id=1, text="root", date=T0))
    await capturer.capture(
        make_update(2, "edited_message", message_id=1, text="root, edited", date=T0, edit_date=1)
    )
    await capturer.capture(make_update(3, message_id=3, text="reply", date=T0))
    with psycopg.connect(supabase_dsn, autocommit=True) as conn:
        # What a race between an edit and a reply creating the chain leaves behind.
        chain = conn.execute(
            "INSERT INTO message_chains (chat_id, user_id, original_message_id)"
            " VALUES (%s, %s, 1) RETURNING chain_id",
            (OWNER_ID, OWNER_ID),
        ).fetchone()
        assert chain is not None
        conn.execute(
            "UPDATE raw_messages SET chain_id = %s"
            " WHERE (message_id = 1 AND version = 1) OR message_id = 3",
            (chain[0],),
        )
    async with PostgresStore(supabase_dsn) as postgres:
        expected = await postgres.load_work_contexts([(OWNER_ID, 1)])
    assert expected[(OWNER_ID, 1)].members, "the Postgres store finds the chain"
    assert await store.load_work_contexts([(OWNER_ID, 1)]) == expected
