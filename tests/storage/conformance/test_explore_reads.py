"""The exploration reads every backend must answer alike: filtered, key-paged lists of
raw message versions, chains, routing entries and analyzer runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.analyzer.classify.schema import ItemType
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, bot_message, make_message, make_update, unix
from superbrain_core.models import BotResponseIn
from superbrain_core.storage.base import MessageFilter, Store

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 09:00 in Moscow
GROUP = {"id": -500, "type": "group", "title": "Семья"}
CLASSIFIER = KeywordClassifier({"встреча": ItemType.EVENT, "купить": ItemType.TASK})


async def fill(store: Store) -> None:
    """Two chats over two days: an edited message, a photo, a chain through the bot's
    question, one analyzer run, then a message that arrives after it (unprocessed)."""
    capturer = Capturer(store)
    await capturer.capture(make_update(1, message_id=1, text="встреча в пятницу", date=T0))
    await capturer.capture(
        make_update(
            2,
            "edited_message",
            message_id=1,
            text="встреча в субботу",
            date=T0,
            edit_date=unix(T0 + timedelta(minutes=5)),
        )
    )
    photo = [{"file_id": "P1", "file_unique_id": "uP1", "file_size": 10, "width": 1, "height": 1}]
    await capturer.capture(
        make_update(3, message_id=2, photo=photo, caption="чек", date=T0 + timedelta(hours=2))
    )
    await capturer.capture(
        make_update(4, message_id=1, text="купить молоко", date=T0 + timedelta(hours=1), chat=GROUP)
    )
    await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID, message_id=10, response_text="Когда?", related_user_message_id=1
        )
    )
    question = bot_message(10, "Когда?", T0 + timedelta(minutes=1))
    await capturer.capture(
        make_update(5, message_id=4, text="в 11", date=T0 + timedelta(minutes=6), reply_to=question)
    )
    fourth = make_message(4, text="в 11", date=T0 + timedelta(minutes=6))
    await capturer.capture(
        make_update(
            6, message_id=5, text="нет, в 12", date=T0 + timedelta(minutes=7), reply_to=fourth
        )
    )
    await run_batch(store, CLASSIFIER, BatchOptions())
    await capturer.capture(make_update(7, message_id=6, text="завтра", date=T0 + timedelta(days=1)))


def keys(found: list) -> list[tuple[int, int, int]]:  # type: ignore[type-arg]
    return [(m.chat_id, m.message_id, m.version) for m in found]


async def test_list_messages_returns_every_version_by_id(store: Store) -> None:
    await fill(store)
    found = await store.list_messages()
    assert [m.id for m in found] == sorted(m.id for m in found)
    assert keys(found) == [
        (OWNER_ID, 1, 1),
        (OWNER_ID, 1, 2),
        (OWNER_ID, 2, 1),
        (-500, 1, 1),
        (OWNER_ID, 4, 1),
        (OWNER_ID, 5, 1),
        (OWNER_ID, 6, 1),
    ]
    assert [m.message_text for m in found[:2]] == ["встреча в пятницу", "встреча в субботу"]


async def test_list_messages_filters_combine(store: Store) -> None:
    await fill(store)

    async def matching(**where: object) -> list[tuple[int, int, int]]:
        return keys(await store.list_messages(MessageFilter(**where)))  # type: ignore[arg-type]

    assert await matching(chat_id=-500) == [(-500, 1, 1)]
    assert await matching(message_type="photo") == [(OWNER_ID, 2, 1)]
    assert await matching(processed=False) == [(OWNER_ID, 6, 1)]
    assert len(await matching(processed=True)) == 6
    # Half-open: since is in, until is out; an edit keeps its original's date.
    assert await matching(since=T0, until=T0 + timedelta(minutes=6)) == [
        (OWNER_ID, 1, 1),
        (OWNER_ID, 1, 2),
    ]
    assert await matching(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=2)) == [
        (-500, 1, 1)
    ]
    assert await matching(chat_id=OWNER_ID, since=T0 + timedelta(hours=1)) == [
        (OWNER_ID, 2, 1),
        (OWNER_ID, 6, 1),
    ]
    # Another zone's clock names the same instant.
    moscow_noon = datetime.fromisoformat("2026-11-24T11:00:00+03:00")
    assert (
        await matching(until=moscow_noon, chat_id=-500)
        == [(-500, 1, 1)]
        == await matching(until=T0 + timedelta(hours=2), chat_id=-500)
    )
    assert await matching(chat_id=-500, message_type="photo") == []


async def test_list_messages_pages_by_id(store: Store) -> None:
    await fill(store)
    everything = await store.list_messages()
    first = await store.list_messages(limit=3)
    rest = await store.list_messages(after_id=first[-1].id, limit=3)
    last = await store.list_messages(after_id=rest[-1].id, limit=3)
    assert keys(first + rest + last) == keys(everything)
    assert (len(first), len(rest), len(last)) == (3, 3, 1)
    owner = MessageFilter(chat_id=OWNER_ID)
    paged = await store.list_messages(owner, after_id=everything[2].id, limit=2)
    assert keys(paged) == [(OWNER_ID, 4, 1), (OWNER_ID, 5, 1)], "the filter holds across pages"


def test_a_naive_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        MessageFilter(since=datetime(2026, 11, 24))


async def test_list_routing_refuses_a_naive_bound(store: Store) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        await store.list_routing(until=datetime(2026, 11, 24))


async def test_list_chains_one_per_chain_with_replies_in_order(store: Store) -> None:
    await fill(store)
    (chain,) = await store.list_chains()
    assert (chain.chat_id, chain.original_message_id) == (OWNER_ID, 1)
    assert [r.message_id for r in chain.replies] == [4, 5]
    assert chain.original_text == "встреча в субботу", "the root's newest text"
    assert await store.list_chains(chat_id=-500) == []
    assert await store.list_chains(after=chain.chain_id) == []


async def test_list_chains_pages_by_chain_id_in_the_same_order_everywhere(store: Store) -> None:
    capturer = Capturer(store)
    for n in range(1, 6):
        root = make_message(n * 10, text=f"корень {n}", date=T0)
        await capturer.capture(make_update(n * 10, message_id=n * 10, text=f"корень {n}", date=T0))
        await capturer.capture(
            make_update(n * 10 + 1, message_id=n * 10 + 1, text="ответ", date=T0, reply_to=root)
        )
    everything = await store.list_chains()
    ids = [c.chain_id for c in everything]
    assert len(ids) == 5 and ids == sorted(ids), "ascending by the text form of the uuid"
    first = await store.list_chains(limit=2)
    rest = await store.list_chains(after=first[-1].chain_id, limit=10)
    assert [c.chain_id for c in first + rest] == ids


async def test_list_routing_by_run_time_and_chat(store: Store) -> None:
    await fill(store)
    runs = await store.list_batch_runs()
    assert len(runs) == 1 and runs[0].status == "ok" and runs[0].counts["claimed"] == 6
    everything = await store.list_routing()
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    placed = {(e.chat_id, e.message_id): e.destination for e in everything}
    assert placed == {(OWNER_ID, 1): "events", (OWNER_ID, 2): "notes", (-500, 1): "tasks"}
    assert await store.list_routing(run_id=runs[0].id) == everything
    assert await store.list_routing(run_id=runs[0].id + 1) == []
    assert [e.chat_id for e in await store.list_routing(chat_id=-500)] == [-500]
    started = runs[0].started_at
    assert await store.list_routing(since=started - timedelta(minutes=1)) == everything
    assert await store.list_routing(until=started - timedelta(minutes=1)) == []
    first = await store.list_routing(limit=2)
    rest = await store.list_routing(after_id=first[-1].id)
    assert first + rest == everything


async def test_list_batch_runs_pages_by_id(store: Store) -> None:
    for n in range(3):
        run_id = await store.start_batch_run("rules", "1", f"worker-{n}")
        await store.finish_batch_run(run_id, status="ok", counts={"claimed": n}, digest=f"ночь {n}")
    runs = await store.list_batch_runs()
    assert [(r.counts["claimed"], r.digest) for r in runs] == [
        (0, "ночь 0"),
        (1, "ночь 1"),
        (2, "ночь 2"),
    ]
    assert all(r.finished_at is not None and r.started_at.tzinfo is not None for r in runs)
    later = await store.list_batch_runs(after_id=runs[0].id, limit=1)
    assert later == [runs[1]]
    assert runs[-1] == await store.last_batch_run()


# -- Supabase: the same reads over PostgREST (mocked: hosted PostgREST cannot run here) ----


def _paged(rows: list[dict], key: str, seen: list[httpx.Request]):  # type: ignore[type-arg, no-untyped-def]
    """PostgREST's key paging over ``rows`` (already filtered, as the server would):
    ``<key>=gt.<cursor>``, ``order=<key>.asc``, ``limit``."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        query = request.url.params
        assert query["order"] == f"{key}.asc"
        found = sorted(rows, key=lambda r: r[key])
        cursor = query.get(key)
        if cursor is not None:
            after = cursor.removeprefix("gt.")
            found = [r for r in found if (r[key] > int(after) if key == "id" else r[key] > after)]
        return httpx.Response(200, json=found[: int(query["limit"])])

    return answer


@pytest.fixture
def postgrest() -> Iterator[respx.MockRouter]:
    from tests.storage.supabase.test_store import REST, FakeRest

    with respx.mock(base_url=REST, assert_all_called=False) as router:
        router.get("/schema_migrations").mock(side_effect=FakeRest({}))
        yield router


async def test_supabase_list_messages_filters_in_the_query_and_pages_past_the_cap(
    postgrest: respx.MockRouter,
) -> None:
    from tests.storage.supabase.test_store import message_row, store_for

    seen: list[httpx.Request] = []
    rows = [message_row(i, 10 + i) for i in (1, 2, 3)]
    postgrest.get("/raw_messages").mock(side_effect=_paged(rows, "id", seen))
    where = MessageFilter(
        since=datetime.fromisoformat("2026-11-24T09:00:00+03:00"),
        until=T0 + timedelta(days=1),
        chat_id=OWNER_ID,
        message_type="text",
        processed=False,
    )
    async with store_for(page_size=2) as store:
        found = await store.list_messages(where)
    assert [m.message_id for m in found] == [11, 12, 13]
    assert [r.url.params["id"] for r in seen] == ["gt.0", "gt.2"]
    first = seen[0].url.params
    assert first.get_list("message_date") == [
        "gte.2026-11-24T06:00:00+00:00",
        "lt.2026-11-25T06:00:00+00:00",
    ]
    assert (first["chat_id"], first["message_type"]) == (f"eq.{OWNER_ID}", "eq.text")
    assert first["is_processed"].lower() == "eq.false"
    assert b"+" not in seen[0].url.query, "an unescaped + would arrive as a space"


async def test_supabase_chains_routing_and_runs_page_by_their_keys(
    postgrest: respx.MockRouter,
) -> None:
    from tests.storage.supabase.test_store import routing_row, store_for

    chain_ids = sorted(str(uuid.UUID(int=n * 2**100 + 7)) for n in (3, 1, 2))
    chains = [
        {
            "chain_id": cid,
            "chat_id": OWNER_ID,
            "user_id": OWNER_ID,
            "original_message_id": n,
            "original_text": f"корень {n}",
            "replies": [
                {"message_id": 10 + n, "text": "ответ", "date": "2026-11-24T06:01:00+00:00"}
            ],
            "created_at": "2026-11-24T06:00:00+00:00",
            "updated_at": "2026-11-24T06:01:00+00:00",
        }
        for n, cid in enumerate(chain_ids, start=1)
    ]
    runs = [
        {
            "id": n,
            "started_at": "2026-11-25T00:00:00+00:00",
            "finished_at": "2026-11-25T00:00:05+00:00",
            "status": "ok",
            "classifier": "rules",
            "counts": {"claimed": n},
            "digest": f"ночь {n}",
        }
        for n in (1, 2, 3)
    ]
    seen: dict[str, list[httpx.Request]] = {"chains": [], "routing": [], "runs": []}
    postgrest.get("/message_chains").mock(side_effect=_paged(chains, "chain_id", seen["chains"]))
    postgrest.get("/routing_log").mock(
        side_effect=_paged([routing_row(i, i) for i in (1, 2, 3)], "id", seen["routing"])
    )
    postgrest.get("/batch_runs").mock(side_effect=_paged(runs, "id", seen["runs"]))
    async with store_for(page_size=2) as store:
        found_chains = await store.list_chains(chat_id=OWNER_ID)
        entries = await store.list_routing(since=T0, run_id=1, chat_id=OWNER_ID)
        found_runs = await store.list_batch_runs()
    assert [c.chain_id for c in found_chains] == chain_ids
    assert [c.replies[0].message_id for c in found_chains] == [11, 12, 13]
    assert [r.url.params.get("chain_id") for r in seen["chains"]] == [None, f"gt.{chain_ids[1]}"]
    assert all(r.url.params["chat_id"] == f"eq.{OWNER_ID}" for r in seen["chains"])
    assert [e.id for e in entries] == [1, 2, 3]
    query = seen["routing"][0].url.params
    assert (query["created_at"], query["run_id"], query["chat_id"]) == (
        "gte.2026-11-24T06:00:00+00:00",
        "eq.1",
        f"eq.{OWNER_ID}",
    )
    assert [(r.id, r.counts, r.digest) for r in found_runs] == [
        (n, {"claimed": n}, f"ночь {n}") for n in (1, 2, 3)
    ]
    assert [r.url.params["id"] for r in seen["runs"]] == ["gt.0", "gt.2"]
