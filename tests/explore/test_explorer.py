"""The notebook API on every backend: synchronous calls, DataFrames with fixed dtypes,
times on the owner's clock, filters, chains, routing history and analyzer runs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import attrs
import pandas as pd
import pytest

from superbrain_core.analyzer.batch import BatchOptions, run_batch
from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import OWNER_ID, make_message, make_update
from superbrain_core.errors import ConfigError, StorageError, TransientStorageError
from superbrain_core.explore import notebook as explore
from superbrain_core.explore.notebook import Explorer
from superbrain_core.storage.sqlite import SqliteStore
from tests.storage.backends import StoreFactory
from tests.storage.conformance.test_explore_reads import CLASSIFIER, T0, fill

MOSCOW = "Europe/Moscow"


async def _fill_and_clarify(store_factory: StoreFactory) -> None:
    """:func:`fill`, then a clarification in the chain of message 1 ("купить", a task
    keyword), a second night that moves the message from events to tasks, and a
    message after it that is not processed yet."""
    async with store_factory() as store:
        await fill(store)
        fifth = make_message(5, text="нет, в 12", date=T0 + timedelta(minutes=7))
        await Capturer(store).capture(
            make_update(
                8,
                message_id=7,
                text="это не встреча, надо купить билеты",
                date=T0 + timedelta(minutes=8),
                reply_to=fifth,
            )
        )
        await run_batch(store, CLASSIFIER, BatchOptions())
        await Capturer(store).capture(
            make_update(9, message_id=8, text="потом", date=T0 + timedelta(days=1, hours=1))
        )


@pytest.fixture
def explorer(store_factory: StoreFactory) -> Iterator[Explorer]:
    anyio.run(_fill_and_clarify, store_factory)
    with Explorer(store_factory(), timezone=MOSCOW) as ex:
        yield ex


def at(text: str, zone: str = MOSCOW) -> pd.Timestamp:
    return pd.Timestamp(text, tz=zone)


def test_messages_every_version_with_typed_columns_on_the_owners_clock(
    explorer: Explorer,
) -> None:
    df = explorer.messages()
    assert list(df["id"]) == sorted(df["id"])
    first = df[(df["chat_id"] == OWNER_ID) & (df["message_id"] == 1)]
    assert list(first["version"]) == [1, 2]
    assert list(first["message_text"]) == ["встреча в пятницу", "встреча в субботу"]
    assert first["edit_date"].iloc[1] == at("2026-11-24 09:05")
    assert pd.isna(first["edit_date"].iloc[0])
    assert df["message_date"].iloc[0] == at("2026-11-24 09:00"), "06:00 UTC is 09:00 in Moscow"
    assert str(df["message_date"].dtype) == "datetime64[us, Europe/Moscow]"
    assert str(df["created_at"].dtype) == "datetime64[us, Europe/Moscow]"
    assert df["user_id"].dtype == "Int64" and df["id"].dtype == "int64"
    assert df["message_text"].dtype == "string" and df["is_processed"].dtype == bool
    assert "raw_telegram_json" not in df.columns
    raw = explorer.messages(raw=True)
    assert raw["raw_telegram_json"].iloc[0]["text"] == "встреча в пятницу"


def test_message_filters(explorer: Explorer) -> None:
    def ids(df: pd.DataFrame) -> list[tuple[int, int]]:
        return list(zip(df["chat_id"], df["message_id"], strict=True))

    # A naive bound is on the owner's clock: 10:00 in Moscow is 07:00 UTC.
    assert ids(explorer.messages(since="2026-11-24 10:00", until="2026-11-24 11:00")) == [(-500, 1)]
    assert ids(explorer.messages(since="2026-11-25")) == [(OWNER_ID, 6), (OWNER_ID, 8)]
    assert ids(explorer.messages(chat_id=-500)) == [(-500, 1)]
    assert ids(explorer.messages(message_type="photo")) == [(OWNER_ID, 2)]
    assert ids(explorer.messages(processed=False)) == [(OWNER_ID, 8)]
    assert ids(explorer.messages(chat_id=OWNER_ID, until=T0 + timedelta(minutes=1))) == [
        (OWNER_ID, 1),
        (OWNER_ID, 1),
    ]
    latest = explorer.messages(chat_id=OWNER_ID, latest_only=True)
    assert ids(latest) == [(OWNER_ID, m) for m in (1, 2, 4, 5, 6, 7, 8)]
    assert latest["message_text"].iloc[0] == "встреча в субботу"
    with pytest.raises(ValueError, match="not a date or time"):
        explorer.messages(since="вчера вечером")


def test_another_zone_moves_every_time_column(store_factory: StoreFactory) -> None:
    anyio.run(_fill_and_clarify, store_factory)
    with Explorer(store_factory(), timezone="Asia/Tokyo") as ex:
        df = ex.messages()
        assert df["message_date"].iloc[0] == at("2026-11-24 15:00", "Asia/Tokyo")
        # The same wall-clock bound now means another instant: 17:00 in Tokyo is 08:00
        # UTC, so the photo sent at 11:00 in Moscow (08:00 UTC) is in.
        assert list(ex.messages(since="2026-11-24 17:00")["message_id"]) == [2, 6, 8]
        assert str(ex.routing()["created_at"].dtype) == "datetime64[us, Asia/Tokyo]"


def test_chains_one_row_per_chain_with_replies_in_order(explorer: Explorer) -> None:
    chains = explorer.chains()
    assert len(chains) == 1
    row = chains.iloc[0]
    assert (row["chat_id"], row["original_message_id"]) == (OWNER_ID, 1)
    assert row["reply_message_ids"] == [4, 5, 7] and row["n_replies"] == 3
    assert [r["text"] for r in row["replies"]] == [
        "в 11",
        "нет, в 12",
        "это не встреча, надо купить билеты",
    ]
    assert row["replies"][0]["date"] == at("2026-11-24 09:06")
    assert row["last_reply_at"] == at("2026-11-24 09:08")
    assert explorer.chains(chat_id=-500).empty
    assert explorer.chains(until="2020-01-01").empty
    assert len(explorer.chains(since="2020-01-01")) == 1

    members = explorer.chain(OWNER_ID, 5)
    assert list(members["message_id"]) == [1, 4, 5, 7]
    assert list(members["role"]) == ["root", "reply", "reply", "reply"]
    assert members["text"].iloc[0] == "встреча в субботу", "the root's newest version"
    assert members["date"].iloc[0] == at("2026-11-24 09:00")
    assert explorer.chain(-500, 1).empty


def test_routing_history_shows_the_clarification_moving_the_root(explorer: Explorer) -> None:
    history = explorer.routing(chat_id=OWNER_ID, message_id=1)
    assert list(history["destination"]) == ["events", "tasks"]
    assert list(history["current"]) == [False, True]
    assert list(history["type"]) == ["event", "task"]
    assert history["superseded_at"].iloc[0] >= history["created_at"].iloc[0]
    runs = explorer.batch_runs()
    last = int(runs["id"].iloc[-1])
    night = explorer.routing(run_id=last)
    assert sorted(zip(night["message_id"], night["destination"], strict=True)) == [
        (1, "tasks"),
        (6, "notes"),
    ]
    assert len(explorer.routing()) == 5
    assert list(explorer.routing(chat_id=-500)["destination"]) == ["tasks"]
    assert explorer.routing(until="2020-01-01").empty
    assert len(explorer.routing(since="2020-01-01")) == 5
    with pytest.raises(ValueError, match="needs chat_id"):
        explorer.routing(message_id=1)


def test_records_per_table(explorer: Explorer) -> None:
    tasks = explorer.records("tasks")
    assert sorted(zip(tasks["chat_id"], tasks["message_id"], strict=True)) == [
        (-500, 1),
        (OWNER_ID, 1),
    ]
    assert list(tasks.columns) == [
        "id",
        "raw_message_id",
        "chat_id",
        "message_id",
        "title",
        "due_at",
        "status",
        "created_at",
        "updated_at",
    ]
    assert str(tasks["due_at"].dtype) == "datetime64[us, Europe/Moscow]"
    assert list(explorer.records("tasks", chat_id=-500)["message_id"]) == [1]
    assert explorer.records("events").empty, "the clarification moved the event away"
    expenses = explorer.records("expenses")
    assert expenses["amount"].dtype == "float64" and expenses.empty
    with pytest.raises(ValueError, match="unknown table 'meetings'"):
        explorer.records("meetings")


def test_batch_runs_with_counts_as_columns(explorer: Explorer) -> None:
    runs = explorer.batch_runs()
    assert len(runs) == 2 and list(runs["status"]) == ["ok", "ok"]
    assert list(runs["claimed"]) == [6, 2]
    assert list(runs["moved"]) == [0, 1]
    assert runs["claimed"].dtype == "Int64"
    assert runs["routed"].iloc[1] == {"tasks": 1, "notes": 1}
    assert (runs["duration"] >= pd.Timedelta(0)).all()
    assert str(runs["started_at"].dtype) == "datetime64[us, Europe/Moscow]"


def test_files(explorer: Explorer) -> None:
    files = explorer.files()
    assert list(zip(files["message_id"], files["file_type"], files["status"], strict=True)) == [
        (2, "photo", "pending")
    ]
    assert files["file_size"].dtype == "Int64"
    assert len(explorer.files(status="pending")) == 1
    assert explorer.files(status="stored").empty
    assert explorer.files(chat_id=-500).empty
    with pytest.raises(ValueError, match="'lost'"):
        explorer.files(status="lost")


def test_search_finds_every_form_newest_first_with_where_it_is_filed(
    explorer: Explorer,
) -> None:
    hits = explorer.search("встречу")
    assert list(hits["message_id"]) == [7, 1], "newest first; each message once"
    assert hits["date"].iloc[1] == at("2026-11-24 09:00")
    assert list(hits["destination"]) == ["tasks", "tasks"], (
        "the clarification is filed with its root"
    )
    assert hits["snippet"].iloc[1] == "встреча в субботу", "the newest version"
    assert hits["record_id"].dtype == "Int64" and hits["snippet"].dtype == "string"
    group = explorer.search("купить", chat_id=-500)
    assert list(zip(group["chat_id"], group["message_id"], strict=True)) == [(-500, 1)]
    assert explorer.search("встреча", until="2026-11-24").empty
    with pytest.raises(ValueError, match="nothing to search for"):
        explorer.search("  ")


def test_small_pages_give_the_same_frames(store_factory: StoreFactory) -> None:
    anyio.run(_fill_and_clarify, store_factory)
    with (
        Explorer(store_factory(), page_size=1000) as big,
        Explorer(store_factory(), page_size=2) as small,
    ):
        pd.testing.assert_frame_equal(big.messages(), small.messages())
        pd.testing.assert_frame_equal(big.routing(), small.routing())
        pd.testing.assert_frame_equal(big.records("tasks"), small.records("tasks"))
        pd.testing.assert_frame_equal(big.batch_runs(), small.batch_runs())


def test_empty_frames_have_the_same_columns_and_dtypes(explorer: Explorer) -> None:
    filled = {
        "messages": explorer.messages(),
        "chains": explorer.chains(),
        "routing": explorer.routing(),
        "files": explorer.files(),
        "tasks": explorer.records("tasks"),
        "chain": explorer.chain(OWNER_ID, 1),
    }
    empty = {
        "messages": explorer.messages(since="2030-01-01"),
        "chains": explorer.chains(chat_id=1),
        "routing": explorer.routing(chat_id=1),
        "files": explorer.files(chat_id=1),
        "tasks": explorer.records("tasks", chat_id=1),
        "chain": explorer.chain(1, 1),
    }
    for name, df in empty.items():
        assert df.empty and not filled[name].empty, name
        assert list(df.dtypes.items()) == list(filled[name].dtypes.items()), name


def test_works_from_inside_a_running_event_loop(explorer: Explorer) -> None:
    """Jupyter runs cells inside its own asyncio loop, where asyncio.run would fail."""

    async def cell() -> int:
        asyncio.get_running_loop()
        return len(explorer.messages())

    assert asyncio.run(cell()) == 9


def test_run_calls_any_store_method(explorer: Explorer) -> None:
    stats = explorer.run(lambda s: s.stats())
    assert stats.tables["raw_messages"] == 9


def test_a_closed_explorer_refuses_and_closing_twice_is_fine(store_factory: StoreFactory) -> None:
    ex = Explorer(store_factory())
    assert "open" in repr(ex)
    ex.close()
    ex.close()
    assert "closed" in repr(ex)
    with pytest.raises(StorageError, match="closed"):
        ex.messages()


def test_bad_urls_and_zones_are_clear_errors_and_leave_no_thread() -> None:
    def loops() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "superbrain-explore"]

    assert loops() == []
    with pytest.raises(ConfigError, match="unsupported database URL scheme 'mysql'"):
        explore.open("mysql://localhost/brain")
    with pytest.raises(ConfigError, match="SUPERBRAIN_TIMEZONE"):
        explore.open("sqlite:///:memory:", timezone="Mars/Olympus")
    with pytest.raises(TransientStorageError, match="cannot connect to Postgres"):
        explore.open("postgresql://nobody@127.0.0.1:1/brain")
    assert loops() == [], "a failed open stops its event loop thread"


def test_open_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    anyio.run(_create, tmp_path / "env.db")
    monkeypatch.setenv("SUPERBRAIN_DB", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("SUPERBRAIN_TIMEZONE", "Asia/Yekaterinburg")
    with explore.open() as ex:
        assert ex.store.backend == "sqlite" and ex.timezone == "Asia/Yekaterinburg"
        assert ex.messages().empty


async def _create(path: Path) -> None:
    async with SqliteStore(path):
        pass


def test_open_reads_and_never_creates(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "superbrian.db"
    with pytest.raises(ConfigError, match="does not exist: nothing was created"):
        explore.open(f"sqlite:///{missing}")
    assert not (tmp_path / "typo").exists()
    anyio.run(_create, tmp_path / "real.db")
    before = (tmp_path / "real.db").read_bytes()
    with explore.open(f"sqlite:///{tmp_path / 'real.db'}") as ex:
        assert ex.messages().empty
    assert (tmp_path / "real.db").read_bytes() == before


def test_without_pandas_the_core_imports_and_explore_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import superbrain_core\n"
        "try:\n"
        "    import superbrain_core.explore.notebook\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'superbrain-core[notebook]'" in result.stdout


def test_works_as_a_context_manager(tmp_path: Path) -> None:
    anyio.run(_create, tmp_path / "cm.db")
    with explore.open(f"sqlite:///{tmp_path / 'cm.db'}") as ex:
        assert isinstance(ex, Explorer) and "open" in repr(ex)
        assert ex.messages().empty
    assert "closed" in repr(ex)
    with pytest.raises(StorageError, match="closed"):
        ex.messages()


def test_a_script_that_never_closes_its_explorer_still_exits(tmp_path: Path) -> None:
    """The store's loop runs in a background thread; a forgotten ``close()`` must not
    keep the interpreter from exiting (it used to hang there for ever)."""
    anyio.run(_create, tmp_path / "script.db")
    url = f"sqlite:///{tmp_path / 'script.db'}"
    code = (
        "from superbrain_core.explore import notebook as explore\n"
        f"ex = explore.open({url!r})\n"
        "print(len(ex.messages()), 'messages')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 messages"


async def _tasks_due_far_ahead(store_factory: StoreFactory) -> None:
    from superbrain_core.analyzer.classify.keywords import KeywordClassifier
    from superbrain_core.analyzer.classify.schema import Classification, ClassifierInput, ItemType

    due = {
        "купить на потом": datetime(3000, 1, 1, 9, 0, tzinfo=UTC),
        "купить навсегда": datetime(9999, 12, 31, 22, 0, tzinfo=UTC),  # 10000 in Moscow
    }

    class FarAhead(KeywordClassifier):
        async def classify(self, item: ClassifierInput) -> Classification:
            verdict = await super().classify(item)
            return attrs.evolve(verdict, type=ItemType.TASK, due_at=due[item.text or ""])

    async with store_factory() as store:
        for i, text in enumerate(due, start=1):
            await Capturer(store).capture(make_update(i, message_id=i, text=text))
        report = await run_batch(store, FarAhead({"купить": ItemType.TASK}), BatchOptions())
        assert report.counts()["placed"] == 2, report.failures


def test_tasks_due_in_a_far_future_year_stay_printable(store_factory: StoreFactory) -> None:
    anyio.run(_tasks_due_far_ahead, store_factory)
    with Explorer(store_factory(), timezone=MOSCOW) as ex:
        tasks = ex.records("tasks")
    text = str(tasks) + repr(tasks) + tasks.to_string()
    # Past 9999 on the owner's clock, that one is shown in UTC (the column is object).
    assert "3000-01-01 12:00:00+03:00" in text and "9999-12-31 22:00:00+00:00" in text
    assert tasks["due_at"].dtype == object
    assert str(tasks["created_at"].dtype) == "datetime64[us, Europe/Moscow]", "others unchanged"


@pytest.mark.parametrize(
    "value",
    ["9999-12-31T23:59:59+00:00", datetime(9999, 12, 31, 23, 0, tzinfo=UTC)],
)
def test_a_time_past_year_9999_on_the_owners_clock_falls_back_to_python_datetimes(
    value: object,
) -> None:
    from superbrain_core.explore import frames

    column = frames.times(pd.Series([value, None, "2026-11-24T06:00:00Z"], dtype=object), MOSCOW)
    assert column.dtype == object
    assert str(column[0]).startswith("9999-12-31 23:") and "+00:00" in str(column[0])
    assert column[1] is None and str(column[2]) == "2026-11-24 09:00:00+03:00"
    frame = frames.frame([{"due_at": value}], {"due_at": frames.TIME}, MOSCOW)
    assert "9999-12-31" in repr(frame) and "9999-12-31" in frame.to_string()


def test_a_time_pandas_cannot_hold_makes_an_object_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pandas 2 reads times in nanoseconds, which end in 2262: a task due in 3000
    overflowed there. Whatever pandas says, the column stays readable."""
    from superbrain_core.explore import frames

    def overflow(*args: object, **kwargs: object) -> object:
        raise pd.errors.OutOfBoundsDatetime("Out of bounds nanosecond timestamp: 3000-01-01")

    monkeypatch.setattr(frames.pd, "to_datetime", overflow)
    column = frames.times(pd.Series(["3000-01-01T06:00:00+00:00", None], dtype=object), MOSCOW)
    assert column.dtype == object and column[1] is None
    assert str(column[0]) == "3000-01-01 09:00:00+03:00"


def test_build_demo_replaces_only_what_the_demo_wrote(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    (demo_dir / "keep.ipynb").write_text("{}", encoding="utf-8")
    for _ in range(2):
        url = explore.build_demo(tmp_path)
        assert url == f"sqlite:///{(demo_dir / 'demo.db').resolve()}"
    assert (demo_dir / "keep.ipynb").read_text(encoding="utf-8") == "{}"
    with explore.open(url) as ex:
        assert len(ex.records("tasks")) == 1


def test_build_demo_refuses_a_database_it_did_not_make(tmp_path: Path) -> None:
    anyio.run(_create, tmp_path / "demo" / "demo.db")
    anyio.run(_capture_one, tmp_path / "demo" / "demo.db")
    before = (tmp_path / "demo" / "demo.db").read_bytes()
    with pytest.raises(ConfigError, match="not made by `superbrain demo`"):
        explore.build_demo(tmp_path)
    assert (tmp_path / "demo" / "demo.db").read_bytes() == before


async def _capture_one(path: Path) -> None:
    async with SqliteStore(path) as store:
        await Capturer(store).capture(make_update(1, message_id=1, text="моё"))
