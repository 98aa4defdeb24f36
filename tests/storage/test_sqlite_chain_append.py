"""A chain's replies list on SQLite: appending a reply that sorts last to the stored text
gives exactly the text that decoding, sorting and re-encoding the whole list gives.

:func:`~superbrain_core.storage.sqlite.chains.update_chain_member` takes the
append path for replies arriving in order and the full path for the rest
(a late reply, an edit of a listed reply); whatever the arrival order, the
stored text after every step must be the full path's.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from superbrain_core.demo.samples import make_message
from superbrain_core.storage.sqlite import chains
from superbrain_core.storage.sqlite.connection import connect
from superbrain_core.telegram import normalize_message

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NOW = "2026-11-24T12:00:00.000000+00:00"


def replies_after_each_step(
    path: Path, steps: list[tuple[int, int, str]], monkeypatch: pytest.MonkeyPatch, full: bool
) -> list[str]:
    with monkeypatch.context() as patch:
        if full:
            patch.setattr(chains, "_appendable", lambda replies: False)
        conn = connect(str(path), "NORMAL")
        try:
            return _apply(conn, steps)
        finally:
            conn.close()


def _apply(conn: sqlite3.Connection, steps: list[tuple[int, int, str]]) -> list[str]:
    conn.execute(
        "INSERT INTO message_chains (chain_id, original_message_id, replies, created_at,"
        " updated_at, chat_id) VALUES ('c', 1, '[]', ?, ?, 1)",
        (NOW, NOW),
    )
    texts = []
    for n, minute, text in steps:
        body = make_message(
            n,
            text=text,
            date=T0 + timedelta(minutes=minute),
            chat={"id": 1, "type": "private"},
            reply_to=make_message(1, text="корень", chat={"id": 1, "type": "private"}),
        )
        chains.update_chain_member(conn, "c", normalize_message(body), NOW)
        (stored,) = conn.execute("SELECT replies FROM message_chains").fetchone()
        texts.append(str(stored))
    return texts


@pytest.mark.parametrize("seed", range(6))
def test_appending_gives_the_text_of_the_whole_list_re_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    steps: list[tuple[int, int, str]] = []
    for n in range(2, 40):
        # Mostly in order; some late, some sharing a minute, some edited later.
        minute = n if rng.random() < 0.8 else rng.randint(0, 45)
        steps.append((n, minute, rng.choice(["да", "нет", None, "ок\u2028", 'в "кавычках"'])))
        if rng.random() < 0.2:
            steps.append((rng.randint(2, n), minute, "правка"))
    steps.insert(5, (1, 0, "корень, исправленный"))  # the root itself: no entry
    fast = replies_after_each_step(tmp_path / "fast.db", steps, monkeypatch, full=False)
    full = replies_after_each_step(tmp_path / "full.db", steps, monkeypatch, full=True)
    assert fast == full
