"""The n8n webhook classifier: the exact request, every reply shape, every fault.

The workflow is legacy and not ours, so the tests pin the wire format it relies
on and the lenient reading of what it answers. Faults must surface as retryable
``ClassifierError`` and never as a "none" verdict, which would lose the message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
import respx
from structlog.testing import capture_logs

from superbrain_core.analyzer.classify.schema import (
    SCHEMA_VERSION,
    ChainMessage,
    Classification,
    Classifier,
    ClassifierError,
    ClassifierInput,
    EventKind,
    ItemType,
)
from superbrain_core.analyzer.classify.webhook import WebhookClassifier
from superbrain_core.errors import ConfigError
from superbrain_core.models import FileStatus, RawFile

pytestmark = pytest.mark.anyio

BASE = "https://n8n.example.test/webhook"
URL = f"{BASE}/digital-twin-ask"
TOKEN = "n8n-hook-token-5f1c2a9e"
MOSCOW = ZoneInfo("Europe/Moscow")
# 21:30 UTC on 28 Feb is 00:30 on 1 Mar in Moscow: the date the owner saw.
SENT = datetime(2025, 2, 28, 21, 30, tzinfo=UTC)
HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def make_file() -> RawFile:
    return RawFile(
        id=1,
        chat_id=42,
        message_id=100,
        user_id=7,
        file_type="document",
        file_id="BQACAgIAAxkBAAIB",
        file_unique_id="AgADBQAD",
        file_name="счёт.pdf",
        mime_type="application/pdf",
        file_size=2048,
        file_path=None,
        file_hash=None,
        status=FileStatus.PENDING,
        download_reason=None,
        raw_metadata={},
        is_processed=False,
        processed_at=None,
        uploaded_at=SENT,
    )


def make_item(
    *, text: str | None = "завтра в 10 встреча с Иваном", clarified: bool = True
) -> ClassifierInput:
    root = ChainMessage(message_id=100, text=text, date=SENT)
    chain = [root]
    if clarified:
        chain += [
            ChainMessage(
                message_id=101,
                text="Это встреча?",
                date=SENT + timedelta(minutes=1),
                from_bot=True,
                reply_to_message_id=100,
            ),
            ChainMessage(
                message_id=102,
                text="да, в офисе",
                date=SENT + timedelta(minutes=2),
                reply_to_message_id=101,
            ),
        ]
    return ClassifierInput(
        chat_id=42,
        message_id=100,
        user_id=7,
        message_type="text",
        text=text,
        message_date=SENT,
        chain=tuple(chain),
        files=(make_file(),),
        reply_to_text="старое сообщение",
        timezone=MOSCOW,
    )


def strict_reply(**overrides: Any) -> dict[str, Any]:
    reply = Classification(
        type=ItemType.EVENT,
        confidence=0.93,
        classifier="n8n-gpt",
        classifier_version="99",
        title="Встреча с Иваном",
        starts_at=datetime(2025, 3, 2, 10, 0, tzinfo=MOSCOW),
        event_kind=EventKind.MEETING,
        people=("Иван",),
    ).to_json()
    reply.update(overrides)
    return reply


async def classify_reply(
    response: httpx.Response, item: ClassifierInput | None = None
) -> Classification:
    """Classify ``item`` while the webhook answers ``response``."""
    async with httpx.AsyncClient() as client:
        classifier = WebhookClassifier(BASE, token=TOKEN, client=client)
        with respx.mock(assert_all_called=True) as mock:
            mock.post(URL).mock(return_value=response)
            return await classifier.classify(item or make_item())


async def classify_fault(
    response: httpx.Response | None = None, error: Exception | None = None
) -> ClassifierError:
    async with httpx.AsyncClient() as client:
        classifier = WebhookClassifier(BASE, token=TOKEN, client=client, timeout=5)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(URL)
            if error is not None:
                route.mock(side_effect=error)
            else:
                route.mock(return_value=response)
            with pytest.raises(ClassifierError) as caught:
                await classifier.classify(make_item())
            assert route.call_count == 1
    return caught.value


# --------------------------------------------------------------------------
# The request
# --------------------------------------------------------------------------


async def test_request_carries_the_legacy_fields_and_the_chain_context() -> None:
    async with httpx.AsyncClient() as client:
        classifier = WebhookClassifier(BASE + "/", token=TOKEN, client=client)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(URL).mock(return_value=httpx.Response(200, json=strict_reply()))
            await classifier.classify(make_item())

    request = route.calls.last.request
    assert request.url.path == "/webhook/digital-twin-ask"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body == {
        "message": "завтра в 10 встреча с Иваном",
        "message_type": "text",
        "user_id": 7,
        "reply_to_message": "старое сообщение",
        "is_clarification": True,
        "chat_id": 42,
        "message_id": 100,
        "message_date": "2025-03-01T00:30:00+03:00",
        "timezone": "Europe/Moscow",
        "chain": [m.to_json() for m in make_item().chain],
        "files": [
            {
                "file_type": "document",
                "file_name": "счёт.pdf",
                "mime_type": "application/pdf",
                "file_size": 2048,
            }
        ],
        "schema_version": SCHEMA_VERSION,
        "owner_examples": [],
    }


async def test_an_unclarified_message_without_token_sends_no_authorization() -> None:
    async with httpx.AsyncClient() as client:
        classifier = WebhookClassifier(BASE, client=client)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(URL).mock(return_value=httpx.Response(200, json=strict_reply()))
            await classifier.classify(make_item(clarified=False))

    request = route.calls.last.request
    assert "authorization" not in request.headers
    body = json.loads(request.content)
    assert body["is_clarification"] is False
    assert [m["message_id"] for m in body["chain"]] == [100]


async def test_text_with_a_lone_surrogate_is_still_sent() -> None:
    """Telegram text may hold half an emoji; httpx's own JSON encoding would refuse it."""
    reply = await classify_reply(
        httpx.Response(200, json=strict_reply()), make_item(text="битый \ud83d эмодзи")
    )
    assert reply.type is ItemType.EVENT


# --------------------------------------------------------------------------
# Reply shapes
# --------------------------------------------------------------------------


async def test_strict_reply_is_read_with_the_classifiers_own_identity() -> None:
    result = await classify_reply(httpx.Response(200, json=strict_reply()))
    expected = Classification.from_json(strict_reply(classifier="webhook", classifier_version="1"))
    assert result == expected
    assert (result.classifier, result.classifier_version) == ("webhook", "1")


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [(85, 0.85), (0.9, 0.9), (1, 1.0), ("70%", 0.7), ("0,95", 0.95), (100, 1.0)],
)
async def test_confidence_in_percent_or_fraction(confidence: Any, expected: float) -> None:
    result = await classify_reply(
        httpx.Response(200, json={"type": "task", "confidence": confidence})
    )
    assert result.confidence == pytest.approx(expected)


async def test_missing_fields_take_defaults_and_an_unstated_confidence_is_not_trusted() -> None:
    result = await classify_reply(httpx.Response(200, json={"type": "note", "title": "Идея"}))
    assert result.type is ItemType.NOTE
    assert result.title == "Идея"
    assert result.confidence == 0.0
    assert result.unsure
    assert (result.people, result.tags, result.starts_at, result.amount) == ((), (), None, None)
    assert result.needs_clarification is False


@pytest.mark.parametrize(
    "body",
    [
        [{"type": "task", "confidence": 0.9}],
        {"output": {"type": "task", "confidence": 0.9}},
        {"output": '{"type": "task", "confidence": 0.9}'},
        {"output": '```json\n{"type": "task", "confidence": 0.9}\n```'},
        {"data": {"type": "task", "confidence": 0.9}},
        {"result": {"type": "task", "confidence": 0.9}},
        [{"json": {"type": "task", "confidence": 0.9}, "pairedItem": {"item": 0}}],
        {"category": "task", "confidence": 0.9},
        '{"type": "task", "confidence": 0.9}',
    ],
    ids=[
        "list",
        "output",
        "output-string",
        "output-fenced",
        "data",
        "result",
        "n8n-item",
        "category",
        "json-string",
    ],
)
async def test_wrappers_are_unwrapped(body: Any) -> None:
    result = await classify_reply(httpx.Response(200, json=body))
    assert (result.type, result.confidence) == (ItemType.TASK, 0.9)


@pytest.mark.parametrize(
    ("value", "item_type", "kind"),
    [
        ("задача", ItemType.TASK, None),
        ("Встреча", ItemType.EVENT, EventKind.MEETING),
        ("заметка", ItemType.NOTE, None),
        ("расход", ItemType.EXPENSE, None),
        ("контакт", ItemType.CONTACT, None),
        ("ссылка", ItemType.LINK, None),
        ("событие", ItemType.EVENT, None),
        ("Reminder", ItemType.EVENT, EventKind.REMINDER),
        ("meeting", ItemType.EVENT, EventKind.MEETING),
        ("person", ItemType.CONTACT, None),
        ("spending", ItemType.EXPENSE, None),
        ("purchase", ItemType.EXPENSE, None),
        ("idea", ItemType.NOTE, None),
        ("thought", ItemType.NOTE, None),
        ("TODO", ItemType.TASK, None),
        ("url", ItemType.LINK, None),
        ("other", ItemType.NONE, None),
        ("unknown", ItemType.NONE, None),
        (None, ItemType.NONE, None),
    ],
)
async def test_type_synonyms(
    value: str | None, item_type: ItemType, kind: EventKind | None
) -> None:
    result = await classify_reply(httpx.Response(200, json={"type": value, "confidence": 0.9}))
    assert (result.type, result.event_kind) == (item_type, kind)


async def test_an_explicit_event_kind_wins_over_the_one_a_synonym_implies() -> None:
    body = {"type": "reminder", "event_kind": "deadline", "confidence": 0.9}
    result = await classify_reply(httpx.Response(200, json=body))
    assert result.event_kind is EventKind.DEADLINE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-02T10:00:00", datetime(2025, 3, 2, 10, 0, tzinfo=MOSCOW)),
        ("2025-03-02 10:00", datetime(2025, 3, 2, 10, 0, tzinfo=MOSCOW)),
        ("2025-03-02", datetime(2025, 3, 2, 0, 0, tzinfo=MOSCOW)),
        ("02.03.2025 10:00", datetime(2025, 3, 2, 10, 0, tzinfo=MOSCOW)),
        ("2025-03-02T07:00:00Z", datetime(2025, 3, 2, 7, 0, tzinfo=UTC)),
        (
            "2025-03-02T10:00:00+05:00",
            datetime(2025, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=5))),
        ),
    ],
)
async def test_datetimes_naive_ones_in_the_owners_zone(value: str, expected: datetime) -> None:
    body = {"type": "event", "confidence": 0.9, "starts_at": value, "due_at": value}
    result = await classify_reply(httpx.Response(200, json=body))
    assert result.starts_at is not None and result.due_at is not None
    assert result.starts_at == expected and result.due_at == expected
    assert result.starts_at.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("amount", "currency", "expected_amount", "expected_currency"),
    [
        (1500, "RUB", Decimal("1500"), "RUB"),
        (99.5, "usd", Decimal("99.5"), "USD"),
        ("1 500,50", "₽", Decimal("1500.50"), "RUB"),
        ("1 500,50 ₽", None, Decimal("1500.50"), "RUB"),
        ("1\u00a0500 руб.", None, Decimal("1500"), "RUB"),
        ("$20", None, Decimal("20"), "USD"),
        ("20 €", None, Decimal("20"), "EUR"),
        ("1,500.25", "руб", Decimal("1500.25"), "RUB"),
        ("300", "рублей", Decimal("300"), "RUB"),
    ],
)
async def test_amounts_and_currencies(
    amount: Any, currency: str | None, expected_amount: Decimal, expected_currency: str
) -> None:
    body = {"type": "расход", "confidence": 0.9, "amount": amount, "currency": currency}
    result = await classify_reply(httpx.Response(200, json=body))
    assert (result.amount, result.currency) == (expected_amount, expected_currency)


async def test_loose_scalars_are_read() -> None:
    body = {
        "type": "contact",
        "confidence": 0.5,
        "people": "Иван, Пётр",
        "tags": ["work", "", None],
        "phone": 79991234567,
        "needs_clarification": "да",
        "question": "  Это новый контакт?  ",
    }
    result = await classify_reply(httpx.Response(200, json=body))
    assert result.people == ("Иван", "Пётр")
    assert result.tags == ("work",)
    assert result.phone == "79991234567"
    assert result.needs_clarification is True
    assert result.question == "Это новый контакт?"


async def test_fields_the_reader_does_not_know_are_ignored_and_logged() -> None:
    body = {"type": "note", "confidence": 0.9, "reasoning": "потому что", "lang": "ru"}
    with capture_logs() as logs:
        result = await classify_reply(httpx.Response(200, json=body))
    assert result.type is ItemType.NOTE
    ignored = [e for e in logs if e["event"] == "classify.ignored_fields"]
    assert ignored and ignored[0]["fields"] == ["lang", "reasoning"]


# --------------------------------------------------------------------------
# Faults: always a retryable ClassifierError, never a "none" verdict
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "needle"),
    [
        (httpx.Response(500, text="Internal Server Error"), "HTTP 500 (server error"),
        (
            httpx.Response(502, text=HTML_PAGE, headers={"content-type": "text/html"}),
            "HTTP 502 (server error, will retry): an HTML page",
        ),
        (
            httpx.Response(200, text=HTML_PAGE, headers={"content-type": "text/html"}),
            "HTTP 200 with an HTML page",
        ),
        (httpx.Response(200, text="<!DOCTYPE html><html></html>"), "HTML page"),
        (httpx.Response(200, text=""), "empty body"),
        (httpx.Response(200, text="  \n"), "empty body"),
        (httpx.Response(200, text="{not json"), "non-JSON body: {not json"),
        (httpx.Response(200, json=[{"type": "task"}, {"type": "note"}]), "a list of 2"),
        (httpx.Response(200, json={"message": "Workflow was started"}), "no 'type' field"),
        (httpx.Response(200, json={"output": "Это задача"}), "not valid JSON"),
        (httpx.Response(200, json={"output": None}), "got null"),
        (httpx.Response(200, json=42), "got a number"),
        (httpx.Response(200, json={"type": "banana"}), "'banana' is not one of"),
        (httpx.Response(200, json={"type": "task", "confidence": 150}), "between 0 and 1"),
        (httpx.Response(200, json={"type": "event", "starts_at": "завтра"}), "starts_at"),
        (httpx.Response(200, json={"type": "expense", "amount": "много"}), "amount"),
        (httpx.Response(200, json={"type": "expense", "currency": "ракушки"}), "currency"),
        (httpx.Response(404, text="webhook not registered"), "HTTP 404 (client error"),
        (httpx.Response(429, text="slow down"), "HTTP 429 (rate limited"),
    ],
)
async def test_bad_replies_are_retryable_errors(response: httpx.Response, needle: str) -> None:
    error = await classify_fault(response)
    assert error.retryable is True
    assert needle in str(error)
    assert str(error).startswith("webhook: ")


@pytest.mark.parametrize(
    ("exc", "needle"),
    [
        (httpx.ReadTimeout("timed out"), "no reply within 5s (ReadTimeout)"),
        (httpx.ConnectTimeout("timed out"), "no reply within 5s (ConnectTimeout)"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "request failed (ConnectError)"),
        (httpx.RemoteProtocolError("peer closed"), "request failed (RemoteProtocolError)"),
    ],
)
async def test_transport_faults_are_retryable(exc: Exception, needle: str) -> None:
    error = await classify_fault(error=exc)
    assert error.retryable is True
    assert needle in str(error)


async def test_an_auth_failure_names_the_variable_and_never_quotes_the_body() -> None:
    error = await classify_fault(httpx.Response(401, text=f"bad token {TOKEN}"))
    assert error.retryable is True
    assert "HTTP 401" in str(error) and "check N8N_WEBHOOK_TOKEN" in str(error)
    assert TOKEN not in str(error) and "bad token" not in str(error)


async def test_a_quoted_body_is_short_and_has_secrets_masked() -> None:
    body = f"error for token {TOKEN} and key sk-abcdefghijklmnopqrstuvwxyz " + "x" * 500
    error = await classify_fault(httpx.Response(500, text=body))
    message = str(error)
    assert TOKEN not in message and "sk-abcdefghijklmnopqrstuvwxyz" not in message
    assert "error for token ***" in message
    assert len(message) < 200


# --------------------------------------------------------------------------
# Configuration and lifecycle
# --------------------------------------------------------------------------


async def test_from_env_reads_base_token_and_timeout() -> None:
    classifier = WebhookClassifier.from_env(
        {
            "N8N_WEBHOOK_BASE": BASE + "/",
            "N8N_WEBHOOK_TOKEN": TOKEN,
            "SUPERBRAIN_CLASSIFIER_TIMEOUT": "12.5",
        }
    )
    default = WebhookClassifier.from_env({"N8N_WEBHOOK_BASE": BASE})
    try:
        assert classifier.url == URL
        assert classifier.timeout == 12.5
        assert classifier._client.timeout.read == 12.5
        assert classifier._headers()["Authorization"] == f"Bearer {TOKEN}"
        assert default.timeout == 30.0
        assert "Authorization" not in default._headers()
    finally:
        await classifier.aclose()
        await default.aclose()


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "N8N_WEBHOOK_BASE"),
        ({"N8N_WEBHOOK_BASE": "  "}, "N8N_WEBHOOK_BASE"),
        ({"N8N_WEBHOOK_BASE": "n8n.example.test/webhook"}, "N8N_WEBHOOK_BASE"),
        ({"N8N_WEBHOOK_BASE": "ftp://n8n.example.test"}, "N8N_WEBHOOK_BASE"),
        (
            {"N8N_WEBHOOK_BASE": BASE, "SUPERBRAIN_CLASSIFIER_TIMEOUT": "soon"},
            "SUPERBRAIN_CLASSIFIER_TIMEOUT",
        ),
        (
            {"N8N_WEBHOOK_BASE": BASE, "SUPERBRAIN_CLASSIFIER_TIMEOUT": "0"},
            "SUPERBRAIN_CLASSIFIER_TIMEOUT",
        ),
    ],
)
def test_from_env_rejects_bad_settings_naming_the_variable(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookClassifier.from_env({**env, "N8N_WEBHOOK_TOKEN": TOKEN})
    assert caught.value.variable == variable
    assert variable in str(caught.value)
    assert TOKEN not in str(caught.value)


async def test_aclose_closes_its_own_client_but_not_a_borrowed_one() -> None:
    own = WebhookClassifier(BASE)
    await own.aclose()
    assert own._client.is_closed

    async with httpx.AsyncClient() as borrowed:
        classifier = WebhookClassifier(BASE, client=borrowed)
        await classifier.aclose()
        assert not borrowed.is_closed


async def test_concurrent_calls_each_get_their_own_answer() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        message_id = json.loads(request.content)["message_id"]
        return httpx.Response(
            200, json={"type": "note", "confidence": 0.9, "title": str(message_id)}
        )

    items = [
        ClassifierInput(
            chat_id=42,
            message_id=n,
            user_id=7,
            message_type="text",
            text=f"m{n}",
            message_date=SENT,
        )
        for n in range(1, 9)
    ]
    results: dict[int, str | None] = {}
    classifier = WebhookClassifier(BASE)
    try:
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(URL).mock(side_effect=answer)

            async def run(item: ClassifierInput) -> None:
                results[item.message_id] = (await classifier.classify(item)).title

            async with anyio.create_task_group() as tg:
                for item in items:
                    tg.start_soon(run, item)
    finally:
        await classifier.aclose()
    assert route.call_count == len(items)
    assert results == {item.message_id: str(item.message_id) for item in items}


async def test_it_is_a_classifier() -> None:
    classifier = WebhookClassifier(BASE)
    assert isinstance(classifier, Classifier)
    await classifier.aclose()


async def test_logs_never_carry_the_token() -> None:
    with capture_logs() as logs:
        await classify_fault(httpx.Response(500, text=f"oops {TOKEN}"))
    assert logs, "the classifier should log its request at debug level"
    assert TOKEN not in repr(logs)
