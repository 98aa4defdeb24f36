"""`superbrain nightly` (the CronJob's entry point) in a real subprocess, on SQLite and
on the real Postgres, against a loopback classifier and a loopback Bot API.

The night's loop end to end: messages filed, the digest sent to the owner, a
low-confidence item asked about in a reply to the owner's own message, the
owner's answer (a reply to the bot's question) captured, and the next night
moving the item. Then the run lock, configuration errors and failed sends.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from superbrain_core.demo.samples import OWNER_ID, make_update

from .loopback import LoopbackBotApi, bot_api, classifier
from .test_cli import run

TOKEN = "4200000042:" + "A" * 35
OTHER_CHAT = -1001234567890


def verdict(body: dict[str, Any]) -> tuple[int, dict[str, Any] | str]:
    text = str(body.get("message") or "").casefold()
    chain = " ".join(str(m.get("text") or "") for m in body.get("chain", [])).casefold()
    if "сломай" in text:
        return 502, "<html>Bad Gateway</html>"
    if "это задача" in chain:
        return 200, {"type": "task", "confidence": 0.95, "title": "Созвон с Петей"}
    if "купить" in text:
        return 200, {"type": "task", "confidence": 0.9, "title": "Купить билеты"}
    if "созвон" in text:
        return 200, {
            "type": "event",
            "confidence": 0.55,
            "title": "Созвон с Петей",
            "question": "Это встреча или задача?",
        }
    return 200, {"type": "note", "confidence": 0.9, "title": text}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'night.db'}"
        return
    from tests.storage.postgres import pgutil

    pgutil.require_server()
    pgutil.ensure_api_roles()
    with pgutil.database("nightly") as dsn:
        migrated = pgutil.superbrain("--db", dsn, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        yield dsn


@pytest.fixture
def telegram() -> Iterator[LoopbackBotApi]:
    with bot_api() as fake:
        yield fake


@pytest.fixture
def classifier_url() -> Iterator[str]:
    with classifier(verdict) as url:
        yield url


def superbrain(
    db_url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    settings = {"SUPERBRAIN_DB": db_url, "SUPERBRAIN_LOG_FORMAT": "json"}
    return run(tmp_path, *args, env={**settings, **(env or {})})


def night_env(telegram: LoopbackBotApi, classifier_url: str) -> dict[str, str]:
    return {
        "SUPERBRAIN_CLASSIFIER": "webhook",
        "N8N_WEBHOOK_BASE": classifier_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_SERVER": telegram.url,
        "SUPERBRAIN_OWNER_IDS": str(OWNER_ID),
    }


def ingest(db_url: str, tmp_path: Path, updates: list[dict[str, Any]]) -> None:
    path = tmp_path / f"updates-{updates[0]['update_id']}.json"
    path.write_text(json.dumps(updates, ensure_ascii=False), encoding="utf-8")
    done = superbrain(db_url, tmp_path, "ingest", str(path))
    assert done.returncode == 0, done.stderr


def bot_responses(db_url: str, tmp_path: Path) -> list[dict[str, Any]]:
    """What the store recorded of the bot's sends, read through the library."""
    script = (
        "import anyio, json, sys\n"
        "import attrs\n"
        "from superbrain_core.storage import open_store\n"
        "async def main():\n"
        "    async with open_store(sys.argv[1]) as s:\n"
        "        rows = await s.bot_responses(int(sys.argv[2]))\n"
        "    print(json.dumps([attrs.asdict(r) for r in rows], default=str))\n"
        "anyio.run(main)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, db_url, str(OWNER_ID)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_a_night_files_tells_the_owner_asks_and_the_answer_moves_the_item(
    db_url: str, tmp_path: Path, telegram: LoopbackBotApi, classifier_url: str
) -> None:
    ingest(
        db_url,
        tmp_path,
        [
            make_update(1, message_id=1, text="Купить билеты"),
            make_update(2, message_id=2, text="Созвон с Петей в пятницу"),
        ],
    )
    env = night_env(telegram, classifier_url)
    first = superbrain(db_url, tmp_path, "nightly", env=env)
    assert first.returncode == 0, first.stderr

    (digest,) = telegram.messages("digest")
    assert digest["chat"]["id"] == OWNER_ID
    assert "Разбор" in digest["text"] and "Задачи 1" in digest["text"]
    assert "Ниже 1 вопрос" in digest["text"]
    # The question is not repeated in the digest: it comes as its own reply.
    assert "Это встреча или задача?" not in digest["text"]
    (question,) = telegram.messages("question")
    assert question["chat"]["id"] == OWNER_ID
    assert question["reply_to_message"]["message_id"] == 2
    assert "Это встреча или задача?" in question["text"]
    sends = [p for m, p in telegram.calls if m == "sendMessage" and "reply_parameters" in p]
    assert sends[0]["reply_parameters"]["message_id"] == 2

    recorded = {r["response_type"]: r for r in bot_responses(db_url, tmp_path)}
    assert recorded["digest"]["message_id"] == digest["message_id"]
    assert recorded["question"]["message_id"] == question["message_id"]
    assert recorded["question"]["related_user_message_id"] == 2
    assert recorded["question"]["error"] is None

    # The same night again: everything was sent once already, nothing goes twice.
    again = superbrain(db_url, tmp_path, "nightly", env=env)
    assert again.returncode == 0, again.stderr
    assert len(telegram.messages("digest")) == 1 and len(telegram.messages("question")) == 1
    assert "already sent tonight: digest" in again.stdout

    # The owner answers the question by replying to the bot's message.
    answer = make_update(3, message_id=3, text="это задача", reply_to=question)
    ingest(db_url, tmp_path, [answer])
    # The next night.
    tomorrow = (datetime.now(ZoneInfo("Europe/Moscow")) + timedelta(days=1)).date().isoformat()
    second = superbrain(db_url, tmp_path, "nightly", "--night", tomorrow, env=env)
    assert second.returncode == 0, second.stderr
    latest = telegram.messages("digest")[-1]
    assert "Переложено после уточнений: 1." in latest["text"], latest["text"]

    explained = superbrain(db_url, tmp_path, "explain", f"{OWNER_ID}:2")
    assert explained.returncode == 0, explained.stderr
    assert "Now in tasks" in explained.stdout
    assert "это задача" in explained.stdout


def test_some_failed_exits_3_and_the_digest_still_goes_out(
    db_url: str, tmp_path: Path, telegram: LoopbackBotApi, classifier_url: str
) -> None:
    ingest(
        db_url,
        tmp_path,
        [
            make_update(1, message_id=1, text="Купить хлеб"),
            make_update(2, message_id=2, text="сломай классификатор"),
        ],
    )
    done = superbrain(db_url, tmp_path, "nightly", env=night_env(telegram, classifier_url))
    assert done.returncode == 3, done.stderr
    (digest,) = telegram.messages("digest")
    assert "Не удалось разобрать: 1" in digest["text"]
    assert f"{OWNER_ID}:2" in done.stderr


def test_an_undelivered_digest_exits_4_is_recorded_and_loses_no_filing(
    db_url: str, tmp_path: Path, telegram: LoopbackBotApi, classifier_url: str
) -> None:
    ingest(db_url, tmp_path, [make_update(1, message_id=1, text="Купить хлеб")])

    def blocked(method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}

    telegram.fail = blocked
    done = superbrain(db_url, tmp_path, "nightly", env=night_env(telegram, classifier_url))
    assert done.returncode == 4, done.stderr
    assert "not sent" in done.stderr and "bot was blocked" in done.stderr
    assert TOKEN not in done.stdout + done.stderr
    (row,) = bot_responses(db_url, tmp_path)
    assert row["response_type"] == "digest" and "bot was blocked" in row["error"]
    assert row["message_id"] is None
    # The filing stands: the next night has nothing left to do.
    telegram.fail = None
    again = superbrain(db_url, tmp_path, "nightly", env=night_env(telegram, classifier_url))
    assert again.returncode == 0, again.stderr
    (digest,) = telegram.messages("digest")
    assert "новых сообщений нет" in digest["text"]


def test_a_flood_limit_is_waited_out(
    db_url: str, tmp_path: Path, telegram: LoopbackBotApi, classifier_url: str
) -> None:
    ingest(db_url, tmp_path, [make_update(1, message_id=1, text="Купить хлеб")])
    refusals = [1]

    def flood(method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if refusals:
            refusals.pop()
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
        return None

    telegram.fail = flood
    done = superbrain(db_url, tmp_path, "nightly", env=night_env(telegram, classifier_url))
    assert done.returncode == 0, done.stderr
    assert [m for m, _ in telegram.calls] == ["sendMessage", "sendMessage"]
    assert len(telegram.messages("digest")) == 1


def test_questions_about_other_chats_stay_in_the_digest(
    db_url: str, tmp_path: Path, telegram: LoopbackBotApi, classifier_url: str
) -> None:
    group = {"id": OTHER_CHAT, "type": "supergroup", "title": "Семья"}
    ingest(
        db_url,
        tmp_path,
        [make_update(1, message_id=7, text="Созвон с Петей", chat=group)],
    )
    done = superbrain(db_url, tmp_path, "nightly", env=night_env(telegram, classifier_url))
    assert done.returncode == 0, done.stderr
    assert telegram.messages("question") == []
    (digest,) = telegram.messages("digest")
    assert "Это встреча или задача?" in digest["text"]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, "SUPERBRAIN_OWNER_IDS"),
        ({"SUPERBRAIN_OWNER_IDS": str(OWNER_ID)}, "TELEGRAM_BOT_TOKEN"),
        (
            {"TELEGRAM_BOT_TOKEN": "not-a-token", "SUPERBRAIN_OWNER_IDS": "1"},
            "TELEGRAM_BOT_TOKEN",
        ),
        ({"SUPERBRAIN_CLASSIFIER": "oracle"}, "SUPERBRAIN_CLASSIFIER"),
        ({"SUPERBRAIN_CLASSIFIER": "webhook"}, "N8N_WEBHOOK_BASE"),
        ({"SUPERBRAIN_BATCH_CONCURRENCY": "many"}, "SUPERBRAIN_BATCH_CONCURRENCY"),
    ],
)
def test_configuration_errors_exit_2_before_touching_data(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    db_url = f"sqlite:///{tmp_path / 'night.db'}"
    ingest(db_url, tmp_path, [make_update(1, message_id=1, text="Купить хлеб")])
    done = superbrain(db_url, tmp_path, "nightly", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert variable in done.stderr
    assert "not-a-token" not in done.stderr
    with sqlite3.connect(tmp_path / "night.db") as conn:
        waiting = conn.execute("SELECT message_id, is_processed, attempts FROM raw_messages")
        assert waiting.fetchall() == [(1, 0, 0)]  # untouched, still waiting for a good night


def test_without_a_token_the_digest_is_printed_only(tmp_path: Path, classifier_url: str) -> None:
    db_url = f"sqlite:///{tmp_path / 'night.db'}"
    ingest(db_url, tmp_path, [make_update(1, message_id=1, text="Купить хлеб")])
    done = superbrain(
        db_url,
        tmp_path,
        "nightly",
        env={"SUPERBRAIN_CLASSIFIER": "webhook", "N8N_WEBHOOK_BASE": classifier_url},
    )
    assert done.returncode == 0, done.stderr
    assert "Разбор" in done.stdout
    assert "digest was only printed" in done.stderr


def test_two_shells_at_once_one_runs_the_other_exits_75(
    db_url: str, tmp_path: Path, telegram: LoopbackBotApi
) -> None:
    """The first run is held inside its classifier call until the second has tried."""
    entered = threading.Event()
    release = threading.Event()

    def slow(body: dict[str, Any]) -> tuple[int, dict[str, Any] | str]:
        entered.set()
        release.wait(timeout=60)
        return verdict(body)

    ingest(db_url, tmp_path, [make_update(1, message_id=1, text="Купить хлеб")])
    with classifier(slow) as url:
        env = night_env(telegram, url)
        first = subprocess.Popen(
            [sys.executable, "-m", "superbrain_core", "nightly"],
            env={**os.environ, **env, "SUPERBRAIN_DB": db_url, "SUPERBRAIN_LOG_FORMAT": "json"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert entered.wait(timeout=60), "the first run never reached its classifier"
            second = superbrain(db_url, tmp_path, "nightly", env=env)
            manual = superbrain(db_url, tmp_path, "batch", env={"SUPERBRAIN_CLASSIFIER": "rules"})
            looking = superbrain(db_url, tmp_path, "batch", "--dry-run")
        finally:
            release.set()
            _out, err = first.communicate(timeout=120)
    assert second.returncode == 75, second.stdout + second.stderr
    assert "another analyzer run is active" in second.stderr
    assert "did nothing" in second.stderr
    assert first.returncode == 0, err
    # One night, one digest: the refused run sent nothing.
    assert len(telegram.messages("digest")) == 1
    # A manual `superbrain batch` respects the same lock; a dry run only looks, so it may.
    assert manual.returncode == 75, manual.stdout + manual.stderr
    assert looking.returncode == 0, looking.stderr
    after = superbrain(db_url, tmp_path, "batch", env={"SUPERBRAIN_CLASSIFIER": "rules"})
    assert after.returncode == 0, after.stderr


def last_run_and_claims(db_url: str) -> tuple[str, list[object]]:
    """The newest batch run's status, and who holds claims on raw messages."""
    script = (
        "import anyio, json, sys\n"
        "from datetime import UTC, datetime\n"
        "from superbrain_core.storage import open_store\n"
        "async def main():\n"
        "    async with open_store(sys.argv[1]) as s:\n"
        "        run = await s.last_batch_run()\n"
        "        pending = await s.pending_work(now=datetime.now(UTC))\n"
        "    print(json.dumps([run.status if run else None, pending]))\n"
        "anyio.run(main)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, db_url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    status, pending = json.loads(done.stdout)
    return status, [pending]


def test_sigterm_stops_cleanly_and_the_next_run_goes_on_at_once(
    db_url: str, tmp_path: Path, telegram: LoopbackBotApi
) -> None:
    """Kubernetes stops a pod with SIGTERM: claims released, run recorded, lock freed."""
    entered = threading.Event()
    release = threading.Event()

    def stuck(body: dict[str, Any]) -> tuple[int, dict[str, Any] | str]:
        entered.set()
        release.wait(timeout=60)
        return verdict(body)

    ingest(db_url, tmp_path, [make_update(1, message_id=1, text="Купить хлеб")])
    with classifier(stuck) as url:
        env = {**os.environ, **night_env(telegram, url), "SUPERBRAIN_DB": db_url}
        first = subprocess.Popen(
            [sys.executable, "-m", "superbrain_core", "nightly"],
            env={**env, "SUPERBRAIN_LOG_FORMAT": "json"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert entered.wait(timeout=60), "the run never reached its classifier"
            first.send_signal(signal.SIGTERM)
            _out, err = first.communicate(timeout=60)
        finally:
            release.set()
            first.kill()
    assert first.returncode == 143, err
    assert "stopped by a signal" in err
    status, pending = last_run_and_claims(db_url)
    # Recorded as interrupted, and the message is claimable now, not after the lease.
    assert status == "interrupted" and pending == [1]
    assert telegram.messages("digest") == []
    with classifier(verdict) as url:
        again = superbrain(db_url, tmp_path, "nightly", env=night_env(telegram, url))
    assert again.returncode == 0, again.stderr
    (digest,) = telegram.messages("digest")
    assert "Задачи 1" in digest["text"]


@pytest.mark.postgres
def test_a_retried_pod_of_the_same_job_takes_over_its_predecessors_lease(
    tmp_path: Path, telegram: LoopbackBotApi, classifier_url: str
) -> None:
    """A pod killed without releasing leaves a lease (through PostgREST nothing frees
    it); the Job's next pod has the same holder name and goes on, anyone else waits."""
    import psycopg

    from tests.storage.postgres import pgutil

    pgutil.require_server()
    with pgutil.database("nightly_holder") as dsn:
        assert pgutil.superbrain("--db", dsn, "db", "migrate").returncode == 0
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT superbrain_try_run_lock('batch', 'batch-analyzer-29170', 3600)")
        ingest(dsn, tmp_path, [make_update(1, message_id=1, text="Купить хлеб")])
        env = night_env(telegram, classifier_url)
        other = superbrain(
            dsn, tmp_path, "nightly", env={**env, "SUPERBRAIN_RUN_HOLDER": "batch-analyzer-1"}
        )
        assert other.returncode == 75, other.stderr
        assert "batch-analyzer-29170" in other.stderr
        same = superbrain(
            dsn, tmp_path, "nightly", env={**env, "SUPERBRAIN_RUN_HOLDER": "batch-analyzer-29170"}
        )
        assert same.returncode == 0, same.stderr
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM run_locks").fetchone() == (0,)
