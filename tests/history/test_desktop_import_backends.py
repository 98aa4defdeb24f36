"""Desktop export imports behave the same on every backend: origin, idempotency, overlap with
live capture, chains, files, the analyzer, and bad input that keeps what came before."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import make_message, make_update
from superbrain_core.errors import InputError
from superbrain_core.files import LocalFileStore, blob_path
from superbrain_core.history.desktop import export_peer_of, import_chat_id
from superbrain_core.history.importer import ImportReport, import_desktop_export
from superbrain_core.models import FileDescriptor, FileStatus, ImportedFile, ImportedMessage
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.telegram import normalize_message
from tests.conftest import SAMPLES_DIR

pytestmark = pytest.mark.anyio
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "desktop_export"
FAMILY = -1001500000001  # supergroup_2021's chat as the Bot API numbers it
# Per-account-numbered chats are stored in the import's own block of chat ids.
OLD_CHAT = import_chat_id(4000001, "personal_chat")  # single_2020
FAMILY_GROUP = import_chat_id(700001, "private_group")  # account_2023's basic group
T0 = datetime(2026, 11, 24, 20, 59, 30, tzinfo=UTC)


def export_messages(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if "messages" in data:
        return list(data["messages"])
    chats = data["chats"]["list"] + data.get("left_chats", {}).get("list", [])
    return [m for chat in chats for m in chat["messages"]]


async def run_import(store: Store, files_dir: Path, export: Path, **kwargs: Any) -> ImportReport:
    return await import_desktop_export(store, LocalFileStore(files_dir), export, **kwargs)


async def test_imported_messages_are_stored_verbatim_and_marked_as_imported(
    store: Store, tmp_path: Path
) -> None:
    export = FIXTURES / "account_2023" / "result.json"
    report = await run_import(store, tmp_path / "files", export)
    originals = export_messages(export)
    assert (report.chats, report.messages_new, report.messages_present) == (4, len(originals), 0)
    stats = await store.stats()
    assert stats.tables["raw_messages"] == len(originals)
    assert stats.tables["raw_updates"] == 0  # nobody delivered these: no update rows
    forwarded = await store.get_message(FAMILY_GROUP, 202)
    assert forwarded is not None
    assert forwarded.raw_telegram_json == next(m for m in originals if m["id"] == 202)
    assert (forwarded.source, forwarded.update_id, forwarded.version) == ("desktop_export", None, 1)
    assert forwarded.message_date == datetime(2023, 3, 1, 9, 1, tzinfo=UTC)
    assert forwarded.edit_date == datetime(2023, 3, 1, 9, 2, tzinfo=UTC)
    assert forwarded.message_text == "Сын, смотри"
    assert forwarded.entities[0]["type"] == "text_mention"
    assert forwarded.forward_origin == {
        "kind": "channel",
        "chat_id": -1000000001234,
        "name": "Новости",
    }
    venue = await store.get_message(-1000000001234, 1)
    assert venue is not None and venue.message_type == "venue"
    assert venue.raw_telegram_json["location_information"]["latitude"] == 55.751244


async def test_a_reimport_adds_nothing_and_reads_no_media(store: Store, tmp_path: Path) -> None:
    export = FIXTURES / "supergroup_2021"
    first = await run_import(store, tmp_path / "files", export)
    before = await store.stats()
    again = await run_import(store, tmp_path / "files", export)
    assert (first.messages_new, first.files_stored) == (4, 2)
    assert (again.messages_new, again.messages_present) == (0, 4)
    assert (again.files_stored, again.files_deduplicated, again.files_missing) == (0, 0, 0)
    assert await store.stats() == before


async def test_a_message_the_bot_captured_live_keeps_its_versions(
    store: Store, tmp_path: Path
) -> None:
    group = {"id": FAMILY, "type": "supergroup", "title": "Семья"}
    live = make_update(1, message_id=8, text="Встреча в субботу в 12", date=T0, chat=group)
    await Capturer(store).capture(live)
    report = await run_import(store, tmp_path / "files", FIXTURES / "supergroup_2021")
    assert (report.messages_new, report.messages_present) == (3, 1)
    (version,) = await store.message_versions(FAMILY, 8)
    assert (version.source, version.update_id) == ("bot", 1)
    assert version.raw_telegram_json == live["message"]


async def test_saved_messages_never_meet_the_bots_own_chat_with_the_same_numbers(
    store: Store, tmp_path: Path
) -> None:
    """Private chats are numbered per account: the owner's Saved Messages 5 is not the
    bot's message 5 in its chat with the owner, so neither may hide or join the other."""
    owner = {"id": 100500, "type": "private", "first_name": "Я"}
    live_root = make_message(5, text="живое сообщение 5", chat=owner)
    await Capturer(store).capture(make_update(1, message_id=5, text=live_root["text"], chat=owner))
    await Capturer(store).capture(
        make_update(2, message_id=7, text="живой ответ", chat=owner, reply_to=live_root, date=T0)
    )
    live_chain = await store.chain_of(100500, 5)
    root = tmp_path / "saved"
    root.mkdir()
    messages = [
        {"id": 5, "type": "message", "date_unixtime": "1700000000", "text": "сохранённое 5"},
        {
            "id": 6,
            "type": "message",
            "date_unixtime": "1700000060",
            "text": "ответ на сохранённое",
            "reply_to_message_id": 5,
        },
    ]
    doc = {"type": "saved_messages", "id": 100500, "messages": messages}
    (root / "result.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    report = await run_import(store, tmp_path / "files", root)
    assert (report.messages_new, report.messages_present) == (2, 0)
    saved = import_chat_id(100500, "saved_messages")
    assert export_peer_of(saved) is not None and export_peer_of(saved).export_id == 100500  # type: ignore[union-attr]
    stored = await store.get_message(saved, 5)
    assert stored is not None and stored.message_text == "сохранённое 5"
    assert stored.raw_telegram_json == messages[0]
    chain = await store.chain_of(saved, 6)
    assert chain is not None and chain.chat_id == saved
    assert (chain.original_message_id, chain.original_text) == (5, "сохранённое 5")
    assert [r.message_id for r in chain.replies] == [6]
    # The bot's chat keeps exactly what it had: its message and its own chain.
    (live,) = await store.message_versions(100500, 5)
    assert (live.source, live.message_text) == ("bot", "живое сообщение 5")
    assert await store.message_versions(100500, 6) == []
    assert await store.chain_of(100500, 5) == live_chain
    assert live_chain is not None and [r.message_id for r in live_chain.replies] == [7]


async def test_a_supergroup_import_still_meets_live_capture_on_the_same_key(
    store: Store, tmp_path: Path
) -> None:
    group = {"id": FAMILY, "type": "supergroup", "title": "Семья"}
    await Capturer(store).capture(make_update(1, message_id=9, text="живое", chat=group, date=T0))
    report = await run_import(store, tmp_path / "files", FIXTURES / "supergroup_2021")
    assert (report.messages_new, report.messages_present) == (3, 1)
    assert [v.source for v in await store.message_versions(FAMILY, 9)] == ["bot"]


async def test_imported_replies_form_one_chain(store: Store, tmp_path: Path) -> None:
    await run_import(store, tmp_path / "files", FIXTURES / "supergroup_2021")
    chain = await store.chain_of(FAMILY, 10)
    assert chain is not None
    assert (chain.original_message_id, chain.original_text) == (8, "Встреча в субботу в 12")
    assert [r.message_id for r in chain.replies] == [9, 10]
    assert chain.replies[1].text == "Не в 12, а в 13"
    assert (await store.chain_of(FAMILY, 8)) == chain


async def test_a_live_reply_to_an_old_message_joins_the_chain_the_import_completes(
    store: Store, tmp_path: Path
) -> None:
    group = {"id": FAMILY, "type": "supergroup", "title": "Семья"}
    old = make_message(8, text="Встреча в субботу в 12", chat=group)
    reply = make_update(5, message_id=11, text="Так во сколько?", chat=group, reply_to=old, date=T0)
    await Capturer(store).capture(reply)
    await run_import(store, tmp_path / "files", FIXTURES / "supergroup_2021")
    chain = await store.chain_of(FAMILY, 8)
    assert chain is not None and chain.original_message_id == 8
    # Replies are in Telegram's order (date, then id), not in arrival order.
    assert [r.message_id for r in chain.replies] == [9, 10, 11]
    root = await store.get_message(FAMILY, 8)
    assert root is not None and root.chain_id == chain.chain_id
    assert root.source == "desktop_export"


async def test_the_analyzer_claims_imported_messages(store: Store, tmp_path: Path) -> None:
    report = await run_import(store, tmp_path / "files", FIXTURES / "single_2020")
    claimed = await store.claim_work("w", limit=100, lease_until=T0 + timedelta(hours=1), now=T0)
    assert len(claimed) == report.messages_new == 6
    replies = {(w.message_id, w.target_message_id) for w in claimed}
    assert (103, 101) in replies  # a reply to a reply is filed under the chain's root


async def test_files_are_stored_by_hash_and_missing_ones_keep_their_reason(
    store: Store, tmp_path: Path
) -> None:
    files_dir = tmp_path / "files"
    sticker = (FIXTURES / "supergroup_2021" / "stickers" / "sticker.webp").read_bytes()
    await LocalFileStore(files_dir).put_bytes(sticker)  # as if the bot had downloaded it
    first = await run_import(store, files_dir, FIXTURES / "supergroup_2021")
    assert (first.files_stored, first.files_deduplicated) == (1, 1)
    rows = await store.files_of_message(FAMILY, 9)
    assert [(f.file_type, f.status) for f in rows] == [
        ("sticker", FileStatus.STORED),
        ("thumbnail", FileStatus.STORED),
    ]
    digest = hashlib.sha256(sticker).hexdigest()
    assert (rows[0].file_hash, rows[0].file_path, rows[0].file_size) == (
        digest,
        blob_path(digest),
        len(sticker),
    )
    assert rows[0].raw_metadata["export_path"] == "stickers/sticker.webp"
    assert (
        await LocalFileStore(files_dir).read(rows[1].file_hash or "")
        == (FIXTURES / "supergroup_2021" / "stickers" / "sticker.webp_thumb.jpg").read_bytes()
    )

    second = await run_import(store, files_dir, FIXTURES / "single_2020")
    assert (second.files_stored, second.files_missing) == (1, 2)
    (placeholder,) = await store.files_of_message(OLD_CHAT, 104)
    assert placeholder.status is FileStatus.MISSING
    assert placeholder.download_reason == (
        "not in the export: (File not included. Change data exporting settings to download.)"
    )
    (voice,) = await store.files_of_message(OLD_CHAT, 105)
    assert (voice.status, voice.file_type, voice.mime_type) == (
        FileStatus.MISSING,
        "voice",
        "audio/ogg",
    )
    assert voice.download_reason is not None and "not in the export folder" in voice.download_reason


def _export_with_paths(tmp_path: Path, paths: list[str]) -> Path:
    root = tmp_path / "export"
    (root / "photos").mkdir(parents=True)
    messages = [
        {"id": i, "type": "message", "date_unixtime": str(1700000000 + i), "photo": p, "text": ""}
        for i, p in enumerate(paths, start=1)
    ]
    doc = {"name": "x", "type": "personal_chat", "id": 77, "messages": messages}
    (root / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


async def test_paths_out_of_the_export_are_refused_recorded_and_never_read(
    store: Store, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"private bytes outside the export")
    root = _export_with_paths(
        tmp_path, ["../secret.jpg", str(secret), "photos/link.jpg", "photos/ok.jpg"]
    )
    (root / "photos" / "link.jpg").symlink_to(secret)
    (root / "photos" / "ok.jpg").write_bytes(b"fine")
    files_dir = tmp_path / "files"
    report = await run_import(store, files_dir, root)
    assert (report.messages_new, report.files_refused, report.files_stored) == (4, 3, 1)
    assert [line.split(":")[0] for line in report.refusals] == [
        "../secret.jpg",
        str(secret),
        "photos/link.jpg",
    ]
    reasons = []
    for message_id in (1, 2, 3):
        (row,) = await store.files_of_message(import_chat_id(77, "personal_chat"), message_id)
        assert row.status is FileStatus.MISSING and row.file_hash is None
        reasons.append(row.download_reason)
    assert reasons == [
        "refused: it points outside the export folder",
        "refused: absolute paths are not allowed",
        "refused: it points outside the export folder",
    ]
    assert not await LocalFileStore(files_dir).exists(
        hashlib.sha256(secret.read_bytes()).hexdigest()
    )


async def test_a_truncated_export_keeps_every_batch_before_the_cut(
    store: Store, tmp_path: Path
) -> None:
    text = (FIXTURES / "single_2020" / "result.json").read_bytes()
    cut = text.index(b'"id": 106')
    partial = tmp_path / "partial" / "result.json"
    partial.parent.mkdir()
    partial.write_bytes(text[:cut])
    with pytest.raises(InputError, match="looks truncated") as caught:
        await run_import(store, tmp_path / "files", partial, batch_size=2)
    assert caught.value.offset == cut
    assert "after message 105" in caught.value.reason
    for message_id in range(101, 106):
        assert await store.get_message(OLD_CHAT, message_id) is not None
    assert await store.get_message(OLD_CHAT, 106) is None
    shutil.copytree(FIXTURES / "single_2020", tmp_path / "whole")
    rerun = await run_import(store, tmp_path / "files", tmp_path / "whole", batch_size=2)
    assert (rerun.messages_new, rerun.messages_present) == (1, 5)


def _bad_values_export(root: Path) -> None:
    """Messages 1, 6 and 7 are fine; 2-5 each hold one value no column (or the parser's
    memory) can take. Written by hand: ``json.dumps`` cannot nest 1,000 deep. (A bare
    number past 64 bits is a JSON error to the C parser, so it is not here.)"""

    def message(i: int, **fields: Any) -> str:
        body = {"id": i, "type": "message", "date_unixtime": str(1700000000 + i), "text": f"m{i}"}
        return json.dumps({**body, **fields})

    deep = '{"k": ' * 1000 + "1" + "}" * 1000
    parts = [
        message(1),
        message(2, from_id="user99999999999999999999"),
        message(3, date_unixtime="99999999999999999"),
        message(4, edited_unixtime="-99999999999999"),
        message(5)[:-1] + ', "deep": ' + deep + "}",
        message(6, reply_to_message_id="x", edited="1970-01-01T03:00:00"),
        message(7),
    ]
    root.mkdir()
    text = '{"name": "x", "type": "personal_chat", "id": 9, "messages": [' + ",".join(parts)
    (root / "result.json").write_text(text + "]}", encoding="utf-8")


async def test_a_bad_value_is_one_messages_problem_and_the_rest_is_stored(
    store: Store, tmp_path: Path
) -> None:
    _bad_values_export(tmp_path / "export")
    report = await run_import(store, tmp_path / "files", tmp_path / "export", batch_size=2)
    chat_id = import_chat_id(9, "personal_chat")
    where = "chat 'x' (id 9, personal_chat), message"
    assert report.problems == [
        f"{where} 2: from_id does not fit 64 bits; stored without it",
        f"{where} 3: no readable date; stored as 1970-01-01",
        f"{where} 4: unreadable edit date; stored as not edited",
        f"{where} 5: nested more than 64 levels deep; skipped",
    ]
    assert report.messages_new == 6
    for message_id in (1, 2, 3, 4, 6, 7):
        stored = await store.get_message(chat_id, message_id)
        assert stored is not None and stored.message_text == f"m{message_id}"
    sender = await store.get_message(chat_id, 2)
    assert sender is not None and sender.user_id is None
    assert sender.raw_telegram_json["from_id"] == "user99999999999999999999"
    dated = await store.get_message(chat_id, 3)
    assert dated is not None and dated.message_date == datetime(1970, 1, 1, tzinfo=UTC)
    edited = await store.get_message(chat_id, 4)
    assert edited is not None and edited.edit_date is None
    assert await store.get_message(chat_id, 5) is None


async def test_each_batchs_problems_are_reported_with_that_batch(
    store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    root.mkdir()
    messages = [
        {"id": 1, "type": "message", "text": "no date"},
        {"id": 2, "type": "message", "date_unixtime": "1700000000", "text": "fine"},
        {"id": 3, "type": "message", "text": "no date either"},
    ]
    doc = {"name": "x", "type": "personal_chat", "id": 9, "messages": messages}
    (root / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    seen: list[tuple[int, int]] = []
    await run_import(
        store,
        tmp_path / "files",
        root,
        batch_size=1,
        on_progress=lambda r: seen.append((r.messages_new, len(r.problems))),
    )
    assert seen == [(1, 1), (2, 1), (3, 2)]


@pytest.mark.parametrize(
    ("bad", "reason", "where"),
    [
        ("oops", "a message is a JSON str, not an object", "after message 1"),
        ({"id": "2", "type": "message"}, "message has no integer id", "in message '2'"),
    ],
)
async def test_a_message_that_cannot_be_keyed_stops_the_import_after_storing_the_rest(
    store: Store, tmp_path: Path, bad: Any, reason: str, where: str
) -> None:
    root = tmp_path / "export"
    root.mkdir()
    messages: list[Any] = [{"id": 1, "type": "message", "date_unixtime": "1700000000", "text": "a"}]
    messages += [bad, {"id": 3, "type": "message", "text": "c"}]
    doc = {"name": "x", "type": "personal_chat", "id": 9, "messages": messages}
    (root / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        await run_import(store, tmp_path / "files", root)
    assert caught.value.reason.startswith(reason + " (somewhere in bytes 0-")
    assert caught.value.reason.endswith(f"; chat 'x' (id 9, personal_chat), {where}")
    assert await store.get_message(import_chat_id(9, "personal_chat"), 1) is not None
    assert await store.get_message(import_chat_id(9, "personal_chat"), 3) is None


async def test_a_file_that_is_not_an_export_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "updates.json"
    path.write_text(json.dumps([make_update(1, message_id=1, text="x")]), encoding="utf-8")
    with pytest.raises(InputError, match="no chats with messages found"):
        await run_import(store, tmp_path / "files", path)


# -- the store method itself ----------------------------------------------------------


def _message(chat_id: int, message_id: int, text: str, **fields: Any) -> ImportedMessage:
    raw = make_message(message_id, text=text, chat={"id": chat_id, "type": "private"}, **fields)
    return ImportedMessage(normalize_message(raw))


async def test_import_messages_reports_per_message_and_skips_known_keys(store: Store) -> None:
    result = await store.import_messages(
        [_message(5, 1, "a"), _message(5, 2, "b"), _message(5, 1, "a")]
    )
    assert result.raw_message_ids[2] is None
    assert (result.new, result.present) == (2, 1)
    assert await store.stored_message_keys([(5, 1), (5, 3), (6, 1)]) == {(5, 1)}
    again = await store.import_messages([_message(5, 2, "changed")], CaptureOptions(source="other"))
    assert again.raw_message_ids == (None,)
    (stored,) = await store.message_versions(5, 2)
    assert (stored.message_text, stored.source) == ("b", "desktop_export")
    assert (await store.import_messages([])).raw_message_ids == ()


async def test_import_messages_stores_files_with_the_status_they_come_with(store: Store) -> None:
    photo = FileDescriptor("photo", None, None, width=10, height=10, raw={"export_path": "a.jpg"})
    voice = FileDescriptor("voice", None, None, mime_type="audio/ogg", raw={})
    item = _message(5, 1, "с файлами")
    item = ImportedMessage(
        item.message,
        (
            ImportedFile(
                photo, FileStatus.STORED, file_hash="ab" * 32, file_path=blob_path("ab" * 32)
            ),
            ImportedFile(
                voice, FileStatus.MISSING, reason="not in the export: (File not included.)"
            ),
        ),
    )
    await store.import_messages([item], CaptureOptions(source="desktop_export", bot_id=3))
    rows = await store.files_of_message(5, 1)
    assert [(r.file_type, r.status, r.file_hash, r.download_reason) for r in rows] == [
        ("photo", FileStatus.STORED, "ab" * 32, None),
        ("voice", FileStatus.MISSING, None, "not in the export: (File not included.)"),
    ]
    assert rows[0].raw_metadata == {"export_path": "a.jpg"}


# -- the shared samples ---------------------------------------------------------------


SAMPLE_FILES = sorted((SAMPLES_DIR / "desktop_export").glob("*.json"))


@pytest.mark.samples
@pytest.mark.parametrize(
    "path",
    SAMPLE_FILES or [pytest.param(None, id="no-samples")],
    ids=lambda p: p.stem if isinstance(p, Path) else str(p),
)
async def test_every_shared_desktop_export_imports_losslessly(
    store: Store, samples_dir: Path, tmp_path: Path, path: Path | None
) -> None:
    assert path is not None, f"no exports in {samples_dir / 'desktop_export'}"
    # The samples are bare result.json files beside each other: copy one into a
    # folder of its own, as an export is, so no sample's paths reach another's.
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copyfile(path, folder / "result.json")
    report = await run_import(store, tmp_path / "files", folder, timezone="Asia/Tashkent")
    originals = export_messages(path)
    assert report.messages_new == len(originals) and report.problems == []
    assert report.files_refused == 0
    data = json.loads(path.read_text(encoding="utf-8"))
    chats = data["chats"]["list"] if "chats" in data else [data]
    assert report.chats == len(chats)
    for chat in chats:
        chat_id = import_chat_id(chat["id"], chat["type"])
        for original in chat["messages"]:
            stored = await store.get_message(chat_id, original["id"])
            assert stored is not None, f"{chat['type']} {original['id']} not stored"
            assert stored.raw_telegram_json == original
            assert stored.message_type != "unknown" or not original.get("text")
            assert stored.source == "desktop_export"
    again = await run_import(store, tmp_path / "files", folder, timezone="Asia/Tashkent")
    assert (again.messages_new, again.messages_present) == (0, len(originals))


def test_the_samples_cover_every_era(samples_dir: Path) -> None:
    """Guards the test above: the corpus must hold 2020 (numeric ids) and 2021+ exports."""
    texts = [
        p.read_text(encoding="utf-8")
        for p in sorted((samples_dir / "desktop_export").glob("*.json"))
    ]
    assert any('"from_id": 1' in t or '"from_id": 2' in t for t in texts), "no numeric from_id era"
    assert any('"from_id": "user' in t for t in texts), "no user-prefixed era"
    assert any('"date_unixtime"' in t for t in texts), "no date_unixtime era"
    assert any('"type": "service"' in t for t in texts), "no service messages"
    assert os.path.isdir(samples_dir / "desktop_export")
