"""The digest sender against a mocked Bot API (respx) and a real SQLite store:
who is asked what, how much, how quietly, and what happens when recording fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
import respx

from superbrain_core.analyzer.batch import BatchReport
from superbrain_core.analyzer.digest import MAX_QUESTIONS, Question
from superbrain_core.analyzer.notify import DigestSender
from superbrain_core.botapi import BotApiClient
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import make_message, make_update
from superbrain_core.errors import StorageError
from superbrain_core.models import BotResponse, BotResponseIn
from superbrain_core.storage.sqlite.store import SqliteStore

pytestmark = pytest.mark.anyio
TOKEN = "4200000042:" + "B" * 35
API = "https://api.telegram.test"
OWNER, OTHER_OWNER = 100500, 100600
MSK = ZoneInfo("Europe/Moscow")


def report(questions: list[Question]) -> BatchReport:
    r = BatchReport(
        classifier="test", classifier_version="1", started_at=datetime(2026, 11, 25, tzinfo=UTC)
    )
    r.run_id = 7
    r.classified = len(questions)
    r.routed["notes"] = len(questions)
    r.questions = list(questions)
    r.asked = len(questions)
    return r


def ask(chat_id: int, message_id: int, source: str = "bot") -> Question:
    return Question(
        chat_id, message_id, f"пункт {message_id}", f"вопрос {message_id}?", 0.5, source
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "notify.db") as opened:
        yield opened


@pytest.fixture
def telegram() -> Any:
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        params = json.loads(request.content)
        sent.append(params)
        message = {"message_id": 1000 + len(sent), "chat": {"id": params["chat_id"]}, "date": 0}
        return httpx.Response(200, json={"ok": True, "result": message})

    with respx.mock(base_url=f"{API}/bot{TOKEN}") as mock:
        mock.post("/sendMessage").mock(side_effect=answer)
        yield sent


async def no_wait(seconds: float) -> None:
    return None


async def send(store: Any, r: BatchReport, owners: Sequence[int]) -> list[Any]:
    async with httpx.AsyncClient() as client:
        api = BotApiClient(TOKEN, api_server=API, client=client)
        return await DigestSender(api, store, sleep=no_wait).send(r, owners, MSK)


async def test_questions_go_as_replies_up_to_the_cap_and_the_rest_stay_in_the_digest(
    store: SqliteStore, telegram: list[dict[str, Any]]
) -> None:
    questions = [ask(OWNER, n) for n in range(1, MAX_QUESTIONS + 3)]
    deliveries = await send(store, report(questions), [OWNER])
    assert [d.kind for d in deliveries] == ["digest"] + ["question"] * MAX_QUESTIONS
    digest, *asked = telegram
    assert [p["reply_parameters"]["message_id"] for p in asked] == list(range(1, MAX_QUESTIONS + 1))
    assert f"Ниже {MAX_QUESTIONS} вопросов" in digest["text"]
    # The two beyond the cap are listed in the digest instead of being lost.
    assert "вопрос 11?" in digest["text"] and "вопрос 12?" in digest["text"]
    assert "вопрос 1?" not in digest["text"]
    # 03:00 is no time to buzz a phone.
    assert all(p["disable_notification"] is True for p in telegram)
    recorded = await store.bot_responses(OWNER)
    assert len(recorded) == 1 + MAX_QUESTIONS
    assert {r.related_user_message_id for r in recorded if r.response_type == "question"} == set(
        range(1, MAX_QUESTIONS + 1)
    )


async def test_each_owner_is_asked_about_their_own_chat_only(
    store: SqliteStore, telegram: list[dict[str, Any]]
) -> None:
    questions = [ask(OWNER, 1), ask(OWNER, 2), ask(OTHER_OWNER, 3)]
    await send(store, report(questions), [OWNER, OTHER_OWNER])
    by_chat: dict[int, list[dict[str, Any]]] = {}
    for params in telegram:
        by_chat.setdefault(params["chat_id"], []).append(params)
    assert "Ниже 2 вопроса" in by_chat[OWNER][0]["text"]
    assert "Ниже 1 вопрос:" in by_chat[OTHER_OWNER][0]["text"]
    assert [p["reply_parameters"]["message_id"] for p in by_chat[OTHER_OWNER][1:]] == [3]


async def test_imported_history_is_never_replied_to(
    store: SqliteStore, telegram: list[dict[str, Any]]
) -> None:
    """An exported message's id is in another numbering: a reply would land on a
    random message of the bot chat. Its question stays in the digest text."""
    await send(store, report([ask(OWNER, 301, source="desktop_export")]), [OWNER])
    (digest,) = telegram
    assert "reply_parameters" not in digest and "вопрос 301?" in digest["text"]


class FailingRecords:
    """A store whose recording of responses fails (the database went away)."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the outbox works; only recording fails

    async def record_bot_responses(self, responses: Sequence[BotResponseIn]) -> list[BotResponse]:
        raise StorageError("database went away")


async def test_a_recording_failure_does_not_stop_the_sends_but_is_raised(
    store: SqliteStore, telegram: list[dict[str, Any]]
) -> None:
    questions = [ask(OWNER, 1), ask(OTHER_OWNER, 2)]
    with pytest.raises(StorageError, match="went away"):
        await send(FailingRecords(store), report(questions), [OWNER, OTHER_OWNER])
    # Both owners heard, with their questions, before the failure surfaced.
    assert sorted(p["chat_id"] for p in telegram) == [OWNER, OWNER, OTHER_OWNER, OTHER_OWNER]


# -- at most once: the outbox ------------------------------------------------------


async def test_a_retried_job_sends_nothing_twice(
    store: SqliteStore, telegram: list[dict[str, Any]]
) -> None:
    questions = [ask(OWNER, 1), ask(OWNER, 2)]
    first = await send(store, report(questions), [OWNER])
    assert len(telegram) == 3 and all(d.ok and not d.skipped for d in first)
    # The Job is retried after the pod died: a new run, the same night.
    again = report(questions)
    again.run_id = 8
    second = await send(store, again, [OWNER])
    print(f"retried job: sent {len(telegram)} messages for 3 notifications")
    assert len(telegram) == 3
    assert [d.skipped for d in second] == [True, True, True]
    assert len(await store.bot_responses(OWNER)) == 3


async def test_two_runs_racing_send_each_notification_once(
    store: SqliteStore, telegram: list[dict[str, Any]]
) -> None:
    questions = [ask(OWNER, n) for n in range(1, 6)] + [ask(OTHER_OWNER, 9)]
    results: list[list[Any]] = []

    async def one() -> None:
        results.append(await send(store, report(questions), [OWNER, OTHER_OWNER]))

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
    keys = [(p["chat_id"], p.get("reply_parameters", {}).get("message_id")) for p in telegram]
    print(f"racing runs: {len(telegram)} sends, {len(keys) - len(set(keys))} duplicated")
    assert len(keys) == len(set(keys)) == 2 + 6
    sent = [d for r in results for d in r if not d.skipped]
    assert len(sent) == 8


async def test_a_failed_send_is_sent_by_the_retry_and_only_it(store: SqliteStore) -> None:
    sent: list[dict[str, Any]] = []
    refuse = True

    def answer(request: httpx.Request) -> httpx.Response:
        if refuse:
            body = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
            return httpx.Response(403, json=body)
        sent.append(json.loads(request.content))
        return httpx.Response(
            200, json={"ok": True, "result": {"message_id": 500 + len(sent), "date": 0}}
        )

    with respx.mock(base_url=f"{API}/bot{TOKEN}") as mock:
        mock.post("/sendMessage").mock(side_effect=answer)
        first = await send(store, report([ask(OWNER, 1)]), [OWNER])
        assert [d.ok for d in first] == [False, False]
        refuse = False
        second = await send(store, report([ask(OWNER, 1)]), [OWNER])
        assert [d.ok and not d.skipped for d in second] == [True, True]
        third = await send(store, report([ask(OWNER, 1)]), [OWNER])
    assert [d.skipped for d in third] == [True, True] and len(sent) == 2


async def test_open_questions_are_asked_again_on_later_nights_at_most_n_times(
    store: SqliteStore, telegram: list[dict[str, Any]]
) -> None:
    async with httpx.AsyncClient() as client:
        api = BotApiClient(TOKEN, api_server=API, client=client)
        sender = DigestSender(api, store, sleep=no_wait, max_asks=2)
        night1 = datetime(2026, 11, 25).date()
        await sender.send(report([ask(OWNER, 1)]), [OWNER], MSK, night=night1)
        asked = [p for p in telegram if "reply_parameters" in p]
        assert len(asked) == 1
        # Night 2: nothing new, the question was never answered: asked again.
        empty = report([])
        await sender.send(empty, [OWNER], MSK, night=night1 + timedelta(days=1))
        asked = [p for p in telegram if "reply_parameters" in p]
        assert [p["reply_parameters"]["message_id"] for p in asked] == [1, 1]
        # Night 3: asked on two nights already, the limit.
        await sender.send(empty, [OWNER], MSK, night=night1 + timedelta(days=2))
        assert len([p for p in telegram if "reply_parameters" in p]) == 2
        # --resend: night 2's digest and question go out again, on purpose.
        resent = await sender.resend(night1 + timedelta(days=1))
        assert [d.kind for d in resent] == ["digest", "question"] and all(d.ok for d in resent)
        assert len([p for p in telegram if "reply_parameters" in p]) == 3


async def test_an_answered_question_is_not_asked_again(
    store: SqliteStore, telegram: list[dict[str, Any]]
) -> None:
    night1 = datetime(2026, 11, 25).date()
    async with httpx.AsyncClient() as client:
        api = BotApiClient(TOKEN, api_server=API, client=client)
        sender = DigestSender(api, store, sleep=no_wait, max_asks=5)
        (_, question) = await sender.send(report([ask(OWNER, 1)]), [OWNER], MSK, night=night1)
        reply = make_update(
            60, message_id=60, text="в пятницу", reply_to=make_message(question.message_id)
        )
        await Capturer(store).capture(reply)
        later = await sender.send(report([]), [OWNER], MSK, night=night1 + timedelta(days=1))
    assert [d.kind for d in later] == ["digest"]
