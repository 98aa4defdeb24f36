"""Explore a store from a notebook: synchronous calls that return pandas DataFrames.

    from superbrain_core.explore import notebook as explore

    with explore.open("sqlite:///superbrain.db") as ex:
        ex.messages(since="2026-11-24", chat_id=100500, message_type="text", processed=False)

The library is async-only, but a notebook cell is synchronous, and Jupyter
already runs an asyncio loop in the kernel's thread, so ``asyncio.run`` fails
there. An :class:`Explorer` therefore owns a private event loop in a
background thread (an anyio blocking portal): the store is opened, used and
closed on that loop, and each method blocks the caller until its answer is
back. The same object works in a plain script and inside a running loop.

Reads page through the store by key (:meth:`Store.list_messages` and friends),
a page at a time, and filters apply in the store where it can filter; the
resulting DataFrame is, of course, in memory. Times are tz-aware in the owner's
zone (``SUPERBRAIN_TIMEZONE``, default Europe/Moscow); a naive ``since`` or
``until`` is read on that clock too.

Needs the ``notebook`` extra: ``pip install 'superbrain-core[notebook]'``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import weakref
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from superbrain_core.errors import StorageError

# Without pandas this import raises the ImportError that names the extra.
from superbrain_core.explore import frames
from superbrain_core.models import FileStatus
from superbrain_core.records import TABLE_COLUMNS
from superbrain_core.settings import Settings, zone_setting
from superbrain_core.storage import Store, open_store
from superbrain_core.storage.base import MessageFilter

T = TypeVar("T")
R = TypeVar("R")
C = TypeVar("C")

#: Explorers not closed yet. A script that never calls ``close()`` still exits:
#: they are closed at exit, while their loop threads can still run. Left to the
#: interpreter's final clean-up instead, closing would wait for a loop thread
#: that can no longer take the GIL, and the process would never end.
_OPEN: weakref.WeakSet[Explorer] = weakref.WeakSet()


@atexit.register
def _close_forgotten() -> None:
    for explorer in list(_OPEN):
        with contextlib.suppress(Exception):
            explorer.close()


def open(
    url: str | None = None,
    *,
    timezone: str | None = None,
    page_size: int = 1000,
) -> Explorer:
    """An :class:`Explorer` on ``url`` (default: ``SUPERBRAIN_DB``), already open.

    ``timezone`` defaults to ``SUPERBRAIN_TIMEZONE`` (Europe/Moscow). Raises
    :class:`ConfigError` for a URL no backend takes, and whatever opening the
    store raises (a database that cannot be reached, a schema that is behind).
    """
    settings = Settings.from_env(db_url=url, timezone=timezone)
    store = open_store(settings.db_url, read_only=True)
    return Explorer(store, timezone=settings.timezone, page_size=page_size)


def build_demo(data_dir: str | Path, *, timezone: str = "Europe/Moscow") -> str:
    """Run ``superbrain demo`` into ``data_dir/demo/demo.db`` and return its URL.

    The demo's narration is discarded; the database it leaves behind is the
    point: a day of captured messages, two analyzer nights and a clarification
    that moved an item. No network, no token. As with the command, only what an
    earlier demo wrote there is replaced; a database the demo did not make raises
    :class:`ConfigError` and nothing is touched.
    """
    from rich.console import Console

    from superbrain_core.demo.scenario import run_demo

    # force_jupyter=False: inside a notebook Rich would otherwise display the
    # narration in the cell whatever file it was given.
    quiet = Console(file=io.StringIO(), width=120, force_jupyter=False)
    with start_blocking_portal() as portal:
        report = portal.call(functools.partial(run_demo, Path(data_dir), quiet, timezone=timezone))
    return f"sqlite:///{report.db_path.resolve()}"


class Explorer:
    """Synchronous, DataFrame-returning reads of one store, for notebooks.

    Opening the store happens in the constructor; use it as a context manager
    or call :meth:`close` (one still open when the program exits is closed
    then). Not for concurrent use from several threads.
    """

    def __init__(
        self, store: Store, *, timezone: str = "Europe/Moscow", page_size: int = 1000
    ) -> None:
        zone_setting(timezone)
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.store = store
        self.timezone = timezone
        self._page_size = page_size
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = self._stack.enter_context(
            start_blocking_portal(name="superbrain-explore")
        )
        try:
            self._portal.call(store.open)
        except BaseException:
            self._portal = None
            self._stack.close()
            raise
        _OPEN.add(self)

    def __repr__(self) -> str:
        state = "open" if self._portal is not None else "closed"
        return f"<Explorer {self.store.backend} {self.timezone} {state}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the store and stop the background loop; safe to call twice."""
        portal, self._portal = self._portal, None
        if portal is None:
            return
        _OPEN.discard(self)
        try:
            portal.call(self.store.close)
        finally:
            self._stack.close()

    def run(self, fn: Callable[[Store], Awaitable[T]]) -> T:
        """Any async :class:`Store` call, synchronously: ``ex.run(lambda s: s.stats())``."""
        if self._portal is None:
            raise StorageError("this Explorer is closed")
        return self._portal.call(fn, self.store)

    # -- the frames ----------------------------------------------------------------

    def messages(
        self,
        *,
        since: frames.Moment = None,
        until: frames.Moment = None,
        chat_id: int | None = None,
        message_type: str | None = None,
        processed: bool | None = None,
        latest_only: bool = False,
        raw: bool = False,
    ) -> frames.DataFrame:
        """Raw messages, every version (an edit is a row of its own), by id.

        ``since``/``until``: Telegram's message date in ``[since, until)``;
        ``processed``: whether the analyzer has settled the version.
        ``latest_only`` keeps each message's newest matching version; ``raw``
        adds the verbatim Bot API JSON (``raw_telegram_json``).
        """
        where = MessageFilter(
            since=self._moment(since),
            until=self._moment(until),
            chat_id=chat_id,
            message_type=message_type,
            processed=processed,
        )
        found = self._all(
            lambda after, limit: self.store.list_messages(where, after_id=after, limit=limit),
            0,
            lambda m: m.id,
        )
        schema = {**frames.MESSAGES, **(frames.RAW_JSON if raw else {})}
        df = frames.frame([frames.message_row(m, raw=raw) for m in found], schema, self.timezone)
        if latest_only:
            newest = df.groupby(["chat_id", "message_id"])["version"].transform("max")
            df = df[df["version"] == newest].reset_index(drop=True)
        return df

    def files(
        self,
        *,
        status: FileStatus | str | None = None,
        chat_id: int | None = None,
        since: frames.Moment = None,
        until: frames.Moment = None,
    ) -> frames.DataFrame:
        """File descriptors and where their bytes stand, by id; ``since``/``until``
        bound when the descriptor was stored."""
        wanted = FileStatus(status) if status is not None else None
        start, end = self._moment(since), self._moment(until)
        found = self._all(
            lambda after, limit: self.store.list_files(status=wanted, after_id=after, limit=limit),
            0,
            lambda f: f.id,
            keep=lambda f: (
                (chat_id is None or f.chat_id == chat_id)
                and (start is None or f.uploaded_at >= start)
                and (end is None or f.uploaded_at < end)
            ),
        )
        return frames.frame([frames.file_row(f) for f in found], frames.FILES, self.timezone)

    def chains(
        self,
        *,
        chat_id: int | None = None,
        since: frames.Moment = None,
        until: frames.Moment = None,
    ) -> frames.DataFrame:
        """One row per chain: the root and its replies in arrival order (``replies``, a
        list of dicts; ``reply_message_ids``), oldest chain first. ``since``/``until``
        bound when the chain started."""
        start, end = self._moment(since), self._moment(until)
        found = self._all(
            lambda after, limit: self.store.list_chains(chat_id=chat_id, after=after, limit=limit),
            None,
            lambda c: c.chain_id,
            keep=lambda c: (
                (start is None or c.created_at >= start) and (end is None or c.created_at < end)
            ),
        )
        rows = [frames.chain_row(c, self.timezone) for c in found]
        df = frames.frame(rows, frames.CHAINS, self.timezone)
        return df.sort_values(["created_at", "chain_id"], kind="stable").reset_index(drop=True)

    def chain(self, chat_id: int, message_id: int) -> frames.DataFrame:
        """The chain a message belongs to, one row per member: the root, then each
        reply in arrival order. Empty when the message is in no chain."""

        async def read(store: Store) -> list[dict[str, Any]]:
            found = await store.chain_of(chat_id, message_id)
            if found is None:
                return []
            root = await store.get_message(found.chat_id, found.original_message_id)
            return frames.chain_member_rows(found, root)

        return frames.frame(self.run(read), frames.CHAIN_MEMBERS, self.timezone)

    def records(self, table: str, *, chat_id: int | None = None) -> frames.DataFrame:
        """What the analyzer filed into one structured table (``events``, ``tasks``,
        ``notes``, ``files``, ``people``, ``links``, ``expenses``), by id."""
        if table not in TABLE_COLUMNS:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLE_COLUMNS)}")
        found = self._all(
            lambda after, limit: self.store.list_records(table, after_id=after, limit=limit),
            0,
            lambda r: int(r["id"]),
            keep=lambda r: chat_id is None or r["chat_id"] == chat_id,
        )
        return frames.frame(found, frames.record_schema(table), self.timezone)

    def routing(
        self,
        *,
        since: frames.Moment = None,
        until: frames.Moment = None,
        run_id: int | None = None,
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> frames.DataFrame:
        """Every placement ever made (``routing_log``), superseded ones included, by id.

        ``current`` marks where each message lives now; ``type`` and ``title``
        come from the classification. ``run_id`` picks one analyzer run;
        ``message_id`` (with ``chat_id``) one message's whole history.
        """
        if message_id is not None:
            if chat_id is None:
                raise ValueError("routing(message_id=...) needs chat_id too")
            history = self.run(lambda s: s.routing_history(chat_id, message_id))
            start, end = self._moment(since), self._moment(until)
            found = [
                e
                for e in history
                if (run_id is None or e.run_id == run_id)
                and (start is None or e.created_at >= start)
                and (end is None or e.created_at < end)
            ]
        else:
            start, end = self._moment(since), self._moment(until)
            found = self._all(
                lambda after, limit: self.store.list_routing(
                    since=start,
                    until=end,
                    run_id=run_id,
                    chat_id=chat_id,
                    after_id=after,
                    limit=limit,
                ),
                0,
                lambda e: e.id,
            )
        return frames.frame([frames.routing_row(e) for e in found], frames.ROUTING, self.timezone)

    def batch_runs(self) -> frames.DataFrame:
        """Analyzer runs, oldest first, with their counts as columns (``claimed``,
        ``moved``, … and ``routed``, a dict of table → count)."""
        found = self._all(
            lambda after, limit: self.store.list_batch_runs(after_id=after, limit=limit),
            0,
            lambda r: r.id,
        )
        schema = frames.batch_run_schema(found)
        return frames.frame(frames.batch_run_rows(found, schema), schema, self.timezone)

    def search(
        self,
        query: str,
        *,
        limit: int = 50,
        chat_id: int | None = None,
        since: frames.Moment = None,
        until: frames.Moment = None,
    ) -> frames.DataFrame:
        """Messages holding every word of ``query`` in any form (:meth:`Store.search`),
        newest first, one row each, with a snippet and where the analyzer filed it.
        Raises ``ValueError`` for a query with no searchable word."""
        start, end = self._moment(since), self._moment(until)
        hits = self.run(
            lambda s: s.search(query, limit=limit, chat_id=chat_id, since=start, until=end)
        )
        rows = [frames.search_hit_row(h) for h in hits]
        return frames.frame(rows, frames.SEARCH_HITS, self.timezone)

    # -- plumbing ------------------------------------------------------------------

    def _moment(self, value: frames.Moment) -> datetime | None:
        return frames.moment(value, self.timezone)

    def _all(
        self,
        fetch: Callable[[C, int], Awaitable[list[R]]],
        start: C,
        cursor: Callable[[R], C],
        keep: Callable[[R], bool] | None = None,
    ) -> list[R]:
        """Every row ``fetch`` pages through from ``start``, one page per store call,
        keeping only what ``keep`` accepts as each page arrives."""
        size = self._page_size

        async def collect(_: Store) -> list[R]:
            found: list[R] = []
            after = start
            while True:
                page = await fetch(after, size)
                found.extend(page if keep is None else [r for r in page if keep(r)])
                if len(page) < size:
                    return found
                after = cursor(page[-1])

        return self.run(collect)


__all__ = ["Explorer", "build_demo", "open"]
