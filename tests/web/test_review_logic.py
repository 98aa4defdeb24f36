"""The review library's own logic, without a server: the owner's day, monthly totals,
chart bars, bubbles (albums, bot replies), links by UTF-16 offsets, forward labels,
and questions answered from the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import fake_file, make_update
from superbrain_core.review import review_last
from superbrain_core.review.archive import bubbles, chat_view, forward_label, links_of
from superbrain_core.review.items import (
    agenda,
    all_records,
    chart_bars,
    main_currency,
    monthly_totals,
)
from superbrain_core.storage.sqlite.store import SqliteStore
from tests.web.helpers import KEYWORDS, OWNER, T0, ZONE, logged_in, serve, small_archive

pytestmark = pytest.mark.anyio


def test_the_agenda_is_by_the_owners_day() -> None:
    events = [
        {
            "id": 1,
            "title": "поздно",
            "starts_at": "2026-11-24T21:30:00+00:00",
        },  # 00:30 MSK on the 25th
        {"id": 2, "title": "утро", "starts_at": "2026-11-25T06:00:00+00:00"},
        {"id": 3, "title": "без даты", "starts_at": None},
        {
            "id": 4,
            "title": "раньше",
            "starts_at": "2026-11-24T20:59:00+00:00",
        },  # 23:59 MSK, the 24th
    ]
    days = agenda(events, ZONE)
    assert [d.day.isoformat() if d.day else None for d in days] == [
        "2026-11-24",
        "2026-11-25",
        None,
    ]
    assert [e["title"] for e in days[1].events] == ["поздно", "утро"]
    assert [e["title"] for e in days[2].events] == ["без даты"]


def test_monthly_totals_per_currency_and_the_chart() -> None:
    rows = [
        {
            "amount": "1350",
            "currency": "RUB",
            "spent_at": "2026-11-30T22:00:00+00:00",
        },  # Dec in MSK
        {"amount": "700.50", "currency": "RUB", "spent_at": "2026-11-10T10:00:00+00:00"},
        {"amount": "100", "currency": "RUB", "spent_at": "2026-11-11T10:00:00+00:00"},
        {"amount": "20", "currency": "EUR", "spent_at": "2026-11-11T10:00:00+00:00"},
        {"amount": None, "currency": "RUB", "spent_at": "2026-11-11T10:00:00+00:00"},
        {"amount": "5", "currency": None, "spent_at": None},
    ]
    totals = monthly_totals(rows, ZONE)
    got = {(t.month, t.currency): (t.total, t.count) for t in totals}
    assert got == {
        ("2026-11", "RUB"): (Decimal("800.50"), 2),
        ("2026-12", "RUB"): (Decimal("1350"), 1),
        ("2026-11", "EUR"): (Decimal("20"), 1),
        ("?", "?"): (Decimal("5"), 1),
    }
    assert main_currency(totals) == "RUB"
    bars = chart_bars(totals, "RUB", height=100)
    assert [(b.label, b.height) for b in bars] == [("2026-11", 59), ("2026-12", 100)]
    assert bars[1].x > bars[0].x


async def test_chat_view_folds_albums_and_places_the_bots_replies(
    sqlite_store: SqliteStore,
) -> None:
    capturer = Capturer(sqlite_store)
    photo = [fake_file("photo", "a", 100, width=10, height=10)]
    for n in (1, 2):
        await capturer.capture(
            make_update(
                n, message_id=n, date=T0, media_group_id="g1", photo=photo, caption=f"фото {n}"
            )
        )
    await capturer.capture(
        make_update(3, message_id=3, date=T0 + timedelta(minutes=1), text="после")
    )
    await capturer.capture(
        make_update(
            4,
            message_id=4,
            date=T0 + timedelta(minutes=2),
            text="Смотри 🎉 https://example.org/путь и ещё",
            entities=[{"type": "url", "offset": 10, "length": 24}],
        )
    )
    view = await chat_view(sqlite_store, OWNER)
    assert view is not None
    kinds = [(b.album, [m.message_id for m in b.messages]) for b in view.bubbles]
    assert kinds == [(True, [1, 2]), (False, [3]), (False, [4])]
    assert all(m.media for m in view.bubbles[0].messages)
    # The emoji is two UTF-16 units: the entity's offset counts them, as Telegram does.
    (link,) = links_of(view.views)
    assert link.url == "https://example.org/путь" and link.message_id == 4
    assert await chat_view(sqlite_store, 999) is None
    assert bubbles([]) == []


def test_forward_labels_name_the_origin() -> None:
    assert forward_label(None) is None
    assert forward_label({"kind": "channel", "name": "Заметки инженера"}) == "Заметки инженера"
    assert forward_label({"kind": "hidden_user"}) == "hidden_user"


async def test_an_unsure_verdict_is_a_question_answered_on_the_page(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "q.db") as store:
        await small_archive(store)
        # No keyword: the classifier files it as a note at 0.5 and is unsure.
        await Capturer(store).capture(
            make_update(9, message_id=9, text="непонятная штука", date=T0)
        )
        await run_batch(store, KeywordClassifier(KEYWORDS, version="1"), BatchOptions())
        review = await review_last(store, 1)
        (question,) = review.questions
        assert question.message_id == 9 and question.table == "notes"
        async with (
            serve(store, tmp_path) as server,
            httpx.AsyncClient(base_url=server.base_url) as c,
        ):
            token = await logged_in(c, server)
            home = await c.get("/")
            assert home.text.count('data-testid="question"') == 1
            answered = await c.post(
                f"/items/{OWNER}/9/move", data={"table": "tasks", "csrf": token, "next": "/?runs=2"}
            )
            assert answered.status_code == 303 and answered.headers["Location"] == "/?runs=2"
            home = await c.get("/?runs=2")
            assert 'data-testid="question"' not in home.text
            # An edit through the form, then the task ticked off and opened again.
            edited = await c.post(
                f"/items/{OWNER}/9/edit",
                data={
                    "csrf": token,
                    "f_title": "Разобраться со штукой",
                    "f_due_at": "2026-11-26 10:00",
                },
            )
            assert edited.status_code == 303
            (task,) = [t for t in await all_records(store, "tasks") if t["message_id"] == 9]
            assert task["title"] == "Разобраться со штукой"
            assert datetime.fromisoformat(task["due_at"]) == datetime(
                2026, 11, 26, 7, 0, tzinfo=UTC
            )
            done = await c.post(
                f"/tasks/{task['id']}/status", data={"csrf": token, "status": "done"}
            )
            assert done.status_code == 303
            page = await c.get("/tables/tasks")
            assert re.search(r'class="done">.*?Разобраться', page.text, re.S)
            bad = await c.post(
                f"/tasks/{task['id']}/status", data={"csrf": token, "status": "maybe"}
            )
            assert bad.status_code == 400
            missing = await c.post("/tasks/9999/status", data={"csrf": token, "status": "done"})
            assert missing.status_code == 404
            wrong = await c.post(
                f"/items/{OWNER}/9/edit", data={"csrf": token, "f_due_at": "завтра"}
            )
            assert wrong.status_code == 400 and "not a time" in wrong.text
            unknown = await c.post(f"/items/{OWNER}/9/move", data={"csrf": token, "table": "x"})
            assert unknown.status_code == 400
            # An outside "next" is not followed.
            away = await c.post(
                f"/items/{OWNER}/9/move",
                data={"csrf": token, "table": "tasks", "next": "//evil.example/"},
            )
            assert away.headers["Location"] == "/"


async def test_a_secret_stays_masked_on_the_review_and_the_tables(tmp_path: Path) -> None:
    from superbrain_core.analyzer.classify.rules import RulesClassifier

    secret = "Kx9mP2qz7"
    async with SqliteStore(tmp_path / "s.db") as store:
        await Capturer(store).capture(
            make_update(1, message_id=1, text=f"Пароль от вайфая: {secret}", date=T0)
        )
        await run_batch(store, RulesClassifier(), BatchOptions())
        (item,) = (await review_last(store, 1)).items
        assert item.sensitive and item.table == "notes"
        async with (
            serve(store, tmp_path) as server,
            httpx.AsyncClient(base_url=server.base_url) as c,
        ):
            await logged_in(c, server)
            for page in ("/", f"/items/{OWNER}/1", "/tables/notes"):
                response = await c.get(page)
                assert response.status_code == 200 and "🔒" in response.text, page
                assert secret not in response.text, page


def test_a_nul_in_stored_text_is_shown_not_dropped() -> None:
    from markupsafe import Markup

    from superbrain_core.web.render import renderer

    page = (
        renderer(ZONE)
        .env.from_string("<p>{{ text }}</p>{{ safe }}")
        .render(text="код:\x00конец", safe=Markup("<b>a\x00b</b>"))
    )
    assert "\x00" not in page
    assert "<p>код:\u2400конец</p>" in page
    assert "<b>a\u2400b</b>" in page
