"""The owner's examples: similarity, the rules following one, few-shot in remote requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs
import pytest

from superbrain_core.analyzer.classify.examples import (
    OWNER_MATCH,
    ExampleIndex,
    content_lemmas,
    examples_of,
)
from superbrain_core.analyzer.classify.openai import system_prompt, user_content
from superbrain_core.analyzer.classify.rules import RulesClassifier
from superbrain_core.analyzer.classify.schema import (
    ChainMessage,
    Classification,
    ClassifierInput,
    EventKind,
    ItemType,
    Precedent,
)
from superbrain_core.analyzer.classify.webhook import WebhookClassifier

SENT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RULES = RulesClassifier()
INDEX = ExampleIndex(
    examples_of(
        [
            ("шины на зимние у Коли в гараже", "task"),
            ("рецепт борща от бабушки", "link"),
            ("йога с Леной по средам", "event"),
        ]
    )
)


def item(text: str, *replies: str) -> ClassifierInput:
    chain = [ChainMessage(message_id=1, text=text, date=SENT)]
    chain += [
        ChainMessage(message_id=2 + n, text=r, date=SENT, reply_to_message_id=1)
        for n, r in enumerate(replies)
    ]
    base = ClassifierInput(
        chat_id=42,
        message_id=1,
        user_id=7,
        message_type="text",
        text=text,
        message_date=SENT,
        chain=tuple(chain),
    )
    return attrs.evolve(base, examples=INDEX.nearest(text))


def test_lemmas_make_word_forms_one_word_and_drop_function_words() -> None:
    assert content_lemmas("Шины на зимние у Коли, в гараже 2 шт") == {
        "шина",
        "зимний",
        "коли",
        "гараж",
    }
    assert content_lemmas("про это и то") == frozenset()


def test_nearest_is_ranked_and_only_shares_words() -> None:
    (first, *rest) = INDEX.nearest("шины на летние у Коли в гараже")
    assert (first.text, first.type, first.source) == (
        "шины на зимние у Коли в гараже",
        ItemType.TASK,
        "0:1",
    )
    assert first.similarity == pytest.approx(0.6)
    assert rest == []
    assert INDEX.nearest("совсем другое сообщение") == ()
    assert INDEX.nearest(None) == () and ExampleIndex(()).nearest("шины") == ()
    assert len(INDEX.nearest("шины борща йога", k=2)) == 2


def test_the_rules_follow_a_close_example_and_say_so() -> None:
    result = RULES.classify_sync(item("шины на летние у Коли в гараже"))
    assert result.type is ItemType.TASK and result.owner_example == "0:1"
    assert result.confidence >= 0.8 and not result.needs_clarification
    assert Classification.from_json(result.to_json()) == result
    # Without examples the same message is a note.
    plain = attrs.evolve(item("шины на летние у Коли в гараже"), examples=())
    assert RULES.classify_sync(plain).type is ItemType.NOTE
    assert "owner_example" not in RULES.classify_sync(plain).to_json()


def test_an_event_example_keeps_its_kind_and_asks_for_a_missing_date() -> None:
    dated = RULES.classify_sync(item("йога с Леной по четвергам"))
    assert dated.type is ItemType.EVENT and dated.owner_example == "0:3"
    undated = RULES.classify_sync(item("йога с Леной"))
    assert undated.type is ItemType.EVENT and undated.question == "Когда?"


def test_too_far_an_example_an_owners_word_or_a_secret_outranks_it() -> None:
    far = RULES.classify_sync(item("рецепт пирога от бабушки Нины"))  # shares 2 of 5
    assert far.owner_example is None
    corrected = RULES.classify_sync(item("шины на летние у Коли в гараже", "это заметка"))
    assert corrected.type is ItemType.NOTE and corrected.owner_example is None
    secret = RULES.classify_sync(item("шины в гараже у Коли, код замка 4590"))
    assert secret.sensitive and secret.type is ItemType.NOTE
    strict = RulesClassifier(owner_match=0.9)
    assert strict.classify_sync(item("шины на летние у Коли в гараже")).owner_example is None
    assert 0 < OWNER_MATCH < 1


def test_remote_classifiers_get_the_examples_few_shot() -> None:
    example = Precedent(
        "йога с Леной по средам", ItemType.EVENT, {"event_kind": "other"}, 0.6, "42:7"
    )
    with_examples = attrs.evolve(item("йога с Леной по пятницам"), examples=(example,))
    sent = json.loads(user_content(with_examples))
    assert sent["owner_examples"] == [
        {"text": "йога с Леной по средам", "type": "event", "event_kind": EventKind.OTHER.value}
    ]
    assert "owner_examples" in system_prompt("Europe/Moscow")
    assert "owner_examples" not in json.loads(
        user_content(attrs.evolve(with_examples, examples=()))
    )
    body = WebhookClassifier("http://127.0.0.1:9").request_body(with_examples)
    assert body["owner_examples"] == [example.to_json()]
