"""The digest sender against a mocked Bot API (respx) and a real SQLite store:
who is asked what, how much, how quietly, and what happens when recording fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from superbrain_core.analyzer.batch import BatchReport
from superbrain_core.analyzer.digest import MAX_QUESTIONS, Question
from superbrain_core.analyzer.notify import DigestSender
from superbrain_core.botapi import BotApiClient
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
