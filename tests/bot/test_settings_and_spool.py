"""Bot configuration is validated up front; the spool survives torn writes."""

from __future__ import annotations

from pathlib import Path

import anyio.lowlevel
import httpx
import pytest
import respx

from superbrain_core.bot.server import BotSettings
from superbrain_core.bot.spool import Spool
from superbrain_core.errors import ConfigError
from superbrain_core.files import SupabaseBucketFileStore, blob_path, iter_chunks
from superbrain_core.settings import Settings
from superbrain_core.testing import BOT_TOKEN

BASE = Settings()


def settings(**env: str) -> BotSettings:
    return BotSettings.from_env(BASE, {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, **env})


def test_defaults_and_parsing() -> None:
    s = settings(
        SUPERBRAIN_OWNER_IDS="100500, 42", SUPERBRAIN_ACK="off", SUPERBRAIN_LISTEN="127.0.0.1:9000"
    )
    assert s.owner_ids == frozenset({100500, 42}) and not s.ack
    assert (s.listen_host, s.listen_port, s.bot_id) == ("127.0.0.1", 9000, 4200000042)
    assert s.webhook_url is None and s.spool_path == Path("data/spool/updates.jsonl")
    assert BOT_TOKEN not in repr(s)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "12345:short"}, "TELEGRAM_BOT_TOKEN"),
        ({"SUPERBRAIN_OWNER_IDS": "me"}, "SUPERBRAIN_OWNER_IDS"),
        ({"SUPERBRAIN_OWNER_IDS": "-5"}, "SUPERBRAIN_OWNER_IDS"),
        ({"SUPERBRAIN_OWNER_IDS": "42, 18446744073709551616"}, "SUPERBRAIN_OWNER_IDS"),
        ({"SUPERBRAIN_LISTEN": "8080"}, "SUPERBRAIN_LISTEN"),
        ({"SUPERBRAIN_WEBHOOK_URL": "https://bot.example/hook"}, "SUPERBRAIN_WEBHOOK_SECRET"),
        (
            {"SUPERBRAIN_WEBHOOK_URL": "ftp://x", "SUPERBRAIN_WEBHOOK_SECRET": "s"},
            "SUPERBRAIN_WEBHOOK_URL",
        ),
        (
            {"SUPERBRAIN_WEBHOOK_URL": "https://x", "SUPERBRAIN_WEBHOOK_SECRET": "no spaces"},
            "SUPERBRAIN_WEBHOOK_SECRET",
        ),
        ({"SUPERBRAIN_FILES_BUCKET": "files"}, "SUPABASE_URL"),
        (
            {"SUPERBRAIN_FILES_BUCKET": "files", "SUPABASE_URL": "https://p.supabase.co"},
            "SUPABASE_SERVICE_KEY",
        ),
        ({"SUPERBRAIN_ACK": "maybe"}, "SUPERBRAIN_ACK"),
    ],
)
def test_bad_settings_name_the_variable_and_hide_the_token(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**env)
    assert info.value.variable == variable and variable in str(info.value)
    assert "AAFakeToken" not in str(info.value)


def test_cli_reports_missing_token_with_exit_code_2(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERBRAIN_", "TELEGRAM_"))}
    result = subprocess.run(
        [sys.executable, "-m", "superbrain_core", "bot"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2 and "TELEGRAM_BOT_TOKEN is not set" in result.stderr


@pytest.mark.anyio
async def test_spool_keeps_order_and_ignores_a_torn_last_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s" / "updates.jsonl")
    assert not await spool.pending() and await spool.read() == []
    for i in range(3):
        await spool.append({"update": {"update_id": i, "текст": "\u0000 и 🎉"}})
    with spool.path.open("ab") as f:
        f.write(b'{"update": {"update_id": 3, "mess')  # the process died mid-append
    entries = await spool.read()
    assert [e["update"]["update_id"] for e in entries] == [0, 1, 2]
    assert entries[0]["update"]["текст"] == "\u0000 и 🎉"
    await spool.clear()
    assert not await spool.pending()


async def _durable(tmp_path: Path):  # type: ignore[no-untyped-def]
    from superbrain_core.bot.spool import DurableCapture
    from superbrain_core.capture import Capturer
    from superbrain_core.storage.sqlite.store import SqliteStore

    store = SqliteStore(tmp_path / "d.db")
    await store.open()
    return store, DurableCapture(Capturer(store), Spool(tmp_path / "spool" / "updates.jsonl"))


@pytest.mark.anyio
async def test_bad_lines_are_set_aside_and_the_rest_replayed(tmp_path: Path) -> None:
    from superbrain_core.demo.samples import make_update

    store, durable = await _durable(tmp_path)
    spool = durable.spool
    assert spool is not None
    await spool.append({"update": make_update(1, message_id=1, text="до")})
    with spool.path.open("ab") as f:
        f.write(b"garbage in the middle\n")
    await spool.append({"update": {"no": "update_id"}})  # storage refuses it for good
    await spool.append({"update": make_update(2, message_id=2, text="после")})
    assert await durable.replay() == 4
    assert await store.get_update(1) is not None and await store.get_update(2) is not None
    rejected = spool.rejected_path.read_text(encoding="utf-8").splitlines()
    assert len(rejected) == 2
    assert "garbage in the middle" in rejected[0] and "NotAnUpdateError" in rejected[1]
    assert not await spool.pending()
    await store.close()


@pytest.mark.anyio
async def test_a_torn_tail_does_not_corrupt_the_next_append(tmp_path: Path) -> None:
    from superbrain_core.demo.samples import make_update

    store, durable = await _durable(tmp_path)
    spool = durable.spool
    assert spool is not None
    await spool.append({"update": make_update(1, message_id=1, text="раз")})
    with spool.path.open("ab") as f:
        f.write(b'{"update": {"update_id": 2, "mess')  # died mid-append, never acknowledged
    await spool.append({"update": make_update(3, message_id=3, text="три")})
    assert [e["update"]["update_id"] for e in await spool.read() if isinstance(e, dict)] == [1, 3]
    await durable.replay()
    assert await store.get_update(1) is not None and await store.get_update(3) is not None
    await store.close()


def _mode(path: Path) -> int:
    import os

    return os.stat(path).st_mode & 0o777


@pytest.mark.anyio
async def test_the_spool_stays_private_through_create_replay_and_clear(tmp_path: Path) -> None:
    """It holds private messages: 0600 (its folder 0700) before and after a replay."""
    import os

    from superbrain_core.demo.samples import make_update

    old_umask = os.umask(0o022)  # the usual one, under which a plain write is 0644
    try:
        store, durable = await _durable(tmp_path)
        spool = durable.spool
        assert spool is not None
        await spool.append({"update": make_update(1, message_id=1, text="личное")})
        await spool.append({"update": {"no": "update_id"}})  # goes to the rejected file
        assert (_mode(spool.path), _mode(spool.path.parent)) == (0o600, 0o700)
        assert await durable.replay() == 2
        assert spool.path.exists() and not await spool.pending()
        assert _mode(spool.path) == 0o600, "the replay's rewrite keeps the spool private"
        assert _mode(spool.rejected_path) == 0o600 and _mode(spool.path.parent) == 0o700
        await spool.append({"update": make_update(2, message_id=2, text="снова")})
        assert await durable.replay() == 1
        assert _mode(spool.path) == 0o600
        await store.close()
        # A spool left 0644 by an older version is made private on its next append.
        os.chmod(spool.path, 0o644)
        await spool.append({"update": make_update(3, message_id=3, text="ещё")})
        assert _mode(spool.path) == 0o600
    finally:
        os.umask(old_umask)


@pytest.mark.anyio
async def test_records_arriving_during_a_replay_are_written(tmp_path: Path) -> None:
    """A capture that queues while the replay holds the lock must not wait forever."""
    import anyio

    from superbrain_core.demo.samples import make_update

    store, durable = await _durable(tmp_path)
    assert durable.spool is not None
    for i in range(1, 50):
        await durable.spool.append({"update": make_update(i, message_id=i, text=f"спул {i}")})
    async with anyio.create_task_group() as tg:
        tg.start_soon(durable.replay)
        await anyio.lowlevel.checkpoint()  # the replay now holds the lock
        with anyio.fail_after(10):
            receipt = await durable.capture(make_update(100, message_id=100, text="во время"))
    assert receipt.stored
    assert (await store.stats()).tables["raw_updates"] == 50
    await store.close()


@pytest.mark.anyio
async def test_cancelling_the_leading_caller_does_not_fail_the_others(tmp_path: Path) -> None:
    import anyio

    from superbrain_core.demo.samples import make_update

    store, durable = await _durable(tmp_path)
    results: dict[int, object] = {}
    scopes: list[anyio.CancelScope] = []

    async def capture(i: int) -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            results[i] = await durable.capture(make_update(i, message_id=i, text=str(i)))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i in range(1, 20):
                tg.start_soon(capture, i)
            await anyio.lowlevel.checkpoint()  # task 1 leads the group commit now
            scopes[0].cancel()
    assert set(results) >= set(range(2, 20)), "every other caller got its answer"
    assert (await store.stats()).tables["raw_updates"] == 19, "the leader's own record too"
    await store.close()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "headers"),
    [
        ("sb_secret_abcdefghijklmnop", {"apikey": "sb_secret_abcdefghijklmnop"}),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig",
            {
                "apikey": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig",
                "authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig",
            },
        ),
    ],
)
async def test_supabase_bucket_upload_dedup_and_auth(
    tmp_path: Path, key: str, headers: dict[str, str]
) -> None:
    data = b"file bytes" * 1000
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    url = f"https://proj.supabase.co/storage/v1/object/files/{blob_path(sha)}"
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url).mock(
            side_effect=[
                httpx.Response(200, json={"Key": "x"}),
                httpx.Response(400, json={"error": "Duplicate", "statusCode": "409"}),
            ]
        )
        store = SupabaseBucketFileStore("https://proj.supabase.co/", key, "files", tmp_dir=tmp_path)
        first = await store.put(iter_chunks(data), expected_size=len(data))
        second = await store.put(iter_chunks(data), expected_size=len(data))
        await store.aclose()
    assert (first.sha256, first.created, second.created) == (sha, True, False)
    request = route.calls[0].request
    assert request.content == data
    assert request.headers["x-upsert"] == "false"
    for name, value in headers.items():
        assert request.headers[name] == value
    if "authorization" not in headers:
        assert "authorization" not in request.headers, (
            "sb_secret keys must not be sent as a bearer token"
        )
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "temporary copies are removed"


@pytest.mark.anyio
async def test_supabase_bucket_errors_are_raised(tmp_path: Path) -> None:
    with respx.mock() as mock:
        mock.post(url__regex=r".*/storage/v1/object/files/.*").mock(
            return_value=httpx.Response(500)
        )
        mock.head(url__regex=r".*/authenticated/files/.*").mock(return_value=httpx.Response(404))
        store = SupabaseBucketFileStore(
            "https://proj.supabase.co", "sb_secret_x1234567890", "files", tmp_dir=tmp_path
        )
        with pytest.raises(OSError, match="HTTP 500"):
            await store.put(iter_chunks(b"abc"), expected_size=3)
        assert not await store.exists("00" * 32)
        await store.aclose()
    with pytest.raises(ConfigError, match="publishable"):
        SupabaseBucketFileStore("https://p.supabase.co", "sb_publishable_abc", "files")
