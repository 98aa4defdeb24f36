"""Storage behaviour every backend must have: capture, idempotency, versions, chains, files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import BOT_USER, OWNER_ID, fake_file, make_message, make_update
from superbrain_core.files import LocalFileStore, attach_bytes, iter_chunks
from superbrain_core.models import BotResponseIn, CaptureOutcome, FileStatus
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.telegram import normalize_update

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 20, 59, 30, tzinfo=UTC)


async def cap(store: Store, payload: dict, **opts: object) -> object:
    return await Capturer(store, CaptureOptions(**opts)).capture(payload)  # type: ignore[arg-type]


async def test_capture_stores_update_verbatim_and_message_fields(store: Store) -> None:
    payload = make_update(
        1,
        message_id=10,
        text="Купить хлеб",
        date=T0,
        entities=[{"type": "bold", "offset": 0, "length": 6}],
    )
    payload["message"]["some_future_field"] = {"nested": [1, None, "x"]}
    result = await cap(store, payload)
    assert result.outcome is CaptureOutcome.NEW and result.version == 1
    raw = await store.get_update(1)
    assert raw is not None and raw.payload == payload and raw.update_type == "message"
    msg = await store.get_message(OWNER_ID, 10)
    assert msg is not None
    assert (msg.message_text, msg.message_type, msg.user_id, msg.chat_id) == (
        "Купить хлеб",
        "text",
        OWNER_ID,
        OWNER_ID,
    )
    assert msg.message_date == T0 and msg.message_date.tzinfo is not None
    assert msg.raw_telegram_json == payload["message"]
    assert msg.entities == [{"type": "bold", "offset": 0, "length": 6}]
    assert not msg.is_processed and msg.processed_at is None
    assert msg.update_id == 1


async def test_same_update_twice_adds_nothing(store: Store) -> None:
    payload = make_update(2, message_id=11, text="раз", date=T0)
    first = await cap(store, payload)
    second = await cap(store, payload)
    assert (first.outcome, second.outcome) == (CaptureOutcome.NEW, CaptureOutcome.DUPLICATE)
    stats = await store.stats()
    assert stats.tables["raw_updates"] == 1 and stats.tables["raw_messages"] == 1


async def test_update_id_is_unique_per_bot(store: Store) -> None:
    payload = make_update(3, message_id=12, text="x", date=T0)
    assert (await cap(store, payload, bot_id=1)).outcome is CaptureOutcome.NEW
    assert (await cap(store, payload, bot_id=2)).outcome is CaptureOutcome.DUPLICATE, (
        "the same message version via another bot is not a new version"
    )
    assert (await store.stats()).tables["raw_updates"] == 2
    assert await store.get_update(3, bot_id=2) is not None


async def test_message_id_is_unique_only_within_a_chat(store: Store) -> None:
    other_chat = {"id": -500, "type": "group", "title": "G"}
    await cap(store, make_update(4, message_id=1, text="в личке", date=T0))
    await cap(store, make_update(5, message_id=1, text="в группе", date=T0, chat=other_chat))
    assert (await store.get_message(OWNER_ID, 1)).message_text == "в личке"  # type: ignore[union-attr]
    assert (await store.get_message(-500, 1)).message_text == "в группе"  # type: ignore[union-attr]


async def test_edits_add_versions_and_never_overwrite(store: Store) -> None:
    await cap(store, make_update(10, message_id=20, text="встреча в 10", date=T0))
    edit1 = make_update(
        11,
        "edited_message",
        message_id=20,
        text="встреча в 11",
        date=T0,
        edit_date=int(T0.timestamp()) + 60,
    )
    edit2 = make_update(
        12,
        "edited_message",
        message_id=20,
        text="встреча в 12",
        date=T0,
        edit_date=int(T0.timestamp()) + 120,
    )
    r1 = await cap(store, edit1)
    r2 = await cap(store, edit2)
    assert (r1.outcome, r1.version, r2.version) == (CaptureOutcome.EDIT, 2, 3)
    assert (await cap(store, edit2)).outcome is CaptureOutcome.DUPLICATE
    same_edit_other_update = dict(edit2, update_id=13)
    again = await cap(store, same_edit_other_update)
    assert again.outcome is CaptureOutcome.DUPLICATE and again.version == 3
    versions = await store.message_versions(OWNER_ID, 20)
    assert [v.message_text for v in versions] == ["встреча в 10", "встреча в 11", "встреча в 12"]
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[0].edit_date is None and versions[2].edit_date == T0 + timedelta(seconds=120)
    assert (await store.get_message(OWNER_ID, 20)).version == 3  # type: ignore[union-attr]


async def test_reply_to_reply_depth_three_joins_the_root_chain(store: Store) -> None:
    root = make_message(30, text="Позвонить маме", date=T0)
    await cap(store, {"update_id": 20, "message": root})
    parent = root
    for i, text in enumerate(["завтра", "после обеда", "в 15:00"], start=1):
        reply = make_message(30 + i, text=text, date=T0 + timedelta(minutes=i), reply_to=parent)
        result = await cap(store, {"update_id": 20 + i, "message": reply})
        assert result.chain_id is not None
        parent = reply
    chain = await store.chain_of(OWNER_ID, 33)
    assert chain is not None
    assert chain.original_message_id == 30 and chain.original_text == "Позвонить маме"
    assert [r.message_id for r in chain.replies] == [31, 32, 33]
    assert [r.text for r in chain.replies] == ["завтра", "после обеда", "в 15:00"]
    assert chain.replies[2].reply_to_message_id == 32
    assert (await store.chain_of(OWNER_ID, 30)) == chain
    reply_rows = [await store.get_message(OWNER_ID, m) for m in (31, 32, 33)]
    assert all(
        r is not None and r.is_clarification and r.chain_id == chain.chain_id for r in reply_rows
    )
    assert (await store.stats()).tables["message_chains"] == 1


async def test_reply_to_bot_message_resolves_to_the_user_message(store: Store) -> None:
    await cap(store, make_update(40, message_id=50, text="Встреча с Олегом завтра", date=T0))
    sent = await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID,
            message_id=51,
            response_text="Это встреча или задача?",
            related_user_message_id=50,
            method="sendMessage",
        )
    )
    assert sent.chain_id is None, "no chain exists until someone replies"
    question = make_message(51, text="Это встреча или задача?", date=T0, sender=BOT_USER)
    result = await cap(
        store,
        make_update(
            41, message_id=52, text="задача", date=T0 + timedelta(minutes=1), reply_to=question
        ),
    )
    chain = await store.chain_of(OWNER_ID, 52)
    assert chain is not None and result.chain_id == chain.chain_id
    assert chain.original_message_id == 50 and chain.original_text == "Встреча с Олегом завтра"
    assert [(r.message_id, r.reply_to_text) for r in chain.replies] == [
        (52, "Это встреча или задача?")
    ]
    (response,) = await store.bot_responses(OWNER_ID)
    assert response.chain_id == chain.chain_id
    # A further bot answer in the same conversation links to the chain straight away.
    later = await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID,
            message_id=53,
            response_text="Понял, задача.",
            related_user_message_id=52,
        )
    )
    assert later.chain_id == chain.chain_id


async def test_reply_to_unlinked_bot_message_roots_at_it(store: Store) -> None:
    await store.record_bot_response(
        BotResponseIn(chat_id=OWNER_ID, message_id=60, response_text="Доброе утро! План на день?")
    )
    question = make_message(60, text="Доброе утро! План на день?", date=T0, sender=BOT_USER)
    await cap(
        store, make_update(50, message_id=61, text="спортзал и отчёт", date=T0, reply_to=question)
    )
    chain = await store.chain_of(OWNER_ID, 61)
    assert chain is not None and chain.original_message_id == 60
    assert chain.original_text == "Доброе утро! План на день?"


async def test_reply_to_unseen_message_roots_at_it_with_its_text(store: Store) -> None:
    unseen = make_message(
        70, photo=[fake_file("photo", "p", 10, width=1, height=1)], date=T0 - timedelta(days=30)
    )
    await cap(
        store, make_update(60, message_id=71, text="это чек за ремонт", date=T0, reply_to=unseen)
    )
    chain = await store.chain_of(OWNER_ID, 70)
    assert chain is not None
    assert (chain.original_message_id, chain.original_text) == (70, "[photo]")
    # When the root itself arrives later (a replay, an import), it joins its chain.
    result = await cap(store, {"update_id": 59, "message": unseen})
    assert result.chain_id == chain.chain_id


async def test_edited_reply_and_root_update_the_chain_in_place(store: Store) -> None:
    root = make_message(80, text="купить", date=T0)
    reply = make_message(81, text="молоко", date=T0, reply_to=root)
    await cap(store, {"update_id": 70, "message": root})
    await cap(store, {"update_id": 71, "message": reply})
    await cap(
        store, {"update_id": 72, "message": make_message(82, text="и хлеб", date=T0, reply_to=root)}
    )
    edited_reply = dict(reply, text="молоко 2 л", edit_date=int(T0.timestamp()) + 5)
    await cap(store, {"update_id": 73, "edited_message": edited_reply})
    edited_root = dict(root, text="купить в магазине", edit_date=int(T0.timestamp()) + 9)
    await cap(store, {"update_id": 74, "edited_message": edited_root})
    chain = await store.chain_of(OWNER_ID, 80)
    assert chain is not None
    assert chain.original_text == "купить в магазине"
    assert [(r.message_id, r.text) for r in chain.replies] == [(81, "молоко 2 л"), (82, "и хлеб")]
    assert [v.message_text for v in await store.message_versions(OWNER_ID, 81)] == [
        "молоко",
        "молоко 2 л",
    ]


async def test_concurrent_replies_are_never_lost(store: Store, store_factory) -> None:  # type: ignore[no-untyped-def]
    root = make_message(100, text="Список покупок", date=T0)
    await cap(store, {"update_id": 100, "message": root})
    n = 40

    async def writer(target: Store, start: int) -> None:
        for i in range(start, n, 2):
            reply = make_message(200 + i, text=f"пункт {i}", date=T0, reply_to=root)
            await cap(target, {"update_id": 200 + i, "message": reply})

    async with store_factory() as second:
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer, store, 0)
            tg.start_soon(writer, second, 1)
    chain = await store.chain_of(OWNER_ID, 100)
    assert chain is not None
    assert sorted(r.message_id for r in chain.replies) == [200 + i for i in range(n)]


async def test_files_are_described_at_capture_time(store: Store) -> None:
    sizes = [
        fake_file("photo", "s", 100, width=10, height=10),
        fake_file("photo", "l", 5000, width=100, height=100),
    ]
    r = await cap(store, make_update(300, message_id=300, date=T0, photo=sizes, caption="фото"))
    big = fake_file(
        "document", "big", 30 * 1024 * 1024, file_name="видео.mkv", mime_type="video/x-matroska"
    )
    await cap(store, make_update(301, message_id=301, date=T0, document=big))
    (photo,) = await store.files_of_message(OWNER_ID, 300)
    assert r.file_row_ids == (photo.id,)
    assert (photo.file_type, photo.file_size, photo.status) == ("photo", 5000, FileStatus.PENDING)
    assert photo.file_unique_id == sizes[1]["file_unique_id"] and photo.raw_metadata == sizes[1]
    assert photo.file_hash is None, "no bytes yet: only the descriptor"
    (doc,) = await store.files_of_message(OWNER_ID, 301)
    assert doc.status is FileStatus.TOO_LARGE and doc.file_name == "видео.mkv"
    assert doc.download_reason is not None and "20971520" in doc.download_reason
    # A caption edit carries the same photo: no second file row.
    edit = make_update(
        302,
        "edited_message",
        message_id=300,
        date=T0,
        edit_date=int(T0.timestamp()) + 1,
        photo=sizes,
        caption="фото!",
    )
    assert (await cap(store, edit)).file_row_ids == ()
    assert len(await store.files_of_message(OWNER_ID, 300)) == 1


async def test_download_limit_is_configurable(store: Store) -> None:
    doc = fake_file("document", "mid", 2_000_000)
    await cap(
        store, make_update(310, message_id=310, date=T0, document=doc), max_download_bytes=1_000_000
    )
    await cap(
        store, make_update(311, message_id=311, date=T0, document=doc), max_download_bytes=None
    )
    assert (await store.files_of_message(OWNER_ID, 310))[0].status is FileStatus.TOO_LARGE
    assert (await store.files_of_message(OWNER_ID, 311))[0].status is FileStatus.PENDING


async def test_album_keeps_every_file_and_the_caption(store: Store) -> None:
    for i in range(3):
        fields = {"caption": "Дача"} if i == 0 else {}
        photo = [fake_file("photo", f"album-{i}", 1000 + i, width=10, height=10)]
        await cap(
            store,
            make_update(
                320 + i, message_id=320 + i, date=T0, media_group_id="alb", photo=photo, **fields
            ),
        )
    msgs = [await store.get_message(OWNER_ID, 320 + i) for i in range(3)]
    assert [m.media_group_id for m in msgs] == ["alb"] * 3  # type: ignore[union-attr]
    assert msgs[0].message_text == "Дача"  # type: ignore[union-attr]
    assert len((await store.stats()).file_statuses) == 1
    assert (await store.stats()).tables["raw_files"] == 3


async def test_same_bytes_in_two_messages_are_stored_once(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = [fake_file("photo", "same", 6, width=1, height=1)]
    await cap(store, make_update(330, message_id=330, date=T0, photo=photo))
    await cap(
        store,
        make_update(
            331,
            message_id=331,
            date=T0,
            photo=photo,
            forward_origin={"type": "hidden_user", "date": 1, "sender_user_name": "X"},
        ),
    )
    files = LocalFileStore(tmp_path / "files")
    pending = await store.list_files(status=FileStatus.PENDING)
    assert len(pending) == 2
    blobs = [await attach_bytes(store, files, f, iter_chunks(b"abcdef", 4)) for f in pending]
    assert [b.created for b in blobs] == [True, False]
    assert blobs[0].sha256 == blobs[1].sha256
    stored = [(await store.files_of_message(OWNER_ID, m))[0] for m in (330, 331)]
    assert {s.file_hash for s in stored} == {blobs[0].sha256}
    assert all(s.status is FileStatus.STORED and s.file_path == blobs[0].path for s in stored)
    assert await files.read(blobs[0].sha256) == b"abcdef"
    assert len([p for p in (tmp_path / "files").rglob("*") if p.is_file()]) == 1


async def test_size_mismatch_marks_the_file_failed(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from superbrain_core.errors import FileSizeMismatchError

    await cap(
        store, make_update(340, message_id=340, date=T0, voice=fake_file("voice", "short", 10))
    )
    (row,) = await store.files_of_message(OWNER_ID, 340)
    with pytest.raises(FileSizeMismatchError):
        await attach_bytes(store, LocalFileStore(tmp_path / "f"), row, iter_chunks(b"only7by"))
    (row,) = await store.files_of_message(OWNER_ID, 340)
    assert row.status is FileStatus.FAILED and "expected 10 bytes, received 7" in (
        row.download_reason or ""
    )
    assert not list((tmp_path / "f").rglob("*.part")), "no partial file is left behind"


async def test_bot_responses_are_recorded_once(store: Store) -> None:
    r = BotResponseIn(
        chat_id=OWNER_ID,
        message_id=400,
        response_text="Готово",
        user_id=OWNER_ID,
        related_user_message_id=399,
        ai_analysis={"type": "task", "confidence": 0.9},
        method="sendMessage",
        request={"chat_id": OWNER_ID, "text": "Готово"},
        result={"message_id": 400},
    )
    first = await store.record_bot_response(r)
    again = await store.record_bot_response(r)
    assert first == again
    failed = await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID,
            message_id=None,
            response_text="не ушло",
            error="Forbidden: bot was blocked",
        )
    )
    rows = await store.bot_responses(OWNER_ID)
    assert [x.id for x in rows] == [first.id, failed.id]
    assert (
        rows[0].ai_analysis == {"type": "task", "confidence": 0.9}
        and rows[0].method == "sendMessage"
    )
    assert rows[1].error == "Forbidden: bot was blocked" and rows[1].created_at.tzinfo is not None


async def test_non_message_updates_are_stored_raw(store: Store) -> None:
    payloads = [
        make_update(500, "callback_query", id="1", data="x", chat_instance="1"),
        {"update_id": 501, "an_update_from_2030": {"x": 1}},
        {"update_id": 502, "message": {"text": "broken: no chat"}},
    ]
    for p in payloads:
        assert (await cap(store, p)).outcome is CaptureOutcome.NEW
    for p in payloads:
        raw = await store.get_update(p["update_id"])
        assert raw is not None and raw.payload == p
    assert (await store.stats()).tables["raw_messages"] == 0


async def test_capture_many_is_one_ordered_batch(store: Store) -> None:
    updates = [
        normalize_update(
            make_update(
                600 + i, message_id=600, text=f"v{i}", date=T0, edit_date=int(T0.timestamp()) + i
            )
        )
        for i in range(1, 4)
    ]
    results = await store.capture_many(updates, CaptureOptions(source="ingest"))
    assert [r.version for r in results] == [1, 2, 3]
    assert [v.source for v in await store.message_versions(OWNER_ID, 600)] == ["ingest"] * 3


async def test_stats_counts_tables_and_types(store: Store) -> None:
    await cap(store, make_update(700, message_id=700, text="a", date=T0))
    await cap(store, make_update(701, message_id=701, date=T0, voice=fake_file("voice", "v", 1)))
    await cap(store, make_update(702, "callback_query", id="1", data="x", chat_instance="1"))
    s = await store.stats()
    assert s.tables == {
        "raw_updates": 3,
        "update_conflicts": 0,
        "raw_messages": 2,
        "raw_files": 1,
        "bot_responses": 0,
        "message_chains": 0,
        **dict.fromkeys(["events", "tasks", "notes", "files", "people", "links", "expenses"], 0),
        "routing_log": 0,
        "batch_runs": 0,
    }
    assert s.message_types == {"text": 1, "voice": 1}
    assert s.file_statuses == {"pending": 1}


any_text = st.text(
    alphabet=st.characters(
        codec=None, min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()
    )
    | st.sampled_from(["\x00", "\ud83d", "\udc00", "\u202e"]),
    max_size=60,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=any_text)
async def test_any_text_round_trips(store_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    """NUL bytes, lone surrogates, RTL marks, emoji: the payload comes back equal."""
    payload = make_update(1, message_id=1, text=text, date=T0)
    payload["message"]["caption_entities"] = [{"type": "code", "offset": 0, "length": len(text)}]
    async with store_factory() as store:
        update_id = 1 + (await store.stats()).tables["raw_updates"]
        payload["update_id"] = update_id
        payload["message"]["message_id"] = update_id
        await cap(store, payload)
        raw = await store.get_update(update_id)
        assert raw is not None and raw.payload == payload
        msg = await store.get_message(OWNER_ID, update_id)
        assert msg is not None and msg.raw_telegram_json == payload["message"]
        # The text column holds the same text, lone surrogates shown as U+FFFD
        # (and without NUL on Postgres, whose text type cannot hold it).
        expected = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
        if store.backend == "postgres":
            expected = expected.replace("\x00", "")
        assert msg.message_text == expected


async def test_a_failed_commit_leaves_the_sqlite_store_usable(tmp_path: Path) -> None:
    """A transaction whose COMMIT fails is rolled back; the next capture works.

    SQLite only: it exercises the SQLite store's own transaction wrapper.
    """
    from superbrain_core.errors import StorageError
    from superbrain_core.storage.sqlite.store import SqliteStore

    def violate(conn):  # type: ignore[no-untyped-def]
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS child (p INTEGER REFERENCES parent(id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
        conn.execute("INSERT INTO child (p) VALUES (42)")  # fails only at COMMIT

    async with SqliteStore(tmp_path / "commit.db") as store:
        with pytest.raises(StorageError, match="FOREIGN KEY"):
            await store._run(violate, write=True)
        assert (
            await cap(store, make_update(800, message_id=800, text="после", date=T0))
        ).outcome is CaptureOutcome.NEW
