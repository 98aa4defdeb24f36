"""Full-text search on every backend: word forms, mixed languages, edits, files, filing, filters.

The same captured data gives the same hits on SQLite and Postgres (the last
tests compare them directly), and index maintenance works for rows written
behind the store's back, the way an import or a hand-made fix writes them.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.analyzer.classify.keywords import KeywordClassifier
from superbrain_core.analyzer.classify.schema import ItemType
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, bot_message, demo_day, fake_file, make_update
from superbrain_core.models import BotResponseIn
from superbrain_core.search import UPPER_FROM, SearchHit, SearchQueryError, terms
from superbrain_core.storage.base import Store
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.sqlite import search as sqlite_search
from superbrain_core.storage.sqlite.store import SqliteStore

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OTHER_CHAT = {"id": -100777, "title": "Работа", "type": "supergroup"}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def capture(store: Store, *payloads: dict[str, Any]) -> None:
    capturer = Capturer(store)
    for payload in payloads:
        await capturer.capture(payload)


def keys(hits: list[SearchHit]) -> list[int]:
    return [h.message_id for h in hits]


def document(seed: str, name: str) -> dict[str, Any]:
    return dict(fake_file("document", seed, 2048), file_name=name, mime_type="text/plain")


async def test_russian_word_forms_find_each_other(store: Store) -> None:
    await capture(
        store,
        make_update(1, message_id=1, text="Завтра встреча с Олегом", date=at(1)),
        make_update(2, message_id=2, text="Перенёс встречу на пятницу", date=at(2)),
        make_update(3, message_id=3, text="Две ВСТРЕЧИ подряд", date=at(3)),
        make_update(4, message_id=4, text="Купить молоко", date=at(4)),
    )
    for form in ("встреча", "встречу", "встречи", "Встречей", "ВСТРЕЧА"):
        hits = await store.search(form)
        assert keys(hits) == [3, 2, 1], form  # newest first
    (hit,) = await store.search("перенес")  # ё and е are one letter to search
    assert hit.marked() == "[Перенёс] встречу на пятницу"
    assert hit.matched_in == "message" and hit.message_type == "text"
    assert hit.date == at(2) and hit.date.tzinfo is not None
    assert (hit.chat_id, hit.source, hit.version, hit.destination) == (OWNER_ID, "bot", 1, None)


async def test_english_forms_and_a_mixed_query(store: Store) -> None:
    await capture(
        store,
        make_update(1, message_id=1, text="Meeting with Oleg about the budget", date=at(1)),
        make_update(2, message_id=2, text="Two meetings today", date=at(2)),
        make_update(3, message_id=3, text="Встреча: обсудить budget на 2027", date=at(3)),
        make_update(4, message_id=4, text="Встреча без бюджета", date=at(4)),
    )
    assert keys(await store.search("meetings")) == [2, 1]
    assert keys(await store.search("meeting")) == [2, 1]
    # Every word must occur: Russian and English in one query.
    (hit,) = await store.search("встреча budget")
    assert hit.message_id == 3 and hit.marked() == "[Встреча]: обсудить [budget] на 2027"
    assert keys(await store.search("budgets")) == [3, 1]
    assert keys(await store.search("2027")) == [3]
    assert await store.search("встреча meeting") == []


async def test_results_show_the_newest_version_of_an_edited_message(store: Store) -> None:
    await capture(
        store,
        make_update(1, message_id=1, text="Встреча в офисе", date=at(1)),
        make_update(2, message_id=2, text="Черновик отчёта", date=at(2)),
        make_update(
            3, "edited_message", message_id=1, text="Созвон в офисе", date=at(1), edit_date=3
        ),
        make_update(
            4, "edited_message", message_id=2, text="Черновик отчёта готов", date=at(2), edit_date=4
        ),
    )
    assert await store.search("встреча") == []  # the edit removed the word
    (hit,) = await store.search("офис")
    assert (hit.message_id, hit.version, hit.snippet) == (1, 2, "Созвон в офисе")
    assert hit.date == at(1)  # Telegram's date of the message, not of the edit
    (hit,) = await store.search("отчет")  # listed once, though two versions hold the word
    assert (hit.message_id, hit.version, hit.snippet) == (2, 2, "Черновик отчёта готов")
    assert keys(await store.search("ГОТОВ")) == [2]


async def test_captions_and_file_names_are_searched(store: Store) -> None:
    photo = [fake_file("photo", "receipt", 24000, width=320, height=568)]
    await capture(
        store,
        make_update(1, message_id=1, photo=photo, caption="Чек из магазина", date=at(1)),
        make_update(2, message_id=2, document=document("b", "Бюджет_2027-v2.xlsx"), date=at(2)),
        make_update(
            3,
            message_id=3,
            document=document("c", "meeting-notes.pdf"),
            caption="Протокол встречи",
            date=at(3),
        ),
    )
    (hit,) = await store.search("чеки")
    assert (hit.message_id, hit.message_type, hit.matched_in) == (1, "photo", "message")
    (hit,) = await store.search("бюджета")
    assert (hit.message_id, hit.message_type, hit.matched_in) == (2, "document", "file")
    assert hit.file_names == ("Бюджет_2027-v2.xlsx",)
    assert hit.marked() == "[Бюджет]_2027-v2.xlsx"
    assert keys(await store.search("2027 v2")) == [2]
    # Words from the caption and from the file name together.
    (hit,) = await store.search("протокол notes")
    assert (hit.message_id, hit.matched_in, hit.snippet) == (3, "file", "meeting-notes.pdf")
    (hit,) = await store.search("встреча")
    assert (hit.matched_in, hit.file_names) == ("message", ("meeting-notes.pdf",))


async def test_a_snippet_never_shows_a_secret(store: Store) -> None:
    """Found by any word, the secret itself included, the snippet shows the mask."""
    from superbrain_core.analyzer.classify.extract.secrets import MASK

    await capture(
        store,
        make_update(1, message_id=1, text="пароль от роутера Qwerty_77 не забыть", date=at(1)),
        make_update(2, message_id=2, text="карта сбер 4276 3800 1234 5679 для кешбэка", date=at(2)),
        make_update(3, message_id=3, text="код домофона 4590 у подъезда Кати", date=at(3)),
        make_update(4, message_id=4, text="роутер стоит в коридоре", date=at(4)),
    )
    for query, message_id, secret in (
        ("роутера", 1, "Qwerty_77"),
        ("qwerty_77", 1, "Qwerty_77"),
        ("кешбэка", 2, "4276"),
        ("домофона", 3, "4590"),
        ("4590", 3, "4590"),
    ):
        hits = [h for h in await store.search(query) if h.message_id == message_id]
        assert len(hits) == 1, query
        assert secret not in hits[0].snippet, (query, hits[0].snippet)
        assert MASK in hits[0].snippet, (query, hits[0].snippet)
    # A message without a secret is shown as written.
    (hit,) = await store.search("коридоре")
    assert hit.snippet == "роутер стоит в коридоре"


async def test_where_the_analyzer_filed_a_message_is_shown(store: Store) -> None:
    question = bot_message(3, "Записал. Это встреча?", at(2))
    await capture(
        store,
        make_update(1, message_id=1, text="Встреча с Олегом в 15:00", date=at(1)),
        make_update(2, message_id=2, text="Купить подарок к встрече", date=at(2)),
    )
    await store.record_bot_response(
        BotResponseIn(
            chat_id=OWNER_ID,
            message_id=3,
            response_text=question["text"],
            related_user_message_id=1,
        )
    )
    await capture(
        store,
        make_update(4, message_id=4, text="Да, встреча важная", date=at(3), reply_to=question),
    )
    classifier = KeywordClassifier({"купить": ItemType.TASK, "встреча": ItemType.EVENT})
    report = await run_batch(store, classifier, BatchOptions(concurrency=2))
    assert report.ok
    hits = {h.message_id: h for h in await store.search("встреча")}
    assert set(hits) == {1, 2, 3, 4}
    assert [m for m, h in hits.items() if h.from_bot] == [3], "the bot's question is found too"
    events = await store.list_records("events")
    tasks = await store.list_records("tasks")
    event_of = {(r["chat_id"], r["message_id"]): r["id"] for r in events}
    task_of = {(r["chat_id"], r["message_id"]): r["id"] for r in tasks}
    assert (hits[1].destination, hits[1].record_id) == ("events", event_of[(OWNER_ID, 1)])
    assert (hits[2].destination, hits[2].record_id) == ("tasks", task_of[(OWNER_ID, 2)])
    # The reply to the bot's question has no placement of its own: it is filed
    # under the message it clarifies, and says so.
    assert await store.routing_history(OWNER_ID, 4) == []
    assert (hits[4].destination, hits[4].record_id) == ("events", event_of[(OWNER_ID, 1)])


async def test_chat_filter_limit_and_dates(store: Store) -> None:
    payloads = [
        make_update(n, message_id=n, text=f"созвон номер {n}", date=at(n)) for n in range(1, 6)
    ]
    payloads.append(
        make_update(6, message_id=1, text="созвон в рабочем чате", date=at(10), chat=OTHER_CHAT)
    )
    await capture(store, *payloads)
    assert [(h.chat_id, h.message_id) for h in await store.search("созвон", limit=3)] == [
        (OTHER_CHAT["id"], 1),
        (OWNER_ID, 5),
        (OWNER_ID, 4),
    ]
    assert keys(await store.search("созвон", chat_id=OWNER_ID)) == [5, 4, 3, 2, 1]
    assert keys(await store.search("созвон", chat_id=OTHER_CHAT["id"])) == [1]
    assert await store.search("созвон", chat_id=424242) == []
    assert keys(await store.search("созвон", since=at(2), until=at(4), chat_id=OWNER_ID)) == [
        3,
        2,
    ]


@pytest.mark.parametrize(
    "query", ["", "   ", "!!! ??? ...", "😀🎉", "— « » –", '"" * - ()', "日本語"]
)
async def test_a_query_with_nothing_searchable_is_a_clear_error(store: Store, query: str) -> None:
    await capture(store, make_update(1, message_id=1, text="что-то", date=at(1)))
    with pytest.raises(SearchQueryError, match="nothing to search for"):
        await store.search(query)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"since": datetime(2026, 11, 24, 9, 0)}, "time zone"),
        ({"until": datetime(2026, 11, 24, 9, 0)}, "time zone"),
    ],
)
async def test_bad_arguments_are_refused_before_the_database(
    store: Store, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(SearchQueryError, match=message):
        await store.search("встреча", **arguments)
    # ValueError too, for callers that catch the standard exception.
    with pytest.raises(ValueError, match=message):
        await store.search("встреча", **arguments)


@pytest.mark.parametrize(
    "query",
    [
        '"встреча',
        'встреча"',
        "встреча*",
        "встреча-",
        "NEAR(встреча)",
        "встреча:",
        "встреча AND",
        "^встреча",
        "встреча) OR (",
        "'встреча'",
        "встреча\\",
        "встреча\x00",
    ],
)
async def test_query_syntax_characters_are_plain_text(store: Store, query: str) -> None:
    await capture(
        store,
        make_update(1, message_id=1, text="Встреча в 15:00", date=at(1)),
        make_update(2, message_id=2, text="near and or встреча", date=at(2)),
    )
    hits = await store.search(query)
    # NEAR, AND and OR are words like any other: they must occur too.
    with_words = {"NEAR(встреча)", "встреча AND", "встреча) OR ("}
    assert keys(hits) == ([2] if query in with_words else [2, 1]), query


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("-молоко", "молоко"),
        ("купить -молоко", "молоко"),
        ("купить --Молоко хлеб", "Молоко"),
        ('купить "-milk"', "milk"),
        ("купить\t-15", "15"),
    ],
)
async def test_a_word_with_a_leading_minus_is_refused_not_searched_for(
    store: Store, query: str, word: str
) -> None:
    """`-молоко` means "without молоко" to anyone who has used a search engine; finding
    the messages with молоко instead would answer the opposite. Every backend refuses it
    the same way, before the database is asked."""
    await capture(
        store,
        make_update(1, message_id=1, text="Купить молоко", date=at(1)),
        make_update(2, message_id=2, text="Купить хлеб", date=at(2)),
    )
    with pytest.raises(SearchQueryError) as caught:
        await store.search(query)
    message = str(caught.value)
    assert f"'-{word}'" in message and "excluding words is not supported" in message
    assert f"search for {word!r}" in message, "it says how to search for the word instead"


@pytest.mark.parametrize(
    ("query", "found"),
    [("Wi-Fi", [3]), ("что-то", [4]), ("купить - хлеб", [2]), ("Wi-Fi-роутер", [3])],
)
async def test_a_hyphen_inside_a_word_or_between_words_still_separates(
    store: Store, query: str, found: list[int]
) -> None:
    await capture(
        store,
        make_update(1, message_id=1, text="Купить молоко", date=at(1)),
        make_update(2, message_id=2, text="Купить хлеб", date=at(2)),
        make_update(3, message_id=3, text="Починить Wi-Fi роутер", date=at(3)),
        make_update(4, message_id=4, text="что-то важное", date=at(4)),
    )
    assert keys(await store.search(query)) == found


async def test_odd_text_is_captured_and_searchable(store: Store) -> None:
    odd = [
        "нулевой \x00 символ встреча",
        "половинка \ud83d суррогата встреча",
        "эмодзи 😀🎉 встреча",
        "\u202eперевёрнутый встреча",
        "a" * 5000 + " длинное слово встреча",
        "x" * 50,
    ]
    await capture(
        store,
        *(make_update(n, message_id=n, text=t, date=at(n)) for n, t in enumerate(odd, 1)),
    )
    assert keys(await store.search("встреча")) == [5, 4, 3, 2, 1]
    (hit,) = await store.search("символ")
    assert hit.marked() == "нулевой [символ] встреча"
    (hit,) = await store.search("суррогата")
    assert hit.marked() == "половинка \ufffd [суррогата] встреча"
    assert keys(await store.search("x" * 50)) == [6]
    (hit,) = await store.search("длинное")
    assert hit.marked() == "…[длинное] слово встреча"


# -- backend-specific: rows written behind the store's back ----------------------------------


def _sqlite_insert_message(
    conn: sqlite3.Connection, chat_id: int, message_id: int, text: str, version: int = 1
) -> None:
    conn.execute(
        "INSERT INTO raw_messages (message_id, message_text, message_type, raw_telegram_json,"
        " created_at, chat_id, version, message_date, source, content_hash)"
        " VALUES (?, ?, 'text', '{}', ?, ?, ?, ?, 'desktop_export', ?)",
        (
            message_id,
            text,
            T0.isoformat(),
            chat_id,
            version,
            (T0 + timedelta(seconds=message_id)).isoformat(timespec="microseconds"),
            f"v{version}",
        ),
    )


async def test_sqlite_rows_inserted_by_another_connection_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An importer's bulk INSERTs on its own connection (nothing registered on it)."""
    monkeypatch.setattr(sqlite_search, "PER_CATCH_UP", 700)  # several catch-up rounds
    path = tmp_path / "outside.db"
    async with SqliteStore(path) as store:
        await capture(store, make_update(1, message_id=1, text="Встреча вживую", date=at(1)))
    with sqlite3.connect(path) as conn:
        for n in range(2, 2502):
            _sqlite_insert_message(conn, 42, n, f"встречу перенесли {n}")
        _sqlite_insert_message(conn, 42, 2, "правка без слова", version=2)
        conn.execute(
            "INSERT INTO raw_files (message_id, file_type, file_name, raw_metadata, uploaded_at,"
            " chat_id, file_key) VALUES (3, 'document', 'отчёт.pdf', '{}', ?, 42, 'k')",
            (T0.isoformat(),),
        )
    async with SqliteStore(path) as store:
        hits = await store.search("встреча", limit=1000)
        assert len(hits) == 1000 and (hits[0].message_id, hits[0].source) == (
            2501,
            "desktop_export",
        )
        early = await store.search(
            "перенесли", chat_id=42, since=T0, until=T0 + timedelta(seconds=6)
        )
        assert keys(early) == [5, 4, 3]  # 2's newest version lost the word
        (edited,) = await store.search("правка")
        assert (edited.message_id, edited.version) == (2, 2)
        (report,) = await store.search("отчет")
        assert (report.message_id, report.matched_in) == (3, "file")
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM search_pending").fetchone() == (0,)
            # A message deleted by hand leaves the index at the next search.
            conn.execute("DELETE FROM raw_messages WHERE chat_id = 42 AND message_id = 3")
        assert await store.search("отчет") == []


async def test_a_version_2_sqlite_database_is_upgraded_and_indexed(tmp_path: Path) -> None:
    """Schema 3 on a database written before search existed: every message gets indexed."""
    current = tmp_path / "current.db"
    async with SqliteStore(current) as store:
        await capture(
            store,
            make_update(1, message_id=1, text="Старая встреча", date=at(1)),
            make_update(2, message_id=2, document=document("d", "budget.xlsx"), date=at(2)),
        )
    old = tmp_path / "old.db"
    package = resources.files("superbrain_core.storage.sqlite").joinpath("schema")
    with sqlite3.connect(old) as conn:
        for script in ("0001_capture.sql", "0002_analyzer.sql"):
            conn.executescript(package.joinpath(script).read_text(encoding="utf-8"))
        conn.execute("PRAGMA user_version = 2")
        conn.execute("ATTACH DATABASE ? AS cur", (str(current),))
        for table in ("raw_updates", "raw_messages", "raw_files", "message_chains"):
            columns = ", ".join(r[1] for r in conn.execute(f"PRAGMA main.table_info({table})"))
            conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM cur.{table}")
    async with SqliteStore(old) as store:
        assert keys(await store.search("встречи")) == [1]
        assert keys(await store.search("budgets")) == [2]
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 3


# Searches a database in a process that cannot write it, printing the answers as JSON.
_READ_ONLY_SEARCH = """
import json, sys, anyio
from superbrain_core.storage.sqlite.store import SqliteStore

async def main(path, queries):
    async with SqliteStore(path) as store:
        answers = [
            [[h.chat_id, h.message_id, h.version, h.matched_in, h.snippet, h.destination]
             for h in await store.search(q, **options)]
            for q, options in queries
        ]
    print(json.dumps(answers, ensure_ascii=False))

anyio.run(main, sys.argv[1], json.loads(sys.argv[2]))
"""


def _without_write_permission() -> list[str]:
    """The command prefix that takes write access away: root ignores file modes,
    so as root the subprocess runs without the capability that lets it."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: cannot drop write access")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


async def test_a_read_only_sqlite_database_is_searched_with_its_unindexed_messages(
    tmp_path: Path,
) -> None:
    """A copy for a notebook with mode 444: the pending queue cannot be drained, yet
    the answers are the ones a writable copy gives after indexing."""
    original = tmp_path / "live.db"
    async with SqliteStore(original) as store:
        await capture(
            store,
            make_update(1, message_id=1, text="Встреча в офисе", date=at(1)),
            make_update(2, message_id=2, text="Встреча отменена", date=at(2)),
            make_update(3, message_id=3, text="Черновик отчёта", date=at(3)),
        )
        await store.search("встреча")  # these three are indexed
        await capture(
            store,  # and these wait in search_pending
            make_update(4, message_id=4, text="Новая встреча", date=at(4)),
            make_update(
                5, "edited_message", message_id=2, text="Созвон отменён", date=at(2), edit_date=5
            ),
            make_update(6, message_id=6, document=document("r", "встреча_план.pdf"), date=at(6)),
            make_update(7, message_id=1, text="встреча в чате", date=at(7), chat=OTHER_CHAT),
        )
    conn = sqlite3.connect(original)
    with conn:
        conn.execute("DELETE FROM raw_messages WHERE message_id = 3")  # pending, and gone
    conn.close()  # the last connection out folds the WAL into the file that is copied
    copy = tmp_path / "notebook" / "copy.db"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    copy.chmod(0o444)
    queries: list[tuple[str, dict[str, Any]]] = [
        ("встреча", {}),
        ("встреча", {"limit": 2}),
        ("встреча", {"chat_id": OWNER_ID}),
        ("встреча", {"chat_id": OWNER_ID, "limit": 1}),
        ("встреча отменена", {}),  # the indexed text of 2, edited since
        ("созвон", {}),
        ("план", {}),
        ("отчет", {}),
        ("офис", {}),
    ]
    done = subprocess.run(
        [
            *_without_write_permission(),
            sys.executable,
            "-c",
            _READ_ONLY_SEARCH,
            str(copy),
            json.dumps(queries),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    read_only = json.loads(done.stdout.splitlines()[-1])
    assert "search_index_not_refreshed" in done.stdout + done.stderr
    with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as conn:
        # Nothing was written: the answers above came without the queue drained.
        assert conn.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 5
    async with SqliteStore(original) as store:
        expected = [
            [
                [h.chat_id, h.message_id, h.version, h.matched_in, h.snippet, h.destination]
                for h in await store.search(query, **options)
            ]
            for query, options in queries
        ]
    assert read_only == expected
    assert [[h[1] for h in hits] for hits in read_only[:4]] == [
        [1, 6, 4, 1],
        [1, 6],
        [6, 4, 1],
        [6],
    ]
    assert read_only[5] == [[OWNER_ID, 2, 2, "message", "Созвон отменён", None]]
    assert read_only[7] == [] and read_only[4] == []


@pytest.mark.postgres
async def test_postgres_rows_inserted_directly_are_indexed_by_the_triggers(
    postgres_conformance_dsn: str,
) -> None:
    from superbrain_core.storage.postgres.store import PostgresStore
    from tests.storage.postgres import pgutil

    pgutil.truncate_all(postgres_conformance_dsn)
    with psycopg.connect(postgres_conformance_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO raw_messages (message_id, message_text, message_type, raw_telegram_json,"
            " chat_id, version, message_date, source, content_hash)"
            " SELECT n, 'встречу перенесли ' || n, 'text', '{}', 42, 1,"
            "  %s::timestamptz + n * interval '1 second', 'desktop_export', ''"
            " FROM generate_series(1, 300) n",
            (T0,),
        )
        conn.execute(
            "INSERT INTO raw_messages (message_id, message_text, message_type, raw_telegram_json,"
            " chat_id, version, message_date, source, content_hash)"
            " VALUES (2, 'правка без слова', 'text', '{}', 42, 2, %s, 'desktop_export', 'e')",
            (T0,),
        )
        conn.execute(
            "INSERT INTO raw_files (message_id, file_type, file_name, raw_metadata, chat_id,"
            " file_key) VALUES (3, 'document', 'отчёт.pdf', '{}', 42, 'k')"
        )
    async with PostgresStore(postgres_conformance_dsn) as store:
        hits = await store.search("встреча", limit=1000)
        assert len(hits) == 299 and 2 not in keys(hits)
        (report,) = await store.search("отчет")
        assert (report.message_id, report.matched_in) == (3, "file")
        with psycopg.connect(postgres_conformance_dsn, autocommit=True) as conn:
            conn.execute("UPDATE raw_messages SET message_text = 'отчёт' WHERE message_id = 4")
            conn.execute("DELETE FROM raw_messages WHERE message_id = 3")
        assert keys(await store.search("отчет")) == [4]
        assert (await store.search("отчет"))[0].matched_in == "message"


# -- the same data, the same answers ------------------------------------------------------


async def _a_day(store: Store) -> None:
    question = bot_message(30, "Это встреча или задача?", at(29))
    await capture(
        store,
        make_update(1, message_id=1, text="Завтра в 15:00 встреча с Олегом по бюджету", date=at(1)),
        make_update(
            2, message_id=2, text="Meeting notes: budget for 2027, two meetings", date=at(2)
        ),
        make_update(
            3,
            message_id=3,
            photo=[fake_file("photo", "r", 9000, width=90, height=160)],
            caption="Чек за обед 450 ₽",
            date=at(3),
        ),
        make_update(4, message_id=4, document=document("x", "Встречи_план.docx"), date=at(4)),
        make_update(5, message_id=5, text="Купить подарок к встрече", date=at(5)),
        make_update(
            6, message_id=6, text="Это задача, а не встреча", reply_to=question, date=at(31)
        ),
        make_update(7, message_id=7, text="Встреча отменена", date=at(7)),
        make_update(
            8, "edited_message", message_id=7, text="Созвон отменён", date=at(7), edit_date=9
        ),
        make_update(9, message_id=1, text="встреча в рабочем чате", date=at(8), chat=OTHER_CHAT),
        make_update(10, message_id=10, text="ёлка и елка, Ёжик", date=at(10)),
        # NUL inside a word: Postgres cannot store it and drops it, so SQLite must
        # read "про\0ект" as "проект" and "na\0me" as "name" too.
        make_update(11, message_id=11, text="Черновик про\x00екта готов", date=at(11)),
        make_update(12, message_id=12, document=document("n", "na\x00me.txt"), date=at(12)),
    )
    keywords = {"купить": ItemType.TASK, "встреча": ItemType.EVENT, "₽": ItemType.EXPENSE}
    assert (await run_batch(store, KeywordClassifier(keywords))).ok


QUERIES = [
    "встреча",
    "встречи",
    "Встречу",
    "бюджет",
    "budget",
    "meetings",
    "встреча budget",
    "чек",
    "обед 450",
    "план",
    "отменена",
    "созвон",
    "ёлки",
    "ежик",
    "задача",
    "проекты",
    "name",
    '"встреча" budget*',
]


@pytest.mark.postgres
async def test_postgres_answers_exactly_what_sqlite_answers(
    tmp_path: Path, postgres_conformance_dsn: str
) -> None:
    from superbrain_core.storage.postgres.store import PostgresStore
    from tests.storage.postgres import pgutil

    pgutil.truncate_all(postgres_conformance_dsn)
    async with (
        SqliteStore(tmp_path / "parity.db") as sqlite_store,
        PostgresStore(postgres_conformance_dsn) as postgres_store,
    ):
        await _a_day(sqlite_store)
        await _a_day(postgres_store)
        answered = 0
        for query in QUERIES:
            for options in ({}, {"chat_id": OWNER_ID}, {"limit": 2}):
                ours = await sqlite_store.search(query, **options)  # type: ignore[arg-type]
                theirs = await postgres_store.search(query, **options)  # type: ignore[arg-type]
                # Row ids and record ids are each database's own; everything else is equal.
                strip = ("raw_message_id", "record_id")
                assert [_without(h, strip) for h in ours] == [_without(h, strip) for h in theirs], (
                    query,
                    options,
                )
                answered += len(ours)
        assert answered > 30
        (draft,) = await sqlite_store.search("проект")
        assert draft.marked() == "Черновик [проекта] готов"
        (named,) = await sqlite_store.search("name")
        assert (named.matched_in, named.file_names) == ("file", ("name.txt",))
        filed = {h.message_id: h.destination for h in await postgres_store.search("встреча")}
        assert filed[1] == "events" and filed[5] == "tasks"


def _without(hit: SearchHit, fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in attrs.asdict(hit).items() if k not in fields}


@pytest.mark.postgres
def test_postgres_cuts_and_stems_text_as_python_does(postgres_conformance_dsn: str) -> None:
    """The SQL copy of the term rule against search.terms, on the demo's and these texts."""
    texts = [
        str(p["message"].get("text") or p["message"].get("caption") or "")
        for p in demo_day()
        if "message" in p
    ]
    texts += [*QUERIES, "Встреча: обсудить budget на 2027", "Бюджет_2027-v2.xlsx", "iPhoneы 15ого"]
    texts += [
        "нулевой \x00 символ",
        "na\x00me.txt про\x00ект",
        "половинка \ud83d суррогата",
        "ЁЛКА Ӏ ѢѢ",
        "a" * 120 + " b",
    ]
    texts += [f"{UPPER_FROM} {UPPER_FROM.lower()} İK café 1e5 0x1f 007 e1 12ab34"]
    with psycopg.connect(postgres_conformance_dsn) as conn:
        for text in texts:
            row = conn.execute(
                "SELECT superbrain_search_terms(%s)", (pgcodec.clean(text),)
            ).fetchone()
            assert row is not None and sorted(row[0]) == sorted(set(terms(text))), text
