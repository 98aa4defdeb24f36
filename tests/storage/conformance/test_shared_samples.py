"""Every real Bot API sample in ../shared/telegram_samples/bot_api is captured losslessly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from superbrain_core.capture import Capturer
from superbrain_core.history.ingest import ingest_text
from superbrain_core.storage.base import Store
from superbrain_core.telegram import MESSAGE_UPDATE_TYPES
from tests.conftest import SAMPLES_DIR

pytestmark = [pytest.mark.anyio, pytest.mark.samples]


def _as_updates(name: str, data: Any, first_id: int) -> tuple[list[dict[str, Any]], bool]:
    """The updates a sample holds, and whether the file itself is update-shaped."""
    if isinstance(data, dict) and "update_id" in data:
        return [data], True
    if isinstance(data, dict) and data.get("ok") is True:
        return list(data["result"]), True
    if isinstance(data, dict) and "message_id" in data and "chat" in data:
        return [{"update_id": first_id, "message": data}], False
    if isinstance(data, dict) and "chat_instance" in data:
        return [{"update_id": first_id, "callback_query": data}], False
    raise AssertionError(f"{name}: unrecognized sample shape")


def _sample_files() -> list[Path]:
    return sorted((SAMPLES_DIR / "bot_api").glob("*.json"))


SAMPLE_FILES = _sample_files()


@pytest.mark.parametrize(
    "path",
    SAMPLE_FILES or [pytest.param(None, id="no-samples")],
    ids=lambda p: p.stem if isinstance(p, Path) else str(p),
)
async def test_bot_api_sample_is_captured_losslessly(
    store: Store, samples_dir: Path, path: Path | None
) -> None:
    # Each sample gets an empty store: several samples reuse update_id 10000 and
    # the same chat/message ids, which a real store rightly treats as one update.
    assert path is not None, f"no samples in {samples_dir / 'bot_api'}"
    capturer = Capturer(store)
    text = path.read_text(encoding="utf-8")
    updates, update_shaped = _as_updates(path.name, json.loads(text), 10_000_000)
    if update_shaped:
        tally = await ingest_text(capturer, text, path.name)  # exactly `superbrain ingest`
        assert tally.problems == []
        assert tally.new + tally.edits == len(updates)
    else:
        for update in updates:
            await capturer.capture(update)
    for update in updates:
        raw = await store.get_update(update["update_id"])
        assert raw is not None, f"update {update['update_id']} not stored"
        assert raw.payload == update, "stored payload differs from the input"
        kind = next(k for k in update if k != "update_id")
        assert raw.update_type == kind
        if kind not in MESSAGE_UPDATE_TYPES:
            continue
        message = update[kind]
        stored = await store.get_message(message["chat"]["id"], message["message_id"])
        assert stored is not None, "message not stored"
        assert stored.message_type and stored.message_type != "unknown"
        assert stored.raw_telegram_json == message
        for field in ("text", "caption"):
            if field in message:
                assert stored.message_text == message[field], f"{field} lost"


def test_the_corpus_covers_the_message_kinds(samples_dir: Path) -> None:
    """Guards the test above: the corpus must exercise the kinds it is meant to."""
    from superbrain_core.telegram import message_type_of

    seen: set[str] = set()
    for n, path in enumerate(_sample_files()):
        updates, _ = _as_updates(path.name, json.loads(path.read_text(encoding="utf-8")), n)
        for update in updates:
            kind = next(k for k in update if k != "update_id")
            if kind in MESSAGE_UPDATE_TYPES:
                seen.add(message_type_of(update[kind]))
    expected = {
        "text",
        "photo",
        "document",
        "audio",
        "voice",
        "video",
        "video_note",
        "sticker",
        "location",
        "venue",
        "contact",
        "dice",
        "game",
        "invoice",
        "service:successful_payment",
        "service:migrate_to_chat_id",
        "service:migrate_from_chat_id",
    }
    assert expected <= seen, f"missing: {sorted(expected - seen)}"
    assert "unknown" not in seen
