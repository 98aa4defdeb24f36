"""The OpenAI-compatible classifier: request, strict schema, answer reading, re-ask, faults.

Models drift from any schema, reasoning models think out loud, and "compatible"
servers fail in their own ways; every such case must end in a valid
classification or a retryable ``ClassifierError``, never a guessed "none".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from superbrain_core.analyzer.classify.openai import (
    SELF_FILLED_FIELDS,
    OpenAIClassifier,
    response_schema,
    strict_schema,
)
from superbrain_core.analyzer.classify.schema import (
    ChainMessage,
    Classification,
    Classifier,
    ClassifierError,
    ClassifierInput,
    EventKind,
    ItemType,
    json_schema,
)
from superbrain_core.errors import ConfigError
from superbrain_core.models import FileStatus, RawFile

pytestmark = pytest.mark.anyio

BASE = "https://llm.example.test/v1"
URL = f"{BASE}/chat/completions"
KEY = "sk-test-0123456789abcdefghijklmnop"
MOSCOW = ZoneInfo("Europe/Moscow")
# 21:30 UTC on 28 Feb is 00:30 on Saturday 1 Mar in Moscow: the date the owner saw.
SENT = datetime(2025, 2, 28, 21, 30, tzinfo=UTC)
HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

VALID = {"type": "task", "confidence": 0.9, "title": "Купить молоко"}


def make_item() -> ClassifierInput:
    chain = (
        ChainMessage(message_id=100, text="завтра купить молоко", date=SENT),
        ChainMessage(
            message_id=101,
            text="Это задача?",
            date=SENT + timedelta(minutes=1),
            from_bot=True,
            reply_to_message_id=100,
        ),
        ChainMessage(
            message_id=102, text="да", date=SENT + timedelta(minutes=2), reply_to_message_id=101
        ),
    )
    photo = RawFile(
        id=1,
        chat_id=42,
        message_id=100,
        user_id=7,
        file_type="photo",
        file_id="AgACAgIAAxkBAAIB",
        file_unique_id="AQADBQAD",
        file_name=None,
        mime_type="image/jpeg",
        file_size=51200,
        file_path=None,
        file_hash=None,
        status=FileStatus.PENDING,
        download_reason=None,
        raw_metadata={},
        is_processed=False,
        processed_at=None,
        uploaded_at=SENT,
    )
    return ClassifierInput(
        chat_id=42,
        message_id=100,
        user_id=7,
        message_type="photo",
        text="завтра купить молоко",
        message_date=SENT,
        chain=chain,
        files=(photo,),
        reply_to_text=None,
        timezone=MOSCOW,
    )


def completion(content: Any) -> httpx.Response:
    """A chat-completions reply whose first choice says ``content`` (dicts become JSON)."""
    text = content if not isinstance(content, dict | list) else json.dumps(content)
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
        },
    )


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True) as router:
        yield router


async def run(
    mock: respx.MockRouter,
    *replies: httpx.Response | Exception,
    model: str = "gpt-4o-mini",
) -> tuple[Classification | ClassifierError, respx.Route]:
    """Classify the sample item while the server gives ``replies`` in turn."""
    route = mock.post(URL).mock(side_effect=list(replies))
    async with httpx.AsyncClient() as client:
        classifier = OpenAIClassifier(KEY, model=model, base_url=BASE, client=client, timeout=5)
        try:
            return await classifier.classify(make_item()), route
        except ClassifierError as exc:
            return exc, route


def sent(route: respx.Route, call: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[call].request.content)
    return body


# --------------------------------------------------------------------------
# The schema sent as response_format
# --------------------------------------------------------------------------


def _keywords(schema: Any) -> Iterator[str]:
    """Every keyword used anywhere in ``schema`` (property names excluded)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties":
                for sub in value.values():
                    yield from _keywords(sub)
            else:
                yield key
                yield from _keywords(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _keywords(item)


def test_strict_schema_drops_rejected_keywords_at_every_depth() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "x",
        "type": "object",
        "properties": {
            "format": {"type": "string", "format": "date-time"},
            "v": {"const": 1, "type": "integer"},
            "list": {"type": "array", "items": {"type": "string", "format": "email"}},
        },
    }
    result = strict_schema(schema)
    assert result == {
        "type": "object",
        "properties": {
            "format": {"type": "string"},
            "v": {"type": "integer"},
            "list": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert schema["properties"]["v"] == {"const": 1, "type": "integer"}  # input untouched


def test_response_schema_is_the_contract_without_rejected_keywords_or_self_filled_fields() -> None:
    schema = response_schema()
    assert not {"$schema", "$id", "format", "const"} & set(_keywords(schema))
    assert schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"])
    expected = set(json_schema()["properties"]) - set(SELF_FILLED_FIELDS)
    assert set(schema["properties"]) == expected
    assert "starts_at" in schema["properties"] and "confidence" in schema["properties"]
    assert "$schema" in json_schema()  # the contract itself is not modified


# --------------------------------------------------------------------------
# The request
# --------------------------------------------------------------------------


async def test_request_has_auth_model_prompt_input_and_response_format(
    mock: respx.MockRouter,
) -> None:
    result, route = await run(mock, completion(VALID))
    assert isinstance(result, Classification)
    assert route.call_count == 1
    request = route.calls[0].request
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"

    body = sent(route)
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "classification", "strict": True, "schema": response_schema()},
    }
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "Russian" in system["content"] and "Europe/Moscow" in system["content"]
    assert "0.8" in system["content"] and "needs_clarification" in system["content"]
    assert user["role"] == "user"
    assert json.loads(user["content"]) == {
        "message": {
            "date": "2025-03-01T00:30:00+03:00",
            "weekday": "Saturday",
            "type": "photo",
            "text": "завтра купить молоко",
            "reply_to_text": None,
        },
        "clarifications": [
            {"from": "bot", "date": "2025-03-01T00:31:00+03:00", "text": "Это задача?"},
            {"from": "owner", "date": "2025-03-01T00:32:00+03:00", "text": "да"},
        ],
        "files": [
            {"file_type": "photo", "file_name": None, "mime_type": "image/jpeg", "file_size": 51200}
        ],
    }


async def test_perplexity_base_url_is_used_as_is(mock: respx.MockRouter) -> None:
    route = mock.post("https://api.perplexity.ai/chat/completions").mock(
        return_value=completion(VALID)
    )
    classifier = OpenAIClassifier.from_env(
        {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": "https://api.perplexity.ai/",
            "SUPERBRAIN_OPENAI_MODEL": "sonar",
        }
    )
    try:
        result = await classifier.classify(make_item())
    finally:
        await classifier.aclose()
    assert route.call_count == 1
    assert sent(route)["model"] == "sonar"
    assert result.classifier_version == "sonar/1"


# --------------------------------------------------------------------------
# Reading answers
# --------------------------------------------------------------------------


async def test_a_strict_answer_gets_the_classifiers_identity(mock: respx.MockRouter) -> None:
    answer = Classification(
        type=ItemType.EXPENSE,
        confidence=0.95,
        classifier="someone-else",
        classifier_version="0",
        title="Кофе",
        amount=Decimal("250.00"),
        currency="RUB",
    ).to_json()
    result, _ = await run(mock, completion(answer))
    assert isinstance(result, Classification)
    assert (result.type, result.amount, result.currency) == (
        ItemType.EXPENSE,
        Decimal("250.00"),
        "RUB",
    )
    assert (result.classifier, result.classifier_version) == ("openai", "gpt-4o-mini/1")


async def test_the_version_follows_the_model_so_reclassify_picks_items_again(
    mock: respx.MockRouter,
) -> None:
    first, _ = await run(mock, completion(VALID), model="gpt-4o-mini")
    second, _ = await run(mock, completion(VALID), model="gpt-4.1")
    assert isinstance(first, Classification) and isinstance(second, Classification)
    assert first.classifier_version != second.classifier_version
    assert "gpt-4.1" in second.classifier_version


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"type": "task", "confidence": 85}, (ItemType.TASK, 0.85, None)),
        ({"type": "task", "confidence": 0.9}, (ItemType.TASK, 0.9, None)),
        ({"type": "встреча", "confidence": 0.9}, (ItemType.EVENT, 0.9, EventKind.MEETING)),
        ('```json\n{"type": "note", "confidence": 0.9}\n```', (ItemType.NOTE, 0.9, None)),
        (
            '<think>\nThe owner says "завтра".\nThat is a task.\n</think>\n'
            '{"type": "task", "confidence": 0.9}',
            (ItemType.TASK, 0.9, None),
        ),
        (
            '<think>hmm</think>\n```json\n{"type": "link", "confidence": 0.9}\n```',
            (ItemType.LINK, 0.9, None),
        ),
        ([{"type": "todo", "confidence": 0.9}], (ItemType.TASK, 0.9, None)),
    ],
    ids=["percent", "fraction", "russian", "fenced", "think", "think-fenced", "list-of-one"],
)
async def test_answer_shapes(
    mock: respx.MockRouter, content: Any, expected: tuple[ItemType, float, EventKind | None]
) -> None:
    result, route = await run(mock, completion(content))
    assert isinstance(result, Classification)
    assert (result.type, result.confidence, result.event_kind) == expected
    assert route.call_count == 1


async def test_a_naive_datetime_is_the_owners_wall_clock(mock: respx.MockRouter) -> None:
    answer = {"type": "event", "confidence": 0.9, "starts_at": "2025-03-02T10:00:00"}
    result, _ = await run(mock, completion(answer))
    assert isinstance(result, Classification)
    assert result.starts_at == datetime(2025, 3, 2, 7, 0, tzinfo=UTC)


async def test_content_parts_are_joined(mock: respx.MockRouter) -> None:
    reply = httpx.Response(
        200,
        json={
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": [
                            {"type": "text", "text": '{"type": "note", '},
                            {"type": "text", "text": '"confidence": 0.9}'},
                        ],
                    }
                }
            ]
        },
    )
    result, _ = await run(mock, reply)
    assert isinstance(result, Classification) and result.type is ItemType.NOTE


# --------------------------------------------------------------------------
# Re-asking once
# --------------------------------------------------------------------------


async def test_an_invalid_answer_is_reasked_once_with_the_error(mock: respx.MockRouter) -> None:
    bad = '{"type": "banana", "confidence": 0.9}'
    result, route = await run(mock, completion(bad), completion(VALID))
    assert isinstance(result, Classification) and result.type is ItemType.TASK
    assert route.call_count == 2

    first, second = sent(route, 0)["messages"], sent(route, 1)["messages"]
    assert second[:2] == first
    assert second[2] == {"role": "assistant", "content": bad}
    assert second[3]["role"] == "user"
    assert "'banana' is not one of" in second[3]["content"]
    assert len(second) == 4
    assert sent(route, 1)["response_format"] == sent(route, 0)["response_format"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("Это задача.", "not valid JSON"),
        ("", "empty"),
        ('[{"type": "task"}, {"type": "note"}]', "a list of 2"),
        ('{"answer": "task"}', "no 'type' field"),
        ('{"type": "task", "confidence": 150}', "between 0 and 1"),
        ("<think>\nstill thinking, then cut off", "unclosed <think>"),
    ],
    ids=["prose", "empty", "array-of-two", "no-type", "bad-confidence", "unclosed-think"],
)
async def test_invalid_twice_is_a_retryable_error_after_exactly_two_calls(
    mock: respx.MockRouter, content: str, needle: str
) -> None:
    result, route = await run(mock, completion(content), completion(content))
    assert isinstance(result, ClassifierError)
    assert result.retryable is True
    assert route.call_count == 2
    assert "invalid answer twice" in str(result) and needle in str(result)


async def test_an_unclosed_think_block_is_reasked_and_can_recover(mock: respx.MockRouter) -> None:
    result, route = await run(mock, completion("<think>\nмысль без конца"), completion(VALID))
    assert isinstance(result, Classification) and result.type is ItemType.TASK
    assert route.call_count == 2
    assert "unclosed <think>" in sent(route, 1)["messages"][3]["content"]


async def test_an_http_fault_on_the_reask_is_reported_as_such(mock: respx.MockRouter) -> None:
    result, route = await run(mock, completion("nope"), httpx.Response(503, text="overloaded"))
    assert isinstance(result, ClassifierError)
    assert route.call_count == 2
    assert "HTTP 503" in str(result)


# --------------------------------------------------------------------------
# HTTP faults: never re-asked, always retryable
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (httpx.ReadTimeout("timed out"), "no reply within 5s (ReadTimeout)"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "request failed (ConnectError)"),
        (httpx.Response(500, json={"error": {"message": "boom"}}), "HTTP 500 (server error"),
        (
            httpx.Response(502, text=HTML_PAGE, headers={"content-type": "text/html"}),
            "HTTP 502 (server error, will retry): an HTML page: <html>",
        ),
        (
            httpx.Response(200, text=HTML_PAGE, headers={"content-type": "text/html"}),
            "HTTP 200 with an HTML page",
        ),
        (httpx.Response(200, text=""), "empty body"),
        (httpx.Response(200, text="garbage{"), "non-JSON body: garbage{"),
        (httpx.Response(200, json={"object": "error"}), "not a chat completion (keys: object)"),
        (httpx.Response(200, json={"choices": []}), "not a chat completion (keys: choices)"),
        (httpx.Response(200, json=["x"]), "the reply is not a chat completion"),
        (
            httpx.Response(200, json={"error": {"message": "model not found"}}),
            'an error, not a chat completion: {"message":"model not found"}',
        ),
        (httpx.Response(429, json={"error": "rate limit"}), "HTTP 429 (rate limited"),
        (
            httpx.Response(400, json={"error": "response_format unsupported"}),
            "HTTP 400 (client error, likely configuration",
        ),
    ],
)
async def test_http_faults_are_retryable_and_not_reasked(
    mock: respx.MockRouter, reply: httpx.Response | Exception, needle: str
) -> None:
    result, route = await run(mock, reply)
    assert isinstance(result, ClassifierError)
    assert result.retryable is True
    assert route.call_count == 1
    assert needle in str(result)
    assert str(result).startswith("openai: ")


async def test_401_says_check_the_key_without_showing_it(mock: respx.MockRouter) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}"}}
    result, route = await run(mock, httpx.Response(401, json=echo))
    assert isinstance(result, ClassifierError)
    assert route.call_count == 1
    assert "HTTP 401" in str(result) and "check OPENAI_API_KEY" in str(result)
    assert KEY not in str(result) and "Incorrect API key" not in str(result)


async def test_a_quoted_error_body_never_shows_the_key(mock: respx.MockRouter) -> None:
    result, _ = await run(mock, httpx.Response(500, text=f"upstream rejected {KEY[:-1]}X {KEY}"))
    assert isinstance(result, ClassifierError)
    assert KEY not in str(result)
    assert "upstream rejected" in str(result)


async def test_logs_never_carry_the_key(mock: respx.MockRouter) -> None:
    with capture_logs() as logs:
        await run(mock, completion("bad"), httpx.Response(401, text=KEY))
    assert any(entry["event"] == "classify.reask" for entry in logs)
    assert KEY not in repr(logs)


# --------------------------------------------------------------------------
# Configuration and lifecycle
# --------------------------------------------------------------------------


async def test_from_env_defaults() -> None:
    classifier = OpenAIClassifier.from_env({"OPENAI_API_KEY": KEY})
    try:
        assert classifier.url == "https://api.openai.com/v1/chat/completions"
        assert classifier.model == "gpt-4o-mini"
        assert classifier.version == "gpt-4o-mini/1"
        assert classifier.timeout == 30.0
        assert isinstance(classifier, Classifier)
    finally:
        await classifier.aclose()
    assert classifier._client.is_closed


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "OPENAI_API_KEY"),
        ({"OPENAI_API_KEY": "   "}, "OPENAI_API_KEY"),
        ({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "api.openai.com/v1"}, "OPENAI_BASE_URL"),
        (
            {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"ftp://{KEY}@example.test"},
            "OPENAI_BASE_URL",
        ),
        (
            {"OPENAI_API_KEY": KEY, "SUPERBRAIN_CLASSIFIER_TIMEOUT": "-1"},
            "SUPERBRAIN_CLASSIFIER_TIMEOUT",
        ),
    ],
)
def test_from_env_raises_config_error_naming_the_variable_never_the_key(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        OpenAIClassifier.from_env(env)
    assert caught.value.variable == variable
    assert variable in str(caught.value)
    assert KEY not in str(caught.value)


async def test_a_borrowed_client_is_left_open() -> None:
    async with httpx.AsyncClient() as client:
        classifier = OpenAIClassifier(KEY, client=client)
        await classifier.aclose()
        assert not client.is_closed
