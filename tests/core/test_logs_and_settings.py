"""Secrets never reach log output; settings fail fast naming the variable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from superbrain_core.errors import ConfigError
from superbrain_core.logs import configure_logging, redact_text
from superbrain_core.settings import Settings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """``configure_logging`` sets the process's structlog configuration (an INFO
    level filter among it); later tests that capture DEBUG events must not inherit it."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"https://api.telegram.org/bot{TOKEN}/getUpdates", TOKEN),
        (
            "key sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz in use",
            "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz",
        ),
        ("postgresql://app:s3cr3t-pass@db.example:5432/brain", "s3cr3t-pass"),
        (
            "auth eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.abcdefghijklmnop",
            "eyJyb2xlIjoic2VydmljZV9yb2xlIn0",
        ),
    ],
)
def test_redact_text_masks_secret_shapes(text: str, secret: str) -> None:
    masked = redact_text(text)
    assert secret not in masked and "***" in masked


def test_log_lines_never_contain_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    log = structlog.get_logger("test")
    log.info(
        "starting",
        token=TOKEN,
        url=f"https://api.telegram.org/bot{TOKEN}/x",
        settings={"SUPABASE_SERVICE_KEY": "abc", "db": "sqlite:///x.db"},
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert TOKEN not in line and "abc" not in line
    assert record["token"] == "***" and record["settings"]["SUPABASE_SERVICE_KEY"] == "***"
    assert record["settings"]["db"] == "sqlite:///x.db", "harmless values are kept"
    assert record["event"] == "starting" and record["level"] == "info"


def test_settings_defaults_and_overrides() -> None:
    s = Settings.from_env({})
    assert (s.db_url, s.timezone, s.bot_id, s.max_download_bytes) == (
        "sqlite:///superbrain.db",
        "Europe/Moscow",
        0,
        20 * 1024 * 1024,
    )
    env = {
        "SUPERBRAIN_DB": "sqlite:///env.db",
        "SUPERBRAIN_DATA_DIR": "/srv/brain",
        "SUPERBRAIN_BOT_ID": "42",
    }
    s = Settings.from_env(env, db_url="sqlite:///cli.db")
    assert s.db_url == "sqlite:///cli.db", "a CLI option beats the environment"
    assert s.files_dir == Path("/srv/brain/files") and s.bot_id == 42


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SUPERBRAIN_BOT_ID": "-1"}, "SUPERBRAIN_BOT_ID"),
        ({"SUPERBRAIN_BOT_ID": "18446744073709551616"}, "SUPERBRAIN_BOT_ID"),
        ({"SUPERBRAIN_BOT_ID": "9223372036854775808"}, "SUPERBRAIN_BOT_ID"),
        (
            {"SUPERBRAIN_MAX_DOWNLOAD_BYTES": "99999999999999999999"},
            "SUPERBRAIN_MAX_DOWNLOAD_BYTES",
        ),
        ({"SUPERBRAIN_MAX_DOWNLOAD_BYTES": "20MB"}, "SUPERBRAIN_MAX_DOWNLOAD_BYTES"),
        ({"SUPERBRAIN_LOG_LEVEL": "LOUD"}, "SUPERBRAIN_LOG_LEVEL"),
        ({"SUPERBRAIN_TIMEZONE": "Moscow"}, "SUPERBRAIN_TIMEZONE"),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert info.value.variable == variable and variable in str(info.value)


def test_ids_up_to_the_64_bit_limit_are_accepted() -> None:
    assert Settings.from_env({"SUPERBRAIN_BOT_ID": "9223372036854775807"}).bot_id == 2**63 - 1


@pytest.mark.parametrize("raw", ["-5", "0", "42,-100500", "9223372036854775808", "1e3"])
def test_owner_ids_must_be_user_ids(raw: str) -> None:
    from superbrain_core.settings import parse_owner_ids

    with pytest.raises(ConfigError) as info:
        parse_owner_ids(raw)
    assert info.value.variable == "SUPERBRAIN_OWNER_IDS" and "SUPERBRAIN_OWNER_IDS" in str(
        info.value
    )
    assert parse_owner_ids(" 42, 9223372036854775807 ") == frozenset({42, 2**63 - 1})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SUPERBRAIN_OWNER_IDS": "-5"}, "SUPERBRAIN_OWNER_IDS"),
        ({"SUPERBRAIN_BATCH_LIMIT": "99999999999999999999"}, "SUPERBRAIN_BATCH_LIMIT"),
        ({"SUPERBRAIN_MAX_ATTEMPTS": "0"}, "SUPERBRAIN_MAX_ATTEMPTS"),
    ],
)
def test_nightly_settings_check_ranges(env: dict[str, str], variable: str) -> None:
    from superbrain_core.analyzer.nightly import NightlySettings
    from superbrain_core.testing import BOT_TOKEN

    with pytest.raises(ConfigError) as info:
        NightlySettings.from_env(
            {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "SUPERBRAIN_OWNER_IDS": "1", **env}
        )
    assert info.value.variable == variable


def test_a_bot_token_whose_id_overflows_64_bits_is_malformed() -> None:
    from superbrain_core.settings import check_bot_token

    with pytest.raises(ConfigError) as info:
        check_bot_token("99999999999999999999:" + "A" * 35)
    assert info.value.variable == "TELEGRAM_BOT_TOKEN"


def test_open_store_rejects_unknown_urls_without_echoing_them() -> None:
    from superbrain_core.storage import open_store

    with pytest.raises(ConfigError) as info:
        open_store("mysql://root:topsecret@host/db")
    assert "topsecret" not in str(info.value) and info.value.variable == "SUPERBRAIN_DB"
    with pytest.raises(ConfigError):
        open_store("sqlite:///")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_tracebacks_show_no_locals_and_are_redacted(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt, "INFO")
    log = structlog.get_logger("test")
    secret_local = TOKEN  # noqa: F841 - a local a pretty traceback would print
    try:
        raise RuntimeError(f"call to https://api.telegram.org/bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        log.exception("send_failed")
    err = capsys.readouterr().err
    assert "RuntimeError" in err and "send_failed" in err
    assert TOKEN not in err and "secret_local" not in err
