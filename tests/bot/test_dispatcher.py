"""A real aiogram Dispatcher with capture installed, fed real and own Bot API JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import Update

from superbrain_core.demo.samples import BOT_USER, OWNER_ID, fake_file, make_message, make_update
from superbrain_core.telegram import MESSAGE_UPDATE_TYPES
from tests.bot.conftest import BotHarness
from tests.conftest import SAMPLES_DIR

pytestmark = pytest.mark.anyio


def sample_updates() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for n, path in enumerate(sorted((SAMPLES_DIR / "bot_api").glob("*.json"))):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "update_id" in data:
            found.append((path.name, data))
        elif data.get("ok") is True:
            found.extend((path.name, u) for u in data["result"])
        elif "chat" in data:
            found.append((path.name, {"update_id": 50_000 + n, "message": data}))
        else:
            found.append((path.name, {"update_id": 50_000 + n, "callback_query": data}))
    return found


@pytest.mark.samples
async def test_every_shared_sample_is_stored_through_the_dispatcher(
    harness: BotHarness, samples_dir: Path
) -> None:
    updates = sample_updates()
    assert len(updates) >= 40
    seen: set[int] = set()
    for name, payload in updates:
        if payload["update_id"] in seen:
            # Several samples reuse update_id 10000; one bot never sees that twice.
            payload = dict(payload, update_id=90_000 + len(seen))
        seen.add(payload["update_id"])
        await harness.deliver(payload)
        stored = await harness.store.get_update(payload["update_id"], bot_id=harness.bot.id)
        assert stored is not None, name
        assert stored.payload == payload, name
    # Updates aiogram cannot even parse (old payloads without file_unique_id,
    # users without is_bot) are stored all the same.
    assert (await harness.store.stats()).tables["raw_updates"] == len(updates)


async def test_updates_reach_storage_through_the_outer_middleware(harness: BotHarness) -> None:
    """An embedding bot that feeds aiogram Updates itself still stores everything."""
    payload = make_update(
        1, "callback_query", id="7", data="x", chat_instance="1", **{"from": BOT_USER}
    )
    update = Update.model_validate(payload, context={"bot": harness.bot})
    await harness.dp.feed_update(harness.bot, update)
    stored = await harness.store.get_update(1, bot_id=harness.bot.id)
    assert stored is not None and stored.payload["callback_query"]["data"] == "x"


async def test_owner_message_is_acknowledged_and_the_reply_is_recorded(harness: BotHarness) -> None:
    await harness.deliver(make_update(1, message_id=100, text="Завтра в 10 созвон с Олегом"))
    assert harness.sent() == ["✓ Сохранил"]
    (ack,) = await harness.store.bot_responses(OWNER_ID)
    assert ack.message_id == 10_000 and ack.response_text == "✓ Сохранил"
    assert ack.related_user_message_id == 100
    assert ack.method == "sendMessage" and ack.response_type == "text"
    assert ack.request is not None and ack.request["reply_parameters"]["message_id"] == 100
    assert ack.result is not None and ack.result["message_id"] == 10_000


async def test_clarification_replying_to_the_bot_joins_the_original_chain(
    harness: BotHarness,
) -> None:
    await harness.deliver(make_update(1, message_id=100, text="Встреча с Олегом в пятницу"))
    bot_message = make_message(10_000, text="✓ Сохранил", sender=harness.session.bot_user)
    await harness.deliver(
        make_update(2, message_id=101, text="это задача, а не встреча", reply_to=bot_message)
    )
    chain = await harness.store.chain_of(OWNER_ID, 101)
    assert chain is not None
    assert (chain.original_message_id, chain.original_text) == (100, "Встреча с Олегом в пятницу")
    assert [r.message_id for r in chain.replies] == [101]
    responses = await harness.store.bot_responses(OWNER_ID)
    assert responses[0].chain_id == chain.chain_id


async def test_strangers_are_stored_but_never_answered(harness: BotHarness) -> None:
    stranger = {"id": 999, "is_bot": False, "first_name": "Чужой"}
    chat = {"id": 999, "type": "private", "first_name": "Чужой"}
    await harness.deliver(make_update(1, message_id=5, text="/stats", sender=stranger, chat=chat))
    await harness.deliver(make_update(2, message_id=6, text="привет", sender=stranger, chat=chat))
    assert harness.session.requests == []
    assert await harness.store.get_message(999, 5) is not None
    assert await harness.store.get_message(999, 6) is not None


async def test_no_acknowledgement_in_groups_and_one_per_album(harness: BotHarness) -> None:
    group = {"id": -100777, "type": "supergroup", "title": "Семья"}
    await harness.deliver(make_update(1, message_id=1, text="в группе", chat=group))
    assert harness.sent() == []
    for i in range(3):
        photo = [fake_file("photo", f"a{i}", 100, width=1, height=1)]
        await harness.deliver(
            make_update(10 + i, message_id=10 + i, photo=photo, media_group_id="alb")
        )
    assert harness.sent() == ["✓ Сохранил"]


async def test_commands_answer_in_russian(harness: BotHarness) -> None:
    await harness.deliver(
        make_update(
            1,
            message_id=1,
            text="/start",
            entities=[{"type": "bot_command", "offset": 0, "length": 6}],
        )
    )
    await harness.deliver(
        make_update(
            2,
            message_id=2,
            text="/help",
            entities=[{"type": "bot_command", "offset": 0, "length": 5}],
        )
    )
    await harness.deliver(
        make_update(
            3,
            message_id=3,
            text="/stats",
            entities=[{"type": "bot_command", "offset": 0, "length": 6}],
        )
    )
    await harness.deliver(
        make_update(
            4,
            message_id=4,
            text="/last",
            entities=[{"type": "bot_command", "offset": 0, "length": 5}],
        )
    )
    start, help_, stats, last = harness.sent()
    assert start.startswith("Привет!") and "/stats" in help_
    assert "Сохранено сообщений: 3" in stats and "Всего обновлений: 3" in stats
    assert last == "Ночной разбор ещё не запускался."
    conn = harness.store._conn
    assert conn is not None
    conn.execute(
        "INSERT INTO batch_runs (started_at, finished_at, status, digest) VALUES (?, ?, 'done', ?)",
        ("2026-11-25T00:00:00+00:00", "2026-11-25T00:01:00+00:00", "Ночью: 3 задачи, 1 встреча."),
    )
    await harness.deliver(
        make_update(
            5,
            message_id=5,
            text="/last",
            entities=[{"type": "bot_command", "offset": 0, "length": 5}],
        )
    )
    assert harness.sent()[-1] == "Ночью: 3 задачи, 1 встреча."


async def test_failed_sends_are_recorded_with_their_error(harness: BotHarness) -> None:
    harness.session.add_error(403, "Forbidden: bot was blocked by the user")
    await harness.deliver(make_update(1, message_id=100, text="заметка"))
    (failed,) = await harness.store.bot_responses(OWNER_ID)
    assert failed.message_id is None
    assert failed.error is not None and "bot was blocked" in failed.error
    assert failed.related_user_message_id == 100
    assert await harness.store.get_message(OWNER_ID, 100) is not None, "the update itself is kept"


async def test_edits_and_albums_the_bot_sends_are_recorded(harness: BotHarness) -> None:
    sent = await harness.bot.send_message(OWNER_ID, "Черновик")
    harness.session.add_result(
        {
            "message_id": sent.message_id,
            "from": harness.session.bot_user,
            "chat": {"id": OWNER_ID, "type": "private"},
            "date": 1,
            "edit_date": 2,
            "text": "Итог",
        }
    )
    await harness.bot.edit_message_text("Итог", chat_id=OWNER_ID, message_id=sent.message_id)
    album = [
        {
            "message_id": 500 + i,
            "from": harness.session.bot_user,
            "chat": {"id": OWNER_ID, "type": "private"},
            "date": 1,
            "media_group_id": "g",
            "photo": [fake_file("photo", f"b{i}", 10, width=1, height=1)],
        }
        for i in range(2)
    ]
    harness.session.add_result(album)
    from aiogram.types import InputMediaPhoto

    await harness.bot.send_media_group(
        OWNER_ID, [InputMediaPhoto(media="file-a"), InputMediaPhoto(media="file-b")]
    )
    await harness.bot.send_chat_action(OWNER_ID, "typing")
    rows = await harness.store.bot_responses(OWNER_ID)
    assert [(r.message_id, r.is_edit, r.response_type) for r in rows] == [
        (sent.message_id, False, "text"),
        (sent.message_id, True, "edit_text"),
        (500, False, "media_group"),
        (501, False, "media_group"),
    ]
    assert rows[1].response_text == "Итог"


async def test_message_like_updates_keep_their_text(harness: BotHarness) -> None:
    for n, kind in enumerate(sorted(MESSAGE_UPDATE_TYPES), start=1):
        body = make_message(n, text=f"текст {kind}")
        if "business" in kind:
            body["business_connection_id"] = "bc1"
        if "edited" in kind:
            body["edit_date"] = 1_800_000_000
        await harness.deliver({"update_id": n, kind: body})
        chat = OWNER_ID
        if "business" in kind:  # keyed in its connection's block of chat ids
            chat = await harness.store.business_chat_id("bc1", OWNER_ID) or 0
        stored = await harness.store.get_message(chat, n)
        assert stored is not None and stored.message_text == f"текст {kind}"


async def test_reply_recording_never_breaks_the_send(harness: BotHarness, tmp_path: Path) -> None:
    """With storage and spool both gone, the reply still goes out and the handler goes on."""
    from superbrain_core.bot.spool import Spool

    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    harness.capture.durable.spool = Spool(blocker / "spool.jsonl")
    await harness.store.close()
    sent = await harness.bot.send_message(OWNER_ID, "всё равно отправлено")
    assert sent.text == "всё равно отправлено"
    await harness.store.open()


async def test_stored_errors_never_contain_the_token(harness: BotHarness) -> None:
    from superbrain_core.testing import BOT_TOKEN

    harness.session.add_error(
        502, f"Bad Gateway at https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
    )
    with pytest.raises(Exception, match="Bad Gateway"):
        await harness.bot.send_message(OWNER_ID, "x")
    (row,) = await harness.store.bot_responses(OWNER_ID)
    assert row.error is not None and "Bad Gateway" in row.error
    assert BOT_TOKEN.split(":")[1] not in row.error


async def test_two_edits_within_one_second_are_two_versions(harness: BotHarness) -> None:
    await harness.deliver(make_update(1, message_id=7, text="v1"))
    for update_id, text in ((2, "v2"), (3, "v3")):
        await harness.deliver(
            make_update(
                update_id, "edited_message", message_id=7, text=text, edit_date=1_800_000_000
            )
        )
    versions = await harness.store.message_versions(OWNER_ID, 7)
    assert [v.message_text for v in versions] == ["v1", "v2", "v3"]


async def test_web_answers_an_owner_with_a_single_use_login_link(
    harness: BotHarness, tmp_path: Path
) -> None:
    import time

    from aiogram import Dispatcher

    from superbrain_core import login_links
    from superbrain_core.bot.server import BotSettings, build_router
    from superbrain_core.settings import Settings
    from superbrain_core.testing import BOT_TOKEN, FakeBotApiSession, fake_bot

    command = {"entities": [{"type": "bot_command", "offset": 0, "length": 4}]}
    await harness.deliver(make_update(1, message_id=1, text="/web", **command))
    assert harness.sent()[-1] == "Веб-страница не настроена (SUPERBRAIN_WEB_URL)."

    secret = "w" * 40
    settings = BotSettings.from_env(
        Settings(data_dir=tmp_path),
        env={
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "SUPERBRAIN_OWNER_IDS": str(OWNER_ID),
            "SUPERBRAIN_WEB_URL": "https://brain.example/",
            "SUPERBRAIN_WEB_SECRET": secret,
        },
    )
    assert settings.web_secret == secret.encode() and secret not in repr(settings)
    session = FakeBotApiSession()
    bot = fake_bot(session)
    dp = Dispatcher()
    dp.include_router(build_router(harness.store, settings))
    update = make_update(2, message_id=2, text="/web", **command)
    await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))
    (request,) = session.requests_named("sendMessage")
    link = request.text.splitlines()[-1]
    assert link.startswith("https://brain.example/login/")
    assert request.link_preview_options.is_disabled
    claims = login_links.verify_login(secret.encode(), link.rsplit("/", 1)[1])
    assert claims.owner_id == OWNER_ID
    assert claims.expires_at <= time.time() + login_links.LINK_TTL_SECONDS + 1
    # Someone else asking gets nothing: the router answers owners only.
    stranger = make_update(
        3,
        message_id=3,
        text="/web",
        sender={"id": 77, "is_bot": False, "first_name": "X"},
        **command,
    )
    await dp.feed_update(bot, Update.model_validate(stranger, context={"bot": bot}))
    assert len(session.requests_named("sendMessage")) == 1
