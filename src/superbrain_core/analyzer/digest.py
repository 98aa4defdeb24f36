"""The short Russian summary of an analyzer run that the owner reads in the morning.

The owner wants short answers and wants to be asked when the system is unsure,
so the digest is a few lines of counts followed by the open questions, capped so
that a big backlog does not produce a wall of text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

import attrs

from superbrain_core import jsonutil

#: Destination table → how the owner calls it (nominative plural).
DESTINATION_NAMES: dict[str, str] = {
    "tasks": "задачи",
    "events": "события",
    "notes": "заметки",
    "files": "файлы",
    "people": "контакты",
    "links": "ссылки",
    "expenses": "расходы",
    "none": "без категории",
}

MAX_QUESTIONS = 10


@attrs.frozen
class Question:
    """An item filed with low confidence: the owner is asked to clarify by replying."""

    chat_id: int
    message_id: int
    title: str | None
    question: str
    confidence: float
    source: str = "bot"
    """Where the message came from: only what the bot received can be replied to
    (an imported message's id belongs to another numbering)."""


def plural(n: int, one: str, few: str, many: str) -> str:
    """Russian plural form for ``n`` (1 сообщение, 2 сообщения, 5 сообщений)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _short(text: str | None, limit: int = 60) -> str:
    # Titles come from classifiers and may hold half an emoji or a NUL; the
    # digest is stored and sent as text, so it must be clean.
    text = " ".join((jsonutil.clean_text(text) or "").replace("\x00", "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_digest(
    *,
    started_at: datetime,
    timezone: tzinfo,
    messages: int,
    routed: Mapping[str, int],
    moved: int,
    failed: int,
    quarantined: int,
    questions: Sequence[Question],
    asked: int | None = None,
    dry_run: bool = False,
    asked_separately: int = 0,
) -> str:
    """A few lines of Russian: what was filed where, what moved, what failed, what to answer.

    ``asked`` is how many items need an answer when ``questions`` holds only the
    first of them (a huge run keeps a bounded list). ``asked_separately`` counts
    questions sent on their own, each as a reply to the message it is about, so
    the digest points at them instead of repeating them.
    """
    total_questions = max((asked or 0) - asked_separately, len(questions))
    when = started_at.astimezone(timezone).strftime("%d.%m %H:%M")
    head = "Пробный разбор" if dry_run else "Разбор"
    word = plural(messages, "сообщение", "сообщения", "сообщений")
    lines = [f"{head} {when}: {messages} {word}."]
    if not messages and not failed and not quarantined:
        lines[0] = f"{head} {when}: новых сообщений нет."
    parts = [
        f"{DESTINATION_NAMES.get(dest, dest).capitalize()} {count}"
        for dest, count in sorted(routed.items(), key=lambda kv: (-kv[1], kv[0]))
        if count
    ]
    if parts:
        lines.append(" · ".join(parts))
    if moved:
        lines.append(f"Переложено после уточнений: {moved}.")
    if failed:
        lines.append(f"Не удалось разобрать: {failed}, попробую в следующий раз.")
    if quarantined:
        lines.append(
            f"Отложено до ручной проверки: {quarantined} (superbrain batch --retry-quarantined)."
        )
    if asked_separately:
        word = plural(asked_separately, "вопрос", "вопроса", "вопросов")
        lines.append(f"Ниже {asked_separately} {word}: ответьте на каждый, и я переложу.")
    if questions:
        lines.append("")
        lines.append("Уточните, ответом на сообщение:")
        for number, q in enumerate(questions[:MAX_QUESTIONS], start=1):
            title = _short(q.title)
            question = _short(q.question, 200)
            lines.append(f"{number}. «{title}» — {question}" if title else f"{number}. {question}")
        shown = min(len(questions), MAX_QUESTIONS)
        if total_questions > shown:
            rest = total_questions - shown
            lines.append(f"…и ещё {rest} {plural(rest, 'вопрос', 'вопроса', 'вопросов')}.")
    return "\n".join(lines)
