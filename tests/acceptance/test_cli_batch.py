"""`superbrain batch` and `superbrain explain` in a real subprocess, against a real
loopback HTTP classifier: exit codes, what is reported, and that nothing is lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from superbrain_core.demo.samples import OWNER_ID, make_message, make_update

from .loopback import classifier
from .test_cli import run, write

Answer = Callable[[dict[str, object]], tuple[int, str]]


@pytest.fixture
def classifier_http() -> Iterator[tuple[str, list[Answer]]]:
    """A real HTTP server on loopback playing the n8n workflow; tests set its answer."""
    answer: list[Answer] = []
    with classifier(lambda body: answer[-1](body)) as url:
        yield url, answer


def by_keyword(body: dict[str, object]) -> tuple[int, str]:
    text = str(body.get("message") or "").casefold()
    chain = " ".join(str(m.get("text") or "") for m in body.get("chain", []))  # type: ignore[attr-defined]
    if "встреча" in chain.casefold():
        return 200, json.dumps({"type": "встреча", "confidence": 92, "title": text})
    if "купить" in text:
        return 200, json.dumps([{"output": {"type": "task", "confidence": 0.9, "title": text}}])
    return 200, json.dumps({"type": "note", "confidence": 0.6, "question": "Это заметка?"})


def processed(tmp_path: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        return conn.execute(
            "SELECT message_id, is_processed FROM raw_messages ORDER BY message_id"
        ).fetchall()


def seed(tmp_path: Path) -> None:
    updates = [
        make_update(1, message_id=1, text="Купить билеты"),
        make_update(2, message_id=2, text="Просто мысль"),
        make_update(3, message_id=3, text="сломай классификатор"),
    ]
    path = write(tmp_path / "u.json", json.dumps(updates, ensure_ascii=False))
    assert run(tmp_path, "ingest", path).returncode == 0


def test_batch_files_messages_and_explain_shows_the_correction(
    tmp_path: Path, classifier_http: tuple[str, list[Answer]]
) -> None:
    url, answer = classifier_http
    answer.append(by_keyword)
    updates = [
        make_update(1, message_id=1, text="Купить билеты"),
        make_update(2, message_id=2, text="Просто мысль"),
    ]
    assert run(tmp_path, "ingest", write(tmp_path / "u.json", json.dumps(updates))).returncode == 0
    env = {"N8N_WEBHOOK_BASE": url}
    first = run(tmp_path, "batch", "--classifier", "webhook", env=env)
    assert first.returncode == 0, first.stderr
    assert "Разбор" in first.stdout and "«Просто мысль» — Это заметка?" in first.stdout
    assert processed(tmp_path) == [(1, 1), (2, 1)]

    reply = make_update(
        3, message_id=3, text="нет, это встреча", reply_to=make_message(1, text="Купить билеты")
    )
    assert run(tmp_path, "ingest", write(tmp_path / "r.json", json.dumps(reply))).returncode == 0
    second = run(tmp_path, "batch", "--classifier", "webhook", env=env)
    assert second.returncode == 0, second.stderr
    assert "Переложено после уточнений: 1." in second.stdout

    explained = run(tmp_path, "explain", f"{OWNER_ID}:3")
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    assert "filed under message 1" in out
    assert out.index("tasks") < out.index("events") and "superseded" not in out.split("events")[-1]
    assert "нет, это встреча" in out and "Now in events" in out

    # The owner's clarification is an example: the next message like it is sent
    # to the workflow with it (few-shot).
    seen: list[dict[str, object]] = []

    def remembering(body: dict[str, object]) -> tuple[int, str]:
        seen.append(body)
        return by_keyword(body)

    answer.append(remembering)
    later = make_update(4, message_id=4, text="Купить билеты в театр")
    assert run(tmp_path, "ingest", write(tmp_path / "l.json", json.dumps(later))).returncode == 0
    third = run(tmp_path, "batch", "--classifier", "webhook", env=env)
    assert third.returncode == 0, third.stderr
    (body,) = seen
    (example,) = body["owner_examples"]  # type: ignore[misc]
    assert example["text"] == "Купить билеты" and example["type"] == "event"
    assert example["source"] == f"{OWNER_ID}:1" and 0 < example["similarity"] <= 1


def test_explain_names_the_owners_example_a_decision_followed(tmp_path: Path) -> None:
    text = "шины на зимние у Коли в гараже"
    first = make_update(1, message_id=1, text=text)
    assert run(tmp_path, "ingest", write(tmp_path / "u.json", json.dumps(first))).returncode == 0
    assert run(tmp_path, "batch", "--classifier", "rules").returncode == 0  # a note
    reply = make_update(2, message_id=2, text="это задача", reply_to=make_message(1, text=text))
    assert run(tmp_path, "ingest", write(tmp_path / "r.json", json.dumps(reply))).returncode == 0
    moved = run(tmp_path, "batch", "--classifier", "rules")
    assert "Переложено после уточнений: 1." in moved.stdout
    later = make_update(3, message_id=3, text="шины на летние у Коли в гараже")
    assert run(tmp_path, "ingest", write(tmp_path / "l.json", json.dumps(later))).returncode == 0
    assert run(tmp_path, "batch", "--classifier", "rules").returncode == 0
    explained = run(tmp_path, "explain", f"{OWNER_ID}:3")
    assert explained.returncode == 0, explained.stderr
    assert f"owner's own example {OWNER_ID}:1" in explained.stdout
    assert "шины на зимние у Коли в гараже" in explained.stdout
    assert "Now in tasks" in explained.stdout


def test_failures_exit_3_name_the_messages_and_keep_them_unprocessed(
    tmp_path: Path, classifier_http: tuple[str, list[Answer]]
) -> None:
    url, answer = classifier_http

    def flaky(body: dict[str, object]) -> tuple[int, str]:
        if "сломай" in str(body.get("message")):
            return 502, "<html><body>Bad Gateway</body></html>"
        return by_keyword(body)

    answer.append(flaky)
    seed(tmp_path)
    result = run(tmp_path, "batch", "--classifier", "webhook", env={"N8N_WEBHOOK_BASE": url})
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"{OWNER_ID}:3 (attempt 1, will retry)" in result.stderr
    assert "502" in result.stderr
    assert processed(tmp_path) == [(1, 1), (2, 1), (3, 0)]


def test_max_attempts_quarantines(
    tmp_path: Path, classifier_http: tuple[str, list[Answer]]
) -> None:
    url, answer = classifier_http
    answer.append(lambda body: (200, "Workflow was started"))
    seed(tmp_path)
    env = {"N8N_WEBHOOK_BASE": url}
    result = run(tmp_path, "batch", "--classifier", "webhook", "--max-attempts", "1", env=env)
    assert result.returncode == 3
    assert result.stderr.count("(quarantined)") == 3
    assert "Отложено до ручной проверки: 3" in result.stdout
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        rows = conn.execute("SELECT attempts, last_error FROM raw_messages").fetchall()
    assert all(a == 1 and "JSON" in (e or "") for a, e in rows), rows


@pytest.mark.parametrize(
    ("classifier", "variable"), [("webhook", "N8N_WEBHOOK_BASE"), ("openai", "OPENAI_API_KEY")]
)
def test_a_missing_setting_exits_2_before_touching_data(
    tmp_path: Path, classifier: str, variable: str
) -> None:
    seed_path = tmp_path / "cli.db"
    result = run(tmp_path, "batch", "--classifier", classifier)
    assert result.returncode == 2
    assert variable in result.stderr
    assert not seed_path.exists(), "the store must not even be opened"


def test_an_unknown_classifier_is_a_configuration_error(tmp_path: Path) -> None:
    result = run(tmp_path, "batch", "--classifier", "magic")
    assert result.returncode == 2 and "rules, webhook, openai" in result.stderr


def test_dry_run_reports_and_writes_nothing(
    tmp_path: Path, classifier_http: tuple[str, list[Answer]]
) -> None:
    url, answer = classifier_http
    answer.append(by_keyword)
    seed(tmp_path)
    result = run(
        tmp_path, "batch", "--classifier", "webhook", "--dry-run", env={"N8N_WEBHOOK_BASE": url}
    )
    assert result.returncode == 0, result.stderr
    assert "Пробный разбор" in result.stdout and "would go to" in result.stdout
    assert processed(tmp_path) == [(1, 0), (2, 0), (3, 0)]
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        assert conn.execute("SELECT count(*) FROM routing_log").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM batch_runs").fetchone()[0] == 0


def test_explain_rejects_bad_input(tmp_path: Path) -> None:
    seed(tmp_path)
    assert run(tmp_path, "explain", "nonsense").returncode == 1
    missing = run(tmp_path, "explain", f"{OWNER_ID}:999")
    assert missing.returncode == 1 and "no message" in missing.stderr
    fresh = run(tmp_path, "explain", f"{OWNER_ID}:2")
    assert fresh.returncode == 0 and "Not classified yet." in fresh.stdout


@pytest.mark.parametrize(
    "argument", ["99999999999999999999:1", "1:99999999999999999999", "-9223372036854775809:1"]
)
def test_explain_names_the_range_of_an_id_too_large(tmp_path: Path, argument: str) -> None:
    seed(tmp_path)
    result = run(tmp_path, "explain", "--", argument)  # "--": a group id starts with -
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr
    assert "CHAT_ID:MESSAGE_ID" in result.stderr and argument in result.stderr
    assert "-9223372036854775808 to 9223372036854775807" in result.stderr


def _loaded_after(tmp_path: Path, env: dict[str, str], *argv: str) -> list[str]:
    """Run one CLI command in a fresh interpreter; the heavy modules it imported."""
    code = (
        "import sys\n"
        "from superbrain_core.cli import main\n"
        f"sys.argv = ['superbrain', *{list(argv)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ('pymorphy3', 'number_parser', 'superbrain_core.analyzer.classify.rules')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SUPERBRAIN_", "N8N_"))},
        "SUPERBRAIN_DB": f"sqlite:///{tmp_path / 'cli.db'}",
        "SUPERBRAIN_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [m for m in done.stdout.strip().splitlines()[-1].strip("[]").split(", ") if m]


def test_ingest_and_a_webhook_batch_load_no_language_models(
    tmp_path: Path, classifier_http: tuple[str, list[Answer]]
) -> None:
    """pymorphy3 and number-parser load only where the rules run (or examples are compared)."""
    url, answer = classifier_http
    answer.append(by_keyword)
    updates = [make_update(1, message_id=1, text="Купить билеты"), make_update(2, message_id=2)]
    path = write(tmp_path / "u.json", json.dumps(updates))
    assert _loaded_after(tmp_path, {}, "ingest", path) == []
    env = {"N8N_WEBHOOK_BASE": url}
    assert _loaded_after(tmp_path, env, "batch", "--classifier", "webhook") == []
    assert processed(tmp_path) == [(1, 1), (2, 1)]
