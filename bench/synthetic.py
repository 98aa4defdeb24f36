"""Synthetic Bot API traffic for the benchmarks: a realistic mix, reproducible by seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from superbrain_core.demo.samples import DAY_START, fake_file, make_message

PHRASES = [
    "Завтра в 10 созвон с командой",
    "Купить молоко и хлеб",
    "Напомни позвонить маме в пятницу",
    "Потратил 1 250 ₽ на обед",
    "https://example.org/article интересная статья",
    "Идея: сделать бота для заметок",
    "Meeting with Oleg on Monday at 3pm",
]


def synthetic_updates(
    n: int, *, seed: int = 7, first_update_id: int = 1
) -> Iterator[dict[str, Any]]:
    """``n`` updates: mostly text, some photos, replies (chains) and edits."""
    rng = random.Random(seed)
    next_message = 1
    sent: list[dict[str, Any]] = []
    for i in range(n):
        update_id = first_update_id + i
        when = DAY_START + timedelta(seconds=i)
        roll = rng.random()
        if roll < 0.05 and sent:
            original = rng.choice(sent)
            edited = dict(
                original,
                text=original.get("text", "") + " (испр.)",
                edit_date=int(when.timestamp()),
            )
            yield {"update_id": update_id, "edited_message": edited}
            continue
        fields: dict[str, Any] = {}
        if roll < 0.15 and sent:
            fields["reply_to"] = rng.choice(sent[-50:])
        if roll > 0.85:
            fields["photo"] = [fake_file("photo", f"p{i}", 50_000 + i, width=1280, height=960)]
            fields["caption"] = rng.choice(PHRASES)
        else:
            fields["text"] = f"{rng.choice(PHRASES)} #{i}"
        message = make_message(next_message, date=when, **fields)
        next_message += 1
        sent.append({k: v for k, v in message.items() if k != "reply_to_message"})
        if len(sent) > 500:
            sent = sent[-500:]
        yield {"update_id": update_id, "message": message}
