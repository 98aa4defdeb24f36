"""SupabaseStore against a mocked PostgREST: the exact requests it sends, what it makes
of the answers, how it pages, retries and reports errors, and how it is configured.

Answers are built the way Postgres and PostgREST build them (``to_jsonb(row)``: ISO
timestamps, uuids as strings, jsonb as JSON values holding pgcodec's escape), and
rpc bodies are compared with what the Postgres store sends to the same functions
(the same pgcodec / postgres_work payload builders).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
import respx
from structlog.testing import capture_logs

from superbrain_core.demo.samples import OWNER_ID, fake_file, make_update
from superbrain_core.errors import ConfigError, StorageError, TransientStorageError
from superbrain_core.models import (
    BatchRun,
    BotResponse,
    BotResponseIn,
    CaptureOutcome,
    CaptureResult,
    ChainReply,
    FileStatus,
    MessageChain,
    Placement,
    PlacementResult,
    RawFile,
    RawMessage,
    RawUpdate,
    RouteOutcome,
    RoutingEntry,
    StoreStats,
    WorkContext,
    WorkFailure,
    WorkItem,
    WorkProblem,
)
from superbrain_core.storage import open_store
from superbrain_core.storage.base import CaptureOptions
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.pgsql import json_rows as sbrows
from superbrain_core.storage.pgsql import work as postgres_work
from superbrain_core.storage.pgsql.migration_files import bundled_migrations
from superbrain_core.storage.supabase import store as sb
from superbrain_core.storage.supabase.store import SupabaseStore
from superbrain_core.telegram import normalize_update

pytestmark = pytest.mark.anyio

PROJECT = "https://proj.supabase.co"
REST = f"{PROJECT}/rest/v1"
SECRET_KEY = "sb_secret_" + "Zx9Qw8" * 5
T0 = datetime(2026, 11, 24, 20, 59, 30, tzinfo=UTC)
CHAIN = "8a1f6a5e-3c55-4a4e-9d6c-0c1f3b7a2e10"


def jwt(**claims: Any) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk"


SERVICE_JWT = jwt(iss="supabase", ref="proj", role="service_role")
ANON_JWT = jwt(iss="supabase", ref="proj", role="anon")
MIGRATED = [{"name": m.name} for m in bundled_migrations()]


def store_for(key: str = SECRET_KEY, **options: Any) -> SupabaseStore:
    """A store that retries without sleeping."""
    options.setdefault("retry_delay", 0.0)
    options.setdefault("max_retry_delay", 0.0)
    return SupabaseStore(PROJECT, key, **options)


def params(request: httpx.Request) -> list[tuple[str, str]]:
    return sorted(request.url.params.multi_items())


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


class Now:
    """Equal to an ISO timestamp with a time zone within a minute of now: the store
    stamps ``p_now`` itself, as the Postgres store passes ``datetime.now(UTC)``."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        value = datetime.fromisoformat(other)
        return value.tzinfo is not None and abs(value - datetime.now(UTC)) < timedelta(minutes=1)

    def __repr__(self) -> str:
        return "<ISO timestamp of now>"


NOW = Now()


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, Any]]]:
    """Log events, captured (the stream an earlier test configured may be closed)."""
    with capture_logs() as captured:
        yield captured


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """PostgREST at ``REST``; the schema check finds every bundled migration applied."""
    with respx.mock(base_url=REST, assert_all_called=False) as router:
        router.get("/schema_migrations", name="schema").mock(side_effect=FakeRest({}))
        yield router


# -- rows as Postgres's to_jsonb(row) and PostgREST's selects produce them ----------------------


def message_row(row_id: int, message_id: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": row_id,
        "user_id": OWNER_ID,
        "message_id": message_id,
        "message_text": f"text {message_id}",
        "message_type": "text",
        "reply_to_message_id": None,
        "reply_to_text": None,
        "is_clarification": False,
        "raw_telegram_json": {"message_id": message_id, "text": f"text {message_id}"},
        "is_processed": False,
        "processed_at": None,
        "created_at": "2026-11-24T21:00:00.123456+00:00",
        "chat_id": OWNER_ID,
        "version": 1,
        "message_date": "2026-11-24T20:59:30+00:00",
        "edit_date": None,
        "media_group_id": None,
        "message_thread_id": None,
        "chain_id": None,
        "sender_is_bot": False,
        "entities": [],
        "forward_origin": None,
        "update_id": row_id,
        "bot_id": 0,
        "update_type": "message",
        "source": "bot",
        "content_hash": "",
        "attempts": 0,
        "last_error": None,
        "next_attempt_at": None,
        "quarantined_at": None,
        "claimed_by": None,
        "claim_expires_at": None,
    }
    row.update(over)
    return row


def file_row(row_id: int, message_id: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": row_id,
        "user_id": OWNER_ID,
        "message_id": message_id,
        "file_type": "document",
        "file_name": f"f{row_id}.pdf",
        "file_path": None,
        "file_size": 1234,
        "file_hash": None,
        "raw_metadata": {"file_id": f"F{row_id}", "file_size": 1234},
        "is_processed": False,
        "processed_at": None,
        "uploaded_at": "2026-11-24T21:00:01+00:00",
        "chat_id": OWNER_ID,
        "file_id": f"F{row_id}",
        "file_unique_id": f"U{row_id}",
        "file_key": f"U{row_id}",
        "mime_type": "application/pdf",
        "status": "pending",
        "download_reason": None,
    }
    row.update(over)
    return row


def bot_row(row_id: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": row_id,
        "user_id": OWNER_ID,
        "message_id": 1000 + row_id,
        "response_text": f"answer {row_id}",
        "response_type": "text",
        "related_user_message_id": None,
        "ai_analysis": None,
        "chain_id": None,
        "created_at": "2026-11-24T21:00:02+00:00",
        "chat_id": OWNER_ID,
        "method": "sendMessage",
        "request": {"chat_id": OWNER_ID, "text": f"answer {row_id}"},
        "result": {"message_id": 1000 + row_id},
        "error": None,
        "is_edit": False,
        "idempotency_key": None,
    }
    row.update(over)
    return row


def routing_row(row_id: int, message_id: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": row_id,
        "raw_message_id": row_id,
        "chat_id": OWNER_ID,
        "message_id": message_id,
        "destination": "tasks",
        "record_id": 3,
        "classification": {"type": "task", "title": "Купить молоко"},
        "classifier": "rules",
        "classifier_version": "2",
        "confidence": 0.9,
        "input_version": row_id,
        "run_id": 1,
        "created_at": "2026-11-25T03:00:00+00:00",
        "superseded_at": None,
    }
    row.update(over)
    return row


class FakeRest:
    """A small PostgREST for table reads: ``eq``/``gt``/``is``/``not.is`` filters,
    ``order``, ``limit``, ``select`` projection, ``HEAD`` with ``Prefer: count=exact``,
    and the *max-rows* cap that silently cuts every answer."""

    def __init__(self, tables: dict[str, list[dict[str, Any]]], max_rows: int = 1000) -> None:
        self.tables = {"schema_migrations": MIGRATED, **tables}
        self.max_rows = max_rows
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        table = request.url.path.rsplit("/", 1)[1]
        found = list(self.tables.get(table, []))
        query = request.url.params
        for column, condition in query.multi_items():
            if column not in {"select", "order", "limit", "offset"}:
                found = [r for r in found if self._matches(r[column], condition)]
        if "order" in query:
            column, direction = query["order"].split(".")[:2]
            found.sort(key=lambda r: r[column], reverse=direction == "desc")
        if request.method == "HEAD":
            assert request.headers["prefer"] == "count=exact"
            span = "*" if not found else "0-0"
            return httpx.Response(200, headers={"content-range": f"{span}/{len(found)}"})
        page = found[: min(int(query.get("limit", self.max_rows)), self.max_rows)]
        columns = query["select"].split(",")
        if columns != ["*"]:
            page = [{c: r[c] for c in columns} for r in page]
        return httpx.Response(200, json=page)

    @staticmethod
    def _matches(value: Any, condition: str) -> bool:
        negate = condition.startswith("not.")
        operator, _, argument = condition.removeprefix("not.").partition(".")
        if operator == "is":
            result = value is {"null": None, "true": True, "false": False}[argument]
        else:
            wanted: Any = argument
            if isinstance(value, bool):
                wanted = argument == "true"
            elif isinstance(value, int):
                wanted = int(argument)
            if operator == "eq":
                result = value == wanted
            elif operator == "gt":
                result = value is not None and value > wanted
            else:
                raise AssertionError(f"the fake does not know {operator!r}")
        return result != negate

    def of(self, table: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(f"/{table}")]


# -- opening, headers, timeouts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "authorization"),
    [(SECRET_KEY, None), (SERVICE_JWT, f"Bearer {SERVICE_JWT}")],
    ids=["sb_secret", "service_role_jwt"],
)
async def test_open_checks_the_schema_with_exactly_the_keys_headers(
    api: respx.MockRouter, key: str, authorization: str | None
) -> None:
    async with store_for(key) as store:
        assert store.backend == "supabase"
    (call,) = api["schema"].calls
    request = call.request
    assert request.method == "GET"
    assert request.url.path == "/rest/v1/schema_migrations"
    assert params(request) == [("limit", "1000"), ("order", "name.asc"), ("select", "name")]
    assert request.headers["apikey"] == key
    assert request.headers.get("authorization") == authorization, (
        "sb_secret keys go in apikey only; JWT keys also as a bearer token"
    )
    assert request.headers["accept-profile"] == "public"
    assert request.headers["accept"] == "application/json"
    assert request.extensions["timeout"] == {
        "connect": 10.0,
        "read": 60.0,
        "write": 60.0,
        "pool": 60.0,
    }


async def test_every_request_carries_the_key_headers_not_only_the_first(
    api: respx.MockRouter,
) -> None:
    route = api.post("/rpc/superbrain_release_claims").mock(
        return_value=httpx.Response(200, json=0)
    )
    async with store_for(SECRET_KEY, connect_timeout=3.0, read_timeout=7.5) as store:
        await store.release_claims("w")
    request = route.calls[0].request
    assert request.headers["apikey"] == SECRET_KEY and "authorization" not in request.headers
    assert request.headers["content-profile"] == "public"
    assert request.headers["content-type"] == "application/json"
    assert request.extensions["timeout"]["connect"] == 3.0
    assert request.extensions["timeout"]["read"] == 7.5


async def test_open_refuses_a_project_whose_schema_is_behind(api: respx.MockRouter) -> None:
    api["schema"].mock(return_value=httpx.Response(200, json=MIGRATED[:1]))
    store = store_for()
    with pytest.raises(StorageError, match="schema is behind") as caught:
        await store.open()
    assert not isinstance(caught.value, TransientStorageError)
    assert sb.SCHEMA_BEHIND in str(caught.value)
    assert MIGRATED[1]["name"] in str(caught.value) and MIGRATED[0]["name"] not in str(caught.value)
    with pytest.raises(StorageError, match="not open"):
        await store.ping()


async def test_open_treats_a_missing_schema_migrations_table_as_nothing_applied(
    api: respx.MockRouter,
) -> None:
    api["schema"].mock(
        return_value=httpx.Response(
            404,
            json={
                "code": "PGRST205",
                "message": "Could not find the table 'public.schema_migrations' in the schema cache",
                "hint": None,
                "details": None,
            },
        )
    )
    with pytest.raises(StorageError, match="schema is behind"):
        await store_for().open()


async def test_methods_need_an_open_store_and_close_is_idempotent(api: respx.MockRouter) -> None:
    store = store_for()
    with pytest.raises(StorageError, match="not open"):
        await store.get_file(1)
    await store.open()
    await store.close()
    await store.close()
    with pytest.raises(StorageError, match="not open"):
        await store.get_file(1)


# -- capture and bot responses -------------------------------------------------------------------


def sample_updates() -> list[Any]:
    return [
        normalize_update(
            make_update(
                41,
                message_id=10,
                text="Счёт\x00 за свет 😀",
                date=T0,
                document=fake_file("document", "bill", 2048, file_name="bill.pdf"),
                entities=[{"type": "bold", "offset": 0, "length": 4, "note": "\ud83d lone"}],
            )
        ),
        normalize_update(make_update(42, message_id=11, text="Ещё", date=T0)),
    ]


async def test_capture_sends_the_postgres_stores_items_and_reads_the_results(
    api: respx.MockRouter,
) -> None:
    updates = sample_updates()
    options = CaptureOptions(bot_id=7, source="ingest", max_download_bytes=1024)
    route = api.post("/rpc/superbrain_capture_many").mock(
        return_value=httpx.Response(
            200,
            json=[
                {
                    "outcome": "new",
                    "raw_message_id": 5,
                    "version": 1,
                    "chain_id": None,
                    "file_row_ids": [9],
                },
                {"outcome": "duplicate"},
            ],
        )
    )
    async with store_for() as store:
        results = await store.capture_many(updates, options)
        assert await store.capture_many([], options) == []
    assert results == [
        CaptureResult(41, "message", CaptureOutcome.NEW, 5, 1, None, (9,)),
        CaptureResult(42, "message", CaptureOutcome.DUPLICATE),
    ]
    (call,) = route.calls
    assert call.request.method == "POST" and params(call.request) == []
    assert body(call.request) == {"p_items": json.loads(pgcodec.capture_items(updates, options))}
    # What Postgres refuses never travels raw: NUL and the lone surrogate go as the escape.
    content = call.request.content
    assert b"\\u0000" not in content and b"\x00" not in content
    assert pgcodec.ESCAPE_MARK in content.decode("utf-8")  # strict UTF-8: no lone surrogate
    sent = body(call.request)["p_items"][0]
    assert pgcodec.unescape_json(sent["payload"]) == updates[0].payload
    assert sent["message"]["files"][0]["status"] == "too_large"


async def test_a_capture_result_count_mismatch_is_an_error(api: respx.MockRouter) -> None:
    api.post("/rpc/superbrain_capture_many").mock(return_value=httpx.Response(200, json=[]))
    async with store_for() as store:
        with pytest.raises(StorageError, match="expected 2 capture results"):
            await store.capture_many(sample_updates())


async def test_bot_responses_round_trip_and_write_batch_keeps_the_order(
    api: respx.MockRouter,
) -> None:
    response = BotResponseIn(
        chat_id=OWNER_ID,
        message_id=501,
        response_text="Записал",
        related_user_message_id=10,
        method="sendMessage",
        request={"text": "a\x00b"},
        result={"message_id": 501},
        created_at=T0,
        idempotency_key="k1",
    )
    stored = bot_row(
        3,
        message_id=501,
        response_text="Записал",
        related_user_message_id=10,
        chain_id=CHAIN,
        request=pgcodec.escape_json({"text": "a\x00b"}),
        result={"message_id": 501},
        created_at="2026-11-24T23:59:30+03:00",
        idempotency_key="k1",
    )
    batch = api.post("/rpc/superbrain_write_batch").mock(
        return_value=httpx.Response(200, json=[[{"outcome": "new", "raw_message_id": 1}], [stored]])
    )
    (update,) = sample_updates()[1:]
    async with store_for() as store:
        results = await store.write_batch([update, response])
    expected = BotResponse(
        id=3,
        chat_id=OWNER_ID,
        message_id=501,
        user_id=OWNER_ID,
        response_text="Записал",
        response_type="text",
        related_user_message_id=10,
        chain_id=CHAIN,
        ai_analysis=None,
        method="sendMessage",
        request={"text": "a\x00b"},
        result={"message_id": 501},
        error=None,
        created_at=T0,
        is_edit=False,
    )
    assert results == [CaptureResult(42, "message", CaptureOutcome.NEW, 1), expected]
    assert results[1].created_at.tzinfo is UTC  # type: ignore[union-attr]
    assert body(batch.calls[0].request) == {
        "p_runs": [
            {
                "kind": "updates",
                "items": json.loads(pgcodec.capture_items([update], CaptureOptions())),
            },
            {"kind": "bot_responses", "items": json.loads(pgcodec.bot_response_items([response]))},
        ]
    }
    assert [c.request.url.path for c in api.calls][1:] == ["/rest/v1/rpc/superbrain_write_batch"], (
        "the whole batch in one call: one transaction"
    )


# -- reads: requests, conversions, paging ----------------------------------------------------------


async def test_get_update_decodes_the_escape_and_normalizes_the_time_zone(
    api: respx.MockRouter,
) -> None:
    payload = {"update_id": 42, "message": {"text": "a\x00b", "\ue000esc:x": ["\udc00"]}}
    route = api.get("/raw_updates").mock(
        return_value=httpx.Response(
            200,
            json=[
                {
                    "id": 8,
                    "bot_id": 7,
                    "update_id": 42,
                    "update_type": "message",
                    "payload": pgcodec.escape_json(payload),
                    "received_at": "2026-11-25T00:00:00.5+03:00",
                    "source": "bot",
                }
            ],
        )
    )
    async with store_for() as store:
        found = await store.get_update(42, bot_id=7)
    assert found == RawUpdate(
        id=8,
        bot_id=7,
        update_id=42,
        update_type="message",
        payload=payload,
        received_at=datetime(2026, 11, 24, 21, 0, 0, 500000, tzinfo=UTC),
        source="bot",
    )
    assert found is not None and found.received_at.tzinfo is UTC
    assert params(route.calls[0].request) == [
        ("bot_id", "eq.7"),
        ("limit", "1"),
        ("order", "id.asc"),
        ("select", "id,bot_id,update_id,update_type,payload,received_at,source"),
        ("update_id", "eq.42"),
    ]


async def test_message_versions_request_and_conversion(api: respx.MockRouter) -> None:
    row = message_row(
        12,
        10,
        version=2,
        message_text="Купить молоко",
        edit_date="2026-11-24T21:05:00+00:00",
        chain_id=CHAIN,
        is_clarification=True,
        reply_to_message_id=9,
        reply_to_text="[photo]",
        entities=[{"type": "bold", "offset": 0, "length": 6}],
        forward_origin=pgcodec.escape_json({"type": "user", "name": "x\x00"}),
        raw_telegram_json=pgcodec.escape_json({"text": "Купить\x00 молоко"}),
        is_processed=True,
        processed_at="2026-11-25T03:00:00+00:00",
        message_type=None,
    )
    route = api.get("/raw_messages").mock(return_value=httpx.Response(200, json=[row]))
    async with store_for() as store:
        (version,) = await store.message_versions(OWNER_ID, 10)
    assert version == RawMessage(
        id=12,
        chat_id=OWNER_ID,
        message_id=10,
        version=2,
        user_id=OWNER_ID,
        message_type="unknown",
        message_text="Купить молоко",
        message_date=T0,
        edit_date=datetime(2026, 11, 24, 21, 5, tzinfo=UTC),
        reply_to_message_id=9,
        reply_to_text="[photo]",
        is_clarification=True,
        chain_id=CHAIN,
        media_group_id=None,
        message_thread_id=None,
        sender_is_bot=False,
        entities=[{"type": "bold", "offset": 0, "length": 6}],
        forward_origin={"type": "user", "name": "x\x00"},
        raw_telegram_json={"text": "Купить\x00 молоко"},
        update_id=12,
        source="bot",
        is_processed=True,
        processed_at=datetime(2026, 11, 25, 3, tzinfo=UTC),
        created_at=datetime(2026, 11, 24, 21, 0, 0, 123456, tzinfo=UTC),
    )
    assert params(route.calls[0].request) == [
        ("chat_id", f"eq.{OWNER_ID}"),
        ("limit", "1000"),
        ("message_id", "eq.10"),
        ("order", "version.asc"),
        ("select", sbrows.MESSAGE_SELECT),
    ]
    assert "chain_id" in sbrows.MESSAGE_SELECT.split(",") and "::" not in sbrows.MESSAGE_SELECT


async def test_chains_by_id_and_by_message(api: respx.MockRouter) -> None:
    chain = {
        "chain_id": CHAIN,
        "chat_id": OWNER_ID,
        "user_id": OWNER_ID,
        "original_message_id": 1,
        "original_text": "Встреча",
        "replies": [
            {"message_id": 3, "text": "Это задача", "date": "2026-11-24T21:02:30+00:00"},
            {"message_id": 4, "message_text": "seed", "created_at": "bad date"},
            "not an entry",
        ],
        "created_at": "2026-11-24T21:00:00+00:00",
        "updated_at": None,
    }
    chains = api.get("/message_chains").mock(return_value=httpx.Response(200, json=[chain]))
    of = api.post("/rpc/superbrain_chain_id_of").mock(
        side_effect=[httpx.Response(200, json=CHAIN), httpx.Response(200, json=None)]
    )
    created = datetime(2026, 11, 24, 21, tzinfo=UTC)
    expected = MessageChain(
        chain_id=CHAIN,
        chat_id=OWNER_ID,
        user_id=OWNER_ID,
        original_message_id=1,
        original_text="Встреча",
        replies=(
            ChainReply(
                3, "Это задача", datetime(2026, 11, 24, 21, 2, 30, tzinfo=UTC), None, None, None
            ),
            ChainReply(4, "seed", created, None, None, None),
        ),
        created_at=created,
        updated_at=created,
    )
    async with store_for() as store:
        assert await store.get_chain(CHAIN.upper()) == expected
        assert await store.get_chain("not-a-uuid") is None
        assert await store.chain_of(OWNER_ID, 3) == expected
        assert await store.chain_of(OWNER_ID, 99) is None
    assert chains.call_count == 2, "no request for an id that is not a uuid, nor for no chain"
    assert ("chain_id", f"eq.{CHAIN}") in params(chains.calls[0].request)
    assert body(of.calls[0].request) == {"p_chat_id": OWNER_ID, "p_message_id": 3}


async def test_get_file_and_last_batch_run(api: respx.MockRouter) -> None:
    files = api.get("/raw_files").mock(
        side_effect=[
            httpx.Response(
                200,
                json=[
                    file_row(
                        4,
                        10,
                        status="stored",
                        file_hash="ab" * 32,
                        raw_metadata=pgcodec.escape_json({"file_name": "\x00.pdf"}),
                    )
                ],
            ),
            httpx.Response(200, json=[]),
        ]
    )
    runs = api.get("/batch_runs").mock(
        side_effect=[
            httpx.Response(
                200,
                json=[
                    {
                        "id": 6,
                        "started_at": "2026-11-25T03:00:00+00:00",
                        "finished_at": "2026-11-25T03:01:00+00:00",
                        "status": "ok",
                        "classifier": "rules",
                        "counts": {"claimed": 3},
                        "digest": "3 filed",
                    }
                ],
            ),
            httpx.Response(200, json=[]),
        ]
    )
    async with store_for() as store:
        stored = await store.get_file(4)
        assert await store.get_file(5) is None
        run = await store.last_batch_run()
        assert await store.last_batch_run() is None
    assert stored == RawFile(
        id=4,
        chat_id=OWNER_ID,
        message_id=10,
        user_id=OWNER_ID,
        file_type="document",
        file_id="F4",
        file_unique_id="U4",
        file_name="f4.pdf",
        mime_type="application/pdf",
        file_size=1234,
        file_path=None,
        file_hash="ab" * 32,
        status=FileStatus.STORED,
        download_reason=None,
        raw_metadata={"file_name": "\x00.pdf"},
        is_processed=False,
        processed_at=None,
        uploaded_at=datetime(2026, 11, 24, 21, 0, 1, tzinfo=UTC),
    )
    assert run == BatchRun(
        id=6,
        started_at=datetime(2026, 11, 25, 3, tzinfo=UTC),
        finished_at=datetime(2026, 11, 25, 3, 1, tzinfo=UTC),
        status="ok",
        classifier="rules",
        counts={"claimed": 3},
        digest="3 filed",
    )
    assert params(files.calls[0].request) == [
        ("id", "eq.4"),
        ("limit", "1"),
        ("order", "id.asc"),
        ("select", sbrows.FILE_SELECT),
    ]
    assert params(runs.calls[0].request) == [
        ("limit", "1"),
        ("order", "id.desc"),
        ("select", "id,started_at,finished_at,status,classifier,counts,digest"),
    ]


async def test_a_read_of_three_pages_returns_every_row_in_order(api: respx.MockRouter) -> None:
    rows = [bot_row(i) for i in range(1, 2038)] + [bot_row(3000, chat_id=1)]
    fake = FakeRest({"bot_responses": rows})  # answers at most 1000 rows, like Supabase
    api.route(method="GET").mock(side_effect=fake)
    async with store_for() as store:
        found = await store.bot_responses(OWNER_ID)
    assert [r.id for r in found] == list(range(1, 2038))
    assert found[0] == pgcodec.bot_response_from_row(rows[0])
    pages = fake.of("bot_responses")
    base = [("chat_id", f"eq.{OWNER_ID}"), ("limit", "1000"), ("order", "id.asc")]
    select = ("select", sbrows.BOT_SELECT)
    assert [params(r) for r in pages] == [
        sorted([*base, select]),
        sorted([*base, ("id", "gt.1000"), select]),
        sorted([*base, ("id", "gt.2000"), select]),
    ]


async def test_list_files_pages_up_to_its_limit_from_after_id(api: respx.MockRouter) -> None:
    rows = [file_row(i, i, status="pending" if i % 2 else "stored") for i in range(1, 5001)]
    fake = FakeRest({"raw_files": rows})
    api.route(method="GET").mock(side_effect=fake)
    async with store_for() as store:
        found = await store.list_files(status=FileStatus.PENDING, limit=2100, after_id=10)
        rest = await store.list_files(after_id=4990)
        assert await store.list_files(limit=0) == []
    assert [f.id for f in found] == list(range(11, 11 + 4200, 2))
    assert all(f.status is FileStatus.PENDING for f in found)
    assert [f.id for f in rest] == list(range(4991, 5001))
    pages = [dict(r.url.params.multi_items()) for r in fake.of("raw_files")]
    assert [(p["id"], p["limit"], p["status"]) for p in pages[:3]] == [
        ("gt.10", "1000", "eq.pending"),
        ("gt.2009", "1000", "eq.pending"),
        ("gt.4009", "100", "eq.pending"),
    ]
    assert len(pages) == 4 and "status" not in pages[3]


PAGED_READS: list[
    tuple[
        str,
        str,
        list[dict[str, Any]],
        Callable[[SupabaseStore], Awaitable[list[Any]]],
        Callable[[Any], Any],
    ]
] = [
    (
        "message_versions",
        "raw_messages",
        [message_row(100 + v, 10, version=v) for v in (3, 1, 5, 2, 4)] + [message_row(200, 11)],
        lambda s: s.message_versions(OWNER_ID, 10),
        lambda m: m.version,
    ),
    (
        "files_of_message",
        "raw_files",
        [file_row(i, 10) for i in (5, 1, 3, 2, 4)] + [file_row(9, 10, chat_id=1)],
        lambda s: s.files_of_message(OWNER_ID, 10),
        lambda f: f.id,
    ),
    (
        "routing_history",
        "routing_log",
        [routing_row(i, 10) for i in (2, 5, 1, 4, 3)] + [routing_row(9, 11)],
        lambda s: s.routing_history(OWNER_ID, 10),
        lambda e: e.id,
    ),
    (
        "list_records",
        "notes",
        [
            {"id": i, "chat_id": OWNER_ID, "message_id": i, "text": "n", "tags": []}
            for i in (3, 1, 5, 4, 2)
        ],
        lambda s: s.list_records("notes"),
        lambda r: r["id"],
    ),
]


@pytest.mark.parametrize(
    ("table", "rows", "read", "key"),
    [pytest.param(*case[1:], id=case[0]) for case in PAGED_READS],
)
async def test_every_list_read_pages_past_the_row_cap(
    api: respx.MockRouter,
    table: str,
    rows: list[dict[str, Any]],
    read: Callable[[SupabaseStore], Awaitable[list[Any]]],
    key: Callable[[Any], Any],
) -> None:
    fake = FakeRest({table: rows}, max_rows=2)
    api["schema"].mock(side_effect=fake)
    api.route(method="GET").mock(side_effect=fake)
    async with store_for(page_size=2) as store:
        found = await read(store)
    # Pages of two until a short one: the schema check pages too.
    assert len(fake.of("schema_migrations")) == len(bundled_migrations()) // 2 + 1
    assert [key(r) for r in found] == [1, 2, 3, 4, 5]
    requests = fake.of(table)
    cursor = "version" if table == "raw_messages" else "id"
    first = "gt.0" if table == "notes" else None  # list_records starts after after_id=0
    assert [r.url.params.get(cursor) for r in requests] == [first, "gt.2", "gt.4"]
    assert all(r.url.params["limit"] == "2" for r in requests)


async def test_a_server_ignoring_the_cursor_cannot_make_a_read_loop_forever(
    api: respx.MockRouter,
) -> None:
    route = api.get("/raw_files").mock(
        return_value=httpx.Response(200, json=[file_row(1, 10), file_row(2, 10)])
    )
    async with store_for(page_size=2) as store:
        with pytest.raises(StorageError, match="did not advance"):
            await store.files_of_message(OWNER_ID, 10)
    assert route.call_count == 2


async def test_work_problems_lists_quarantined_rows_first_each_by_id(
    api: respx.MockRouter,
) -> None:
    q = "2026-11-25T03:00:00+00:00"
    rows = [
        message_row(1, 1, attempts=2, last_error="e1", next_attempt_at=q),
        message_row(2, 2, attempts=5, last_error="e2", quarantined_at=q),
        message_row(3, 3, attempts=1, last_error="e3"),
        message_row(4, 4, attempts=5, last_error="e4", quarantined_at=q),
        message_row(5, 5, attempts=0),
        message_row(6, 6, attempts=3, is_processed=True),
        message_row(7, 7, attempts=1, last_error="e7"),
    ]
    fake = FakeRest({"raw_messages": rows}, max_rows=2)
    api["schema"].mock(side_effect=fake)
    api.route(method="GET").mock(side_effect=fake)
    async with store_for(page_size=2) as store:
        problems = await store.work_problems(limit=3)
        everything = await store.work_problems()
    when = datetime(2026, 11, 25, 3, tzinfo=UTC)
    assert problems == [
        WorkProblem(2, OWNER_ID, 2, 5, "e2", None, when),
        WorkProblem(4, OWNER_ID, 4, 5, "e4", None, when),
        WorkProblem(1, OWNER_ID, 1, 2, "e1", when, None),
    ]
    assert [p.raw_message_id for p in everything] == [2, 4, 1, 3, 7]
    first = dict(fake.of("raw_messages")[0].url.params.multi_items())
    assert first == {
        "select": "id,chat_id,message_id,attempts,last_error,next_attempt_at,quarantined_at",
        "is_processed": "eq.false",
        "attempts": "gt.0",
        "quarantined_at": "not.is.null",
        "order": "id.asc",
        "limit": "2",
    }


async def test_list_records_returns_what_psycopg_would(api: respx.MockRouter) -> None:
    row = {
        "id": 1,
        "raw_message_id": 4,
        "chat_id": OWNER_ID,
        "message_id": 4,
        "amount": 450.5,
        "currency": "RUB",
        "description": "Обед",
        "spent_at": "2026-11-24T12:00:00+03:00",
        "created_at": "2026-11-25T03:00:00+00:00",
        "updated_at": "2026-11-25T03:00:00+00:00",
    }
    api.get("/expenses").mock(
        return_value=httpx.Response(
            200, json=[row, {**row, "id": 2, "amount": 7, "spent_at": None}]
        )
    )
    async with store_for() as store:
        first, second = await store.list_records("expenses", after_id=0)
        with pytest.raises(ValueError, match="unknown table"):
            await store.list_records("raw_messages")
    assert first["amount"] == Decimal("450.5") and isinstance(first["amount"], Decimal)
    assert first["spent_at"] == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert first["spent_at"].tzinfo is UTC
    assert first["created_at"] == datetime(2026, 11, 25, 3, tzinfo=UTC)
    assert (first["currency"], first["description"]) == ("RUB", "Обед")
    assert second["amount"] == Decimal(7) and second["spent_at"] is None


async def test_stats_counts_exactly_with_head_requests(api: respx.MockRouter) -> None:
    messages = [
        message_row(i, i, message_type=t)
        for i, t in enumerate(["text", "photo", "text", "service:pinned_message", "text"], 1)
    ]
    files = [file_row(i, 1, status=s) for i, s in enumerate(["stored", "pending", "pending"], 1)]
    fake = FakeRest({"raw_messages": messages, "raw_files": files, "tasks": [{"id": 1}]})
    api.route(method__in=["GET", "HEAD"]).mock(side_effect=fake)
    async with store_for() as store:
        stats = await store.stats()
    expected_tables = dict.fromkeys(sb.STATS_TABLES, 0) | {
        "raw_messages": 5,
        "raw_files": 3,
        "tasks": 1,
    }
    assert stats == StoreStats(
        tables=expected_tables,
        message_types={"text": 3, "photo": 1, "service:pinned_message": 1},
        file_statuses={"pending": 2, "stored": 1},
    )
    assert list(stats.message_types) == ["text", "photo", "service:pinned_message"]
    assert list(stats.file_statuses) == ["pending", "stored"]
    heads = [r for r in fake.requests if r.method == "HEAD"]
    assert len(heads) == len(sb.STATS_TABLES) + 3 + 2
    assert ("message_type", "eq.service:pinned_message") in [
        p for r in heads for p in r.url.params.multi_items()
    ]
    walks = [params(r) for r in fake.of("raw_messages") if r.method == "GET"]
    assert walks[0] == [
        ("limit", "1"),
        ("message_type", "not.is.null"),
        ("order", "message_type.asc"),
        ("select", "message_type"),
    ]
    assert walks[1] == sorted([*walks[0], ("message_type", "gt.photo")])
    assert len(walks) == 4, "three types found, then an empty page"


def test_stats_tables_are_the_postgres_stores() -> None:
    pytest.importorskip("psycopg_pool")
    from superbrain_core.storage.postgres.store import TABLES

    assert sb.STATS_TABLES == TABLES


# -- the analyzer ---------------------------------------------------------------------------------


def context_json() -> dict[str, Any]:
    root = message_row(
        7,
        1,
        version=2,
        chain_id=CHAIN,
        raw_telegram_json=pgcodec.escape_json({"text": "Встреча\x00"}),
        claimed_by="w1",
        claim_expires_at="2026-11-25T03:10:00+00:00",
    )
    member = message_row(
        9,
        3,
        chain_id=CHAIN,
        is_clarification=True,
        reply_to_message_id=2,
        message_date="2026-11-24T21:02:30+00:00",
    )
    return {
        "root": root,
        "members": [member],
        "bot_messages": [bot_row(2, message_id=2, chain_id=CHAIN, related_user_message_id=1)],
        "files": [file_row(4, 1)],
        "placement": routing_row(5, 1, raw_message_id=7, input_version=7),
    }


async def test_load_work_contexts_in_one_call(api: respx.MockRouter) -> None:
    ctx = context_json()
    lone: dict[str, Any] = {
        "root": message_row(11, 20),
        "members": [],
        "bot_messages": [],
        "files": [],
        "placement": None,
    }
    route = api.post("/rpc/superbrain_work_contexts_json").mock(
        return_value=httpx.Response(200, json=[ctx, lone])
    )
    async with store_for() as store:
        found = await store.load_work_contexts(
            [(OWNER_ID, 1), (OWNER_ID, 20), (OWNER_ID, 1), (5, 99)]
        )
        assert await store.load_work_contexts([]) == {}
    assert route.call_count == 1
    assert body(route.calls[0].request) == {
        "p_chat_ids": [OWNER_ID, OWNER_ID, 5],
        "p_message_ids": [1, 20, 99],
    }
    assert set(found) == {(OWNER_ID, 1), (OWNER_ID, 20)}
    context = found[(OWNER_ID, 1)]
    assert context == WorkContext(
        root=sbrows.raw_message(ctx["root"]),
        members=(sbrows.raw_message(ctx["members"][0]),),
        bot_messages=(pgcodec.bot_response_from_row(ctx["bot_messages"][0]),),
        files=(sbrows.raw_file(ctx["files"][0]),),
        placement=sbrows.routing_entry(ctx["placement"]),
        input_version=9,
    )
    assert context.root.raw_telegram_json == {"text": "Встреча\x00"}
    assert context.root.chain_id == CHAIN and context.root.version == 2
    assert context.members[0].message_date == datetime(2026, 11, 24, 21, 2, 30, tzinfo=UTC)
    assert context.bot_messages[0].related_user_message_id == 1
    assert context.placement == RoutingEntry(
        id=5,
        raw_message_id=7,
        chat_id=OWNER_ID,
        message_id=1,
        destination="tasks",
        record_id=3,
        classification={"type": "task", "title": "Купить молоко"},
        classifier="rules",
        classifier_version="2",
        confidence=0.9,
        input_version=7,
        run_id=1,
        created_at=datetime(2026, 11, 25, 3, tzinfo=UTC),
        superseded_at=None,
    )
    assert found[(OWNER_ID, 20)].input_version == 11
    assert found[(OWNER_ID, 20)].placement is None and found[(OWNER_ID, 20)].members == ()


def placement(message_id: int, destination: str) -> Placement:
    return Placement(
        chat_id=OWNER_ID,
        message_id=message_id,
        raw_message_id=message_id + 100,
        destination=destination,
        values={"title": "Купить\x00 молоко", "due_at": None},
        classification={"type": "task", "confidence": 0.8},
        classifier="rules",
        classifier_version="2",
        confidence=0.8,
        input_version=message_id + 100,
        processed_ids=(message_id + 100, message_id + 101),
    )


async def test_apply_placements_round_trip(api: respx.MockRouter) -> None:
    placements = [placement(1, "tasks"), placement(2, "none")]
    route = api.post("/rpc/superbrain_apply_placements").mock(
        return_value=httpx.Response(
            200,
            json=[
                {
                    "outcome": "moved",
                    "destination": "tasks",
                    "record_id": 12,
                    "previous_destination": "notes",
                },
                {
                    "outcome": "placed",
                    "destination": "none",
                    "record_id": None,
                    "previous_destination": None,
                },
            ],
        )
    )
    async with store_for() as store:
        results = await store.apply_placements(placements, run_id=6)
        assert await store.apply_placements([], run_id=6) == []
    assert results == [
        PlacementResult(OWNER_ID, 1, RouteOutcome.MOVED, "tasks", 12, "notes"),
        PlacementResult(OWNER_ID, 2, RouteOutcome.PLACED, "none", None, None),
    ]
    assert route.call_count == 1
    assert body(route.calls[0].request) == {
        "p_placements": json.loads(postgres_work.placements_payload(placements)),
        "p_run_id": 6,
        "p_now": NOW,
    }


async def test_claims_are_made_in_chunks_the_row_cap_cannot_cut(api: respx.MockRouter) -> None:
    def items(first: int, count: int) -> list[dict[str, Any]]:
        return [
            {"id": i, "chat_id": OWNER_ID, "message_id": i, "target_message_id": i, "attempts": 0}
            for i in range(first, first + count)
        ]

    route = api.post("/rpc/superbrain_claim_work").mock(
        side_effect=[
            httpx.Response(200, json=items(1, 1000)),
            httpx.Response(200, json=items(1001, 1000)),
            httpx.Response(200, json=items(2001, 37)),
        ]
    )
    lease = T0 + timedelta(minutes=10)
    async with store_for() as store:
        claimed = await store.claim_work("w1", limit=5000, lease_until=lease, now=T0)
    assert [c.id for c in claimed] == list(range(1, 2038))
    assert claimed[0] == WorkItem(1, OWNER_ID, 1, 1, 0)
    sent = [body(c.request) for c in route.calls]
    assert [s["p_limit"] for s in sent] == [1000, 1000, 1000]
    assert sent[0] == {
        "p_worker": "w1",
        "p_limit": 1000,
        "p_now": T0.isoformat(),
        "p_lease_until": lease.isoformat(),
    }


async def test_peek_work_pages_by_id_and_passes_reclassify(api: respx.MockRouter) -> None:
    route = api.post("/rpc/superbrain_peek_work").mock(
        side_effect=[
            httpx.Response(
                200,
                json=[
                    {"id": i, "chat_id": 1, "message_id": i, "target_message_id": i, "attempts": 1}
                    for i in (4, 6)
                ],
            ),
            httpx.Response(
                200,
                json=[
                    {"id": 9, "chat_id": 1, "message_id": 9, "target_message_id": 8, "attempts": 0}
                ],
            ),
        ]
    )
    async with store_for(page_size=2) as store:
        found = await store.peek_work(after_id=3, limit=10, now=T0, reclassify=("rules", "3"))
    assert [w.id for w in found] == [4, 6, 9] and found[2].target_message_id == 8
    assert [body(c.request) for c in route.calls] == [
        {
            "p_after": 3,
            "p_limit": 2,
            "p_now": T0.isoformat(),
            "p_classifier": "rules",
            "p_version": "3",
        },
        {
            "p_after": 6,
            "p_limit": 2,
            "p_now": T0.isoformat(),
            "p_classifier": "rules",
            "p_version": "3",
        },
    ]


FAILURE = WorkFailure(raw_message_id=5, error="boom\x00", next_attempt_at=T0, quarantine=True)

RPC_CASES: list[
    tuple[str, Callable[[SupabaseStore], Awaitable[Any]], dict[str, Any], httpx.Response, Any]
] = [
    (
        "superbrain_set_file_status",
        lambda s: s.set_file_status(3, FileStatus.STORED, file_hash="ab", file_path="a\x00b"),
        {
            "p_file_row_id": 3,
            "p_status": "stored",
            "p_file_hash": "ab",
            "p_file_path": "ab",
            "p_reason": None,
        },
        httpx.Response(204),
        None,
    ),
    (
        "superbrain_record_work_failures",
        lambda s: s.record_work_failures([FAILURE]),
        {"p_failures": json.loads(postgres_work.failures_payload([FAILURE])), "p_now": NOW},
        httpx.Response(204),
        None,
    ),
    (
        "superbrain_renew_claims",
        lambda s: s.extend_claims("w1", lease_until=T0 + timedelta(seconds=60), now=T0),
        {"p_worker": "w1", "p_lease_seconds": 60.0},
        httpx.Response(200, json=3),
        3,
    ),
    (
        "superbrain_release_claims",
        lambda s: s.release_claims("w1"),
        {"p_worker": "w1"},
        httpx.Response(200, json=4),
        4,
    ),
    (
        "superbrain_requeue_for_reclassify",
        lambda s: s.requeue_for_reclassify("rules", "3"),
        {"p_classifier": "rules", "p_version": "3"},
        httpx.Response(200, json=7),
        7,
    ),
    (
        "superbrain_requeue_quarantined",
        lambda s: s.requeue_quarantined(),
        {},
        httpx.Response(200, json=2),
        2,
    ),
    (
        "superbrain_start_batch_run",
        lambda s: s.start_batch_run("rules", "3", "w1"),
        {"p_classifier": "rules", "p_version": "3", "p_worker": "w1", "p_now": NOW},
        httpx.Response(200, json=12),
        12,
    ),
    (
        "superbrain_finish_batch_run",
        lambda s: s.finish_batch_run(12, status="ok", counts={"claimed": 3}, digest="d\x00one"),
        {
            "p_run_id": 12,
            "p_status": "ok",
            "p_counts": {"claimed": 3},
            "p_digest": "done",
            "p_now": NOW,
        },
        httpx.Response(200, content=b""),
        None,
    ),
    (
        "superbrain_pending_work",
        lambda s: s.pending_work(now=T0),
        {"p_now": T0.isoformat()},
        httpx.Response(200, json=9),
        9,
    ),
]


@pytest.mark.parametrize(
    ("function", "call", "sent", "answer", "returned"),
    [pytest.param(*case, id=case[0]) for case in RPC_CASES],
)
async def test_each_write_calls_its_function_with_the_postgres_stores_arguments(
    api: respx.MockRouter,
    function: str,
    call: Callable[[SupabaseStore], Awaitable[Any]],
    sent: dict[str, Any],
    answer: httpx.Response,
    returned: Any,
) -> None:
    route = api.post(f"/rpc/{function}").mock(return_value=answer)
    async with store_for() as store:
        assert await call(store) == returned
        await store.record_work_failures([])  # nothing to record: no request
    (made,) = route.calls
    assert made.request.url.path == f"/rest/v1/rpc/{function}"
    assert body(made.request) == sent


# -- retries and errors ---------------------------------------------------------------------------


async def test_5xx_and_429_are_retried_then_succeed(
    api: respx.MockRouter, logs: list[dict[str, Any]]
) -> None:
    route = api.get("/raw_files").mock(
        side_effect=[
            httpx.Response(503, text="<html>upstream unavailable</html>"),
            httpx.Response(
                502, json={"message": "An invalid response was received from the upstream server"}
            ),
            httpx.Response(429, headers={"retry-after": "0"}, json={"message": "slow down"}),
            httpx.Response(500, json={"code": "40001", "message": "could not serialize access"}),
            httpx.Response(200, json=[file_row(4, 10)]),
        ]
    )
    async with store_for(max_attempts=5) as store:
        found = await store.get_file(4)
    assert found is not None and found.id == 4
    assert route.call_count == 5
    retries = [e for e in logs if e["event"] == "supabase_retry"]
    assert [(e["operation"], e["attempt"]) for e in retries] == [
        ("get_file", n) for n in range(1, 5)
    ]
    assert retries[0]["error"] == "HTTP 503: <html>upstream unavailable</html>"
    assert retries[3]["error"] == "HTTP 500: 40001: could not serialize access"


async def test_dropped_connections_and_timeouts_are_retried(api: respx.MockRouter) -> None:
    route = api.post("/rpc/superbrain_capture_many").mock(
        side_effect=[
            httpx.ConnectError("connection refused"),
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.ReadTimeout("timed out"),
            httpx.ReadError("connection reset by peer"),
            httpx.Response(200, json=[{"outcome": "duplicate"}]),
        ]
    )
    (update,) = sample_updates()[1:]
    async with store_for(max_attempts=5) as store:
        (result,) = await store.capture_many([update])
    assert result.outcome is CaptureOutcome.DUPLICATE
    assert route.call_count == 5
    assert len({c.request.content for c in route.calls}) == 1, "the same idempotent body each time"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, text="unavailable"),
        httpx.Response(
            504,
            json={
                "code": "PGRST003",
                "message": "Timed out acquiring connection from connection pool.",
            },
        ),
        httpx.ConnectTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["503", "pool-timeout", "connect-timeout", "dropped"],
)
async def test_exhausted_retries_raise_transient_storage_error(
    api: respx.MockRouter, failure: httpx.Response | Exception
) -> None:
    route = api.post("/rpc/superbrain_pending_work").mock(
        side_effect=lambda request: _raise_or(failure)
    )
    async with store_for(max_attempts=3) as store:
        with pytest.raises(
            TransientStorageError, match="pending_work failed after 3 attempts"
        ) as caught:
            await store.pending_work(now=T0)
    assert route.call_count == 3
    if isinstance(failure, Exception):
        assert caught.value.__cause__ is not None and type(caught.value.__cause__) is type(failure)


def _raise_or(failure: httpx.Response | Exception) -> httpx.Response:
    if isinstance(failure, Exception):
        raise failure
    return failure


async def test_back_off_grows_and_honours_retry_after(
    api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []

    async def no_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(anyio, "sleep", no_sleep)
    monkeypatch.setattr(random, "random", lambda: 0.5)  # jitter factor 1.0
    api.get("/raw_files").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(503),
            httpx.Response(429, headers={"retry-after": "3"}),
            httpx.Response(429, headers={"retry-after": "60"}),
            httpx.Response(200, json=[]),
        ]
    )
    async with SupabaseStore(PROJECT, SECRET_KEY, retry_delay=0.25, max_retry_delay=5.0) as store:
        assert await store.get_file(1) is None
    assert delays == [0.25, 0.5, 3.0, 5.0]


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("key", [SECRET_KEY, SERVICE_JWT], ids=["sb_secret", "jwt"])
async def test_rejected_credentials_say_to_check_the_key_without_showing_it(
    api: respx.MockRouter, status: int, key: str
) -> None:
    api["schema"].mock(
        return_value=httpx.Response(
            status,
            json={
                "code": "42501" if status == 403 else None,
                "message": f"Invalid API key {key}",
                "hint": "Double check your Supabase `anon` or `service_role` API key.",
            },
        )
    )
    store = store_for(key)
    with pytest.raises(StorageError) as caught:
        await store.open()
    message = str(caught.value)
    assert not isinstance(caught.value, TransientStorageError)
    assert "SUPABASE_SERVICE_KEY" in message and f"HTTP {status}" in message
    assert key not in message and key[:20] not in message
    assert api["schema"].call_count == 1, "a rejected key is not retried"


async def test_other_4xx_carry_postgrests_code_message_and_hint_redacted(
    api: respx.MockRouter,
) -> None:
    api.post("/rpc/superbrain_capture_many").mock(
        return_value=httpx.Response(
            400,
            json={
                "code": "22P02",
                "message": f'invalid input syntax for type bigint: "{SECRET_KEY}"',
                "hint": "Perhaps you meant eq.",
                "details": f"token {SERVICE_JWT}",
            },
        )
    )
    (update,) = sample_updates()[1:]
    async with store_for() as store:
        with pytest.raises(StorageError) as caught:
            await store.capture_many([update])
    message = str(caught.value)
    assert not isinstance(caught.value, TransientStorageError)
    assert isinstance(caught.value, sb.PostgrestError)
    assert (caught.value.status, caught.value.code) == (400, "22P02")
    assert "HTTP 400: 22P02: invalid input syntax for type bigint" in message
    assert "hint: Perhaps you meant eq." in message
    assert SECRET_KEY not in message and SERVICE_JWT not in message and "***" in message


async def test_a_5xx_carrying_a_functions_verdict_is_not_retried(api: respx.MockRouter) -> None:
    route = api.post("/rpc/superbrain_set_file_status").mock(
        return_value=httpx.Response(
            500, json={"code": "P0002", "message": "no raw_files row with id 99", "hint": None}
        )
    )
    async with store_for() as store:
        with pytest.raises(StorageError, match="no raw_files row with id 99") as caught:
            await store.set_file_status(99, FileStatus.FAILED, reason="gone")
    assert not isinstance(caught.value, TransientStorageError)
    assert route.call_count == 1


async def test_ping_is_one_small_read_and_fails_when_the_api_is_down(
    api: respx.MockRouter,
) -> None:
    api["schema"].mock(
        side_effect=[
            httpx.Response(200, json=MIGRATED),
            httpx.Response(200, json=MIGRATED[:1]),
            httpx.Response(503),
            httpx.Response(503),
        ]
    )
    async with store_for(max_attempts=2) as store:
        await store.ping()
        with pytest.raises(TransientStorageError, match="ping failed after 2 attempts"):
            await store.ping()
    ping = api["schema"].calls[1].request
    assert ping.method == "GET" and params(ping) == [("limit", "1"), ("select", "name")]
    assert api["schema"].call_count == 4


# -- configuration ----------------------------------------------------------------------------------


def test_open_store_selects_supabase_from_the_environment() -> None:
    env = {"SUPABASE_URL": "https://proj.supabase.co/", "SUPABASE_SERVICE_KEY": SECRET_KEY}
    for url in ("supabase", "supabase://", " supabase:// "):
        store = open_store(url, env=env)
        assert isinstance(store, SupabaseStore) and store.where == "proj.supabase.co"
    fallback = open_store("supabase", env={"SUPABASE_URL": PROJECT, "SUPABASE_KEY": SERVICE_JWT})
    assert isinstance(fallback, SupabaseStore)
    assert fallback._headers == {"apikey": SERVICE_JWT, "Authorization": f"Bearer {SERVICE_JWT}"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://proj.supabase.co", f"{REST}"),
        ("https://proj.supabase.co/", f"{REST}"),
        ("https://proj.supabase.co/rest/v1/", f"{REST}"),
        ("http://127.0.0.1:54321", "http://127.0.0.1:54321/rest/v1"),
    ],
)
def test_rest_url(url: str, expected: str) -> None:
    assert sb.rest_url(url) == expected


BAD_SETTINGS = [
    ({"SUPABASE_SERVICE_KEY": SECRET_KEY}, "SUPABASE_URL"),
    ({"SUPABASE_URL": " ", "SUPABASE_SERVICE_KEY": SECRET_KEY}, "SUPABASE_URL"),
    (
        {"SUPABASE_URL": "http://proj.supabase.co", "SUPABASE_SERVICE_KEY": SECRET_KEY},
        "SUPABASE_URL",
    ),
    ({"SUPABASE_URL": "proj.supabase.co", "SUPABASE_SERVICE_KEY": SECRET_KEY}, "SUPABASE_URL"),
    (
        {
            "SUPABASE_URL": f"https://user:{SECRET_KEY}@proj.supabase.co",
            "SUPABASE_SERVICE_KEY": SECRET_KEY,
        },
        "SUPABASE_URL",
    ),
    (
        {"SUPABASE_URL": "https://proj.supabase.co:99999", "SUPABASE_SERVICE_KEY": SECRET_KEY},
        "SUPABASE_URL",
    ),
    ({"SUPABASE_URL": PROJECT}, "SUPABASE_SERVICE_KEY"),
    ({"SUPABASE_URL": PROJECT, "SUPABASE_SERVICE_KEY": "  "}, "SUPABASE_SERVICE_KEY"),
    (
        {"SUPABASE_URL": PROJECT, "SUPABASE_SERVICE_KEY": "sb_publishable_" + "x" * 20},
        "SUPABASE_SERVICE_KEY",
    ),
    ({"SUPABASE_URL": PROJECT, "SUPABASE_KEY": "sb_publishable_" + "y" * 20}, "SUPABASE_KEY"),
    ({"SUPABASE_URL": PROJECT, "SUPABASE_SERVICE_KEY": ANON_JWT}, "SUPABASE_SERVICE_KEY"),
    (
        {"SUPABASE_URL": PROJECT, "SUPABASE_SERVICE_KEY": SECRET_KEY[:15] + " " + SECRET_KEY[15:]},
        "SUPABASE_SERVICE_KEY",
    ),
    ({"SUPABASE_URL": PROJECT, "SUPABASE_SERVICE_KEY": SECRET_KEY + "é"}, "SUPABASE_SERVICE_KEY"),
]


@pytest.mark.parametrize(("env", "variable"), BAD_SETTINGS)
def test_bad_settings_name_the_variable_and_never_the_key(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("supabase", env=env)
    assert caught.value.variable == variable
    assert variable in str(caught.value)
    for secret in (SECRET_KEY, ANON_JWT, "sb_publishable_", "user:"):
        assert secret not in str(caught.value)


def test_a_supabase_url_with_an_address_is_refused_without_echoing_it() -> None:
    env = {"SUPABASE_URL": PROJECT, "SUPABASE_SERVICE_KEY": SECRET_KEY}
    with pytest.raises(ConfigError) as caught:
        open_store(f"supabase://{SECRET_KEY}@proj.supabase.co", env=env)
    assert caught.value.variable == "SUPERBRAIN_DB" and SECRET_KEY not in str(caught.value)


async def test_set_task_status_patches_one_task(api: respx.MockRouter) -> None:
    route = api.patch("/tasks", name="tasks")
    route.side_effect = [
        httpx.Response(200, json=[{"id": 5, "status": "done"}]),
        httpx.Response(200, json=[]),
    ]
    async with store_for() as store:
        assert await store.set_task_status(5, "done")
        assert not await store.set_task_status(6, "open")
        with pytest.raises(ValueError, match="status"):
            await store.set_task_status(5, "maybe")
    first, second = (c.request for c in route.calls)
    assert first.method == "PATCH" and params(first) == [("id", "eq.5")]
    sent = body(first)
    assert sent["status"] == "done" and datetime.fromisoformat(sent["updated_at"]).tzinfo
    assert first.headers["prefer"] == "return=representation"
    assert params(second) == [("id", "eq.6")] and body(second)["status"] == "open"
