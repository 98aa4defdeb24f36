"""Search on Postgres and Supabase: one call of ``superbrain_search_all`` (``sql/0008``;
0005's ``superbrain_search`` without the bot's messages).

The query goes to SQL as the user typed it: the database stems it with the same
Snowball dictionaries its index was built with, so a match never depends on
Python and Postgres agreeing on a rare word. Python's own terms
(:func:`superbrain_core.search.prepare`) are used only to refuse an empty query
before the call and to mark words in the snippet, which is cut here so that it
is the same on every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from superbrain_core.search import HitRow, SearchHit, make_hit

SEARCH_SQL = "SELECT * FROM superbrain_search_all(%s, %s, %s, %s, %s)"


def hits(
    rows: Iterable[Mapping[str, Any]], wanted: tuple[str, ...], ts: Callable[[Any], datetime]
) -> list[SearchHit]:
    """Rows of ``superbrain_search_all`` (driver rows or PostgREST JSON) as hits;
    ``ts`` decodes a timestamp the way the backend delivers it."""
    terms = frozenset(wanted)
    return [
        make_hit(
            HitRow(
                chat_id=r["chat_id"],
                message_id=r["message_id"],
                date=ts(r["message_date"]),
                message_type=r["message_type"],
                text=r["message_text"],
                text_matches=bool(r["text_matches"]),
                source=r["source"],
                version=r["version"],
                raw_message_id=r["raw_message_id"],
                file_names=tuple(r["file_names"] or ()),
                destination=r["destination"],
                record_id=r["record_id"],
                from_bot=bool(r.get("from_bot")),
            ),
            terms,
        )
        for r in rows
    ]
