"""Issue 15 point 8: no value stops capture, on every backend.

Numbers of any size and values JSON readers accept but databases refuse (NaN,
Infinity) are kept exactly in the raw JSON; the message is still stored; a
batch never loses the valid updates around one odd one; a Desktop export with a
number past 64 bits imports fully.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import make_update
from superbrain_core.errors import InputError
from superbrain_core.files import LocalFileStore
from superbrain_core.history.desktop import import_chat_id
from superbrain_core.history.importer import import_desktop_export
from superbrain_core.history.ingest import ingest_text
from superbrain_core.storage.base import Store

pytestmark = pytest.mark.anyio
CHAT = {"id": 5, "type": "private", "first_name": "A"}


def line(update_id: int, **fields: Any) -> str:
    update = make_update(update_id, message_id=update_id, chat=CHAT, text=f"m{update_id}")
    update["message"].update(fields)
    return json.dumps(update)


async def test_odd_numbers_are_kept_and_their_messages_stored(store: Store) -> None:
    text = "\n".join(
        [
            line(1),
            line(2, x=2**70, poll_total=-(2**80)),
            line(3).replace('"text"', '"nan": NaN, "inf": Infinity, "ninf": -Infinity, "text"'),
            line(4, document={"file_id": "F", "file_unique_id": "U", "file_size": 10**30}),
            line(5, message_thread_id=2**64, date=10**30),
            line(6),
        ]
    )
    tally = await ingest_text(Capturer(store), text, "odd.jsonl", batch_size=100)
    assert tally.new == 6
    for n in range(1, 7):
        msg = await store.get_message(5, n)
        assert msg is not None and msg.message_text == f"m{n}", n
    two = await store.get_message(5, 2)
    assert two is not None and two.raw_telegram_json["x"] == 2**70
    assert two.raw_telegram_json["poll_total"] == -(2**80)
    three = await store.get_update(3)
    assert three is not None
    odd = three.payload["message"]
    assert math.isnan(odd["nan"]) and odd["inf"] == math.inf and odd["ninf"] == -math.inf
    (document,) = await store.files_of_message(5, 4)
    assert document.file_size is None, "the column cannot hold it"
    four = await store.get_message(5, 4)
    assert four is not None and four.raw_telegram_json["document"]["file_size"] == 10**30
    five = await store.get_message(5, 5)
    assert five is not None and five.message_thread_id is None
    assert five.raw_telegram_json["message_thread_id"] == 2**64


async def test_an_update_id_past_64_bits_is_located_and_keeps_what_came_before(
    store: Store,
) -> None:
    text = "\n".join([line(1), line(2), '{"update_id": 18446744073709551616}', line(4)])
    with pytest.raises(InputError) as info:
        await ingest_text(Capturer(store), text, "ids.jsonl", batch_size=100)
    assert (info.value.line, info.value.column) == (3, 1)
    assert "64-bit" in info.value.reason
    assert await store.get_update(1) is not None and await store.get_update(2) is not None


async def test_an_export_with_numbers_past_64_bits_imports_fully(
    store: Store, tmp_path: Path
) -> None:
    messages = [
        {"id": 1, "type": "message", "date": "2021-06-01T09:00:00", "from": "A",
         "from_id": "user1", "text": "до"},
        {"id": 2, "type": "message", "date": "2021-06-01T09:01:00", "from": "A",
         "from_id": "user1", "media_type": "voice_message",
         "file": "(File not included. Change data exporting settings to download.)",
         "duration_seconds": 18446744073709551615, "text": ""},
        {"id": 3, "type": "message", "date": "2021-06-01T09:02:00", "from": "A",
         "from_id": "user1", "text": "",
         "poll": {"question": "Когда?", "closed": False, "total_voters": 2**70,
                  "answers": [{"text": "завтра", "voters": 2**70, "chosen": False}]}},
        {"id": 4, "type": "message", "date": "2021-06-01T09:03:00", "from": "A",
         "from_id": "user1", "text": "после"},
    ]  # fmt: skip
    export = tmp_path / "export"
    export.mkdir()
    (export / "result.json").write_text(
        json.dumps({"name": "A", "type": "personal_chat", "id": 4000009, "messages": messages}),
        encoding="utf-8",
    )
    report = await import_desktop_export(
        store, LocalFileStore(tmp_path / "files"), export / "result.json"
    )
    assert report.messages_new == 4
    chat_id = import_chat_id(4000009, "personal_chat")
    for original in messages:
        stored = await store.get_message(chat_id, original["id"])
        assert stored is not None and stored.raw_telegram_json == original, original["id"]
    poll = await store.get_message(chat_id, 3)
    assert poll is not None and "Когда" in (poll.message_text or "")
