"""``normalize_update`` on valid, mutated and hostile updates: a normalized update whose
every column value a 64-bit column can hold, or ``NotAnUpdateError``; never anything else,
and the payload is neither changed nor copied."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given

from superbrain_core import jsonutil
from superbrain_core.errors import NotAnUpdateError
from superbrain_core.models import NormalizedUpdate
from superbrain_core.telegram import MESSAGE_UPDATE_TYPES, normalize_update
from tests.fuzz import strategies as s
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.support import assert_clear_error, same_json


def fits(value: int | None) -> bool:
    return value is None or (isinstance(value, int) and s.INT64_MIN <= value <= s.INT64_MAX)


def encodable(text: str) -> bool:
    """Whether ``text`` can be stored in a UTF-8 text column (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_normalized(payload: Any, result: NormalizedUpdate) -> None:
    """What storage relies on: keys and columns that fit, text that is text."""
    assert result.payload is payload, "the verbatim payload travels along, not a copy"
    assert result.update_id == payload["update_id"] and fits(result.update_id)
    assert isinstance(result.update_type, str)
    msg = result.message
    assert encodable(result.update_type), "the kind is stored as text"
    if msg is None:
        assert result.update_type not in MESSAGE_UPDATE_TYPES or result.problem
        return
    assert result.update_type in MESSAGE_UPDATE_TYPES
    assert same_json(msg.raw, payload[result.update_type])
    assert isinstance(msg.chat_id, int) and fits(msg.chat_id)
    assert isinstance(msg.message_id, int) and fits(msg.message_id)
    for value in (msg.user_id, msg.reply_to_message_id, msg.message_thread_id):
        assert fits(value)
    for file in msg.files:
        assert fits(file.file_size) and fits(file.width) and fits(file.height)
        assert fits(file.duration)
    if msg.forward_origin is not None:
        origin = msg.forward_origin
        assert fits(origin.user_id) and fits(origin.chat_id) and fits(origin.message_id)
    for text in (msg.text, msg.reply_to_text, msg.media_group_id):
        assert text is None or isinstance(text, str)
    # Strings with a column of their own can be stored as UTF-8 text.
    labels = [result.update_type, msg.media_group_id]
    labels += [
        v for f in msg.files for v in (f.file_id, f.file_unique_id, f.file_name, f.mime_type)
    ]
    for label in labels:
        assert label is None or encodable(label), label
    assert isinstance(msg.message_type, str) and msg.message_type
    assert all(isinstance(e, dict) for e in msg.entities)


def normalize_checked(payload: Any, *, deep: bool = False) -> NormalizedUpdate | None:
    """Normalize ``payload`` and check the outcome; ``deep`` payloads (past the recursion
    limit) are not copied to check they were left alone: copying them would recurse."""
    before = None if deep else copy.deepcopy(payload)
    error: Exception | None = None
    result: NormalizedUpdate | None = None
    try:
        result = normalize_update(payload)
    except Exception as exc:
        error = exc
    if error is not None:
        assert_clear_error(error)
        assert isinstance(error, NotAnUpdateError), f"{type(error).__name__}: {error}"
        assert error.reason
    else:
        assert result is not None
        check_normalized(payload, result)
    assert deep or same_json(payload, before), "normalization changed its input"
    return result


@fuzz_settings()
@given(payload=s.valid_updates)
def test_valid_updates_normalize_with_their_message(payload: dict[str, Any]) -> None:
    result = normalize_checked(payload)
    assert result is not None
    kind = result.update_type
    if kind in MESSAGE_UPDATE_TYPES:
        assert result.problem is None, result.problem
        assert result.message is not None
        assert result.message.chat_id == payload[kind]["chat"]["id"]
        assert result.message.message_id == payload[kind]["message_id"]
    # What is stored is exactly what came in.
    assert same_json(jsonutil.loads(jsonutil.dumps(payload)), payload)


@fuzz_settings()
@given(payload=s.mutated_updates)
def test_mutated_updates_normalize_or_are_refused_clearly(payload: Any) -> None:
    normalize_checked(payload)


@fuzz_settings()
@given(payload=s.field_mutated_updates)
def test_each_field_with_a_wrong_value_normalizes_or_is_refused(payload: Any) -> None:
    normalize_checked(payload)


@pytest.mark.parametrize(
    ("base", "path"),
    s.field_mutations(),
    ids=lambda v: "/".join(map(str, v)) if isinstance(v, tuple) else v,
)
def test_every_field_of_every_wrong_type(base: str, path: tuple[Any, ...]) -> None:
    """Exhaustive where the strategies sample: each field normalization reads, given each
    of :data:`strategies.WRONG_VALUES` in turn."""
    for value in s.WRONG_VALUES:
        normalize_checked(s.with_value(base, path, value))


@fuzz_settings()
@given(payload=s.hostile_updates)
def test_hostile_updates_normalize_or_are_refused_clearly(payload: Any) -> None:
    normalize_checked(payload)


@fuzz_settings(scale=0.5)
@given(payload=s.big_int_updates())
def test_integers_past_64_bits_never_reach_a_column(payload: dict[str, Any]) -> None:
    result = normalize_checked(payload)
    if result is None:
        assert not fits(payload["update_id"]) or not isinstance(payload["update_id"], int)


@pytest.mark.parametrize("depth", [s.DEEP, s.VERY_DEEP])
def test_deep_nesting_is_normalized_without_recursing(depth: int) -> None:
    deep = depth > s.DEEP
    payload = {"update_id": 1, "message": s.nested(depth)}
    result = normalize_checked(payload, deep=deep)
    assert result is not None and result.problem is not None
    inner = {"message_id": 1, "chat": {"id": 1}, "x": s.nested(depth)}
    result = normalize_checked({"update_id": 1, "message": inner}, deep=deep)
    assert result is not None and result.message is not None


@pytest.mark.samples
def test_every_shared_sample_normalizes(samples_dir: object) -> None:
    assert s.SAMPLE_UPDATES, "the shared Bot API samples hold updates"
    for payload in s.SAMPLE_UPDATES:
        result = normalize_checked(copy.deepcopy(payload))
        assert result is not None
        if result.update_type in MESSAGE_UPDATE_TYPES:
            assert result.message is not None, (payload, result.problem)


# -- failures found here and fixed in telegram.py: the minimal examples ---------------------


@pytest.mark.parametrize("options", [None, 5, 1.5, True, {"text": "a"}, "ab"])
@pytest.mark.parametrize("where", ["message", "reply_to_message", "external_reply"])
def test_a_poll_whose_options_are_not_a_list_keeps_its_question(options: Any, where: str) -> None:
    """Was ``TypeError: 'int' object is not iterable`` from ``text_of``."""
    poll = {"question": "Когда?", "options": options}
    message: dict[str, Any] = {"message_id": 1, "chat": {"id": 1, "type": "private"}, "date": 1}
    if where == "message":
        message["poll"] = poll
    else:
        message[where] = {"message_id": 2, "chat": {"id": 1}, "poll": poll}
    result = normalize_checked({"update_id": 1, "message": message})
    assert result is not None and result.message is not None
    text = result.message.text if where == "message" else result.message.reply_to_text
    assert text == "Когда?"


@pytest.mark.parametrize("kind", [[], {}, ["channel"], 5, None])
def test_a_legacy_forward_whose_type_is_not_a_string_is_from_a_user(kind: Any) -> None:
    """Was ``TypeError: unhashable type: 'list'`` from ``forward_origin_of``."""
    message = {
        "message_id": 1,
        "chat": {"id": 1, "type": "private"},
        "date": 1,
        "forward_date": 2,
        "forward_from": {"id": 5, "first_name": "Олег", "type": kind},
        "text": "x",
    }
    result = normalize_checked({"update_id": 1, "message": message})
    assert result is not None and result.message is not None
    origin = result.message.forward_origin
    assert origin is not None and (origin.kind, origin.user_id, origin.name) == ("user", 5, "Олег")
