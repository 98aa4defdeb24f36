"""Configuration from the environment, validated once, in one place.

Every deploy shell (bot, CronJob, notebook) reads the same variables; this module
is their single definition, and ``docs/configuration.md`` lists them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from superbrain_core.errors import ConfigError
from superbrain_core.storage import BOT_API_DOWNLOAD_LIMIT, DEFAULT_DB_URL

LOG_FORMATS = ("auto", "console", "json")
#: Telegram ids and counts are stored as signed 64-bit integers (SQLite INTEGER,
#: Postgres bigint): a setting beyond them would be accepted here and crash at
#: the first write, so it is refused at start-up instead.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_BOT_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,}$")


@attrs.frozen
class Settings:
    """Validated settings shared by the CLI, the bot and the batch shell."""

    db_url: str = DEFAULT_DB_URL
    data_dir: Path = Path("data")
    timezone: str = "Europe/Moscow"
    bot_id: int = 0
    max_download_bytes: int = BOT_API_DOWNLOAD_LIMIT
    log_format: str = "auto"
    log_level: str = "INFO"

    @property
    def files_dir(self) -> Path:
        """Where the local FileStore keeps file bytes."""
        return self.data_dir / "files"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **overrides: str | Path | int | None
    ) -> Settings:
        """Read ``SUPERBRAIN_*`` variables; explicit ``overrides`` (CLI options) win.

        Raises :class:`ConfigError` naming the variable when a value is malformed.
        """
        env = os.environ if env is None else env

        def pick(name: str, key: str, default: str) -> str:
            value = overrides.get(key)
            if value is not None:
                return str(value)
            return env.get(name) or default

        db_url = pick("SUPERBRAIN_DB", "db_url", DEFAULT_DB_URL)
        data_dir = Path(pick("SUPERBRAIN_DATA_DIR", "data_dir", "data"))
        timezone = pick("SUPERBRAIN_TIMEZONE", "timezone", "Europe/Moscow")
        zone_setting(timezone)
        bot_id = int_setting(pick("SUPERBRAIN_BOT_ID", "bot_id", "0"), "SUPERBRAIN_BOT_ID")
        max_dl = int_setting(
            pick(
                "SUPERBRAIN_MAX_DOWNLOAD_BYTES", "max_download_bytes", str(BOT_API_DOWNLOAD_LIMIT)
            ),
            "SUPERBRAIN_MAX_DOWNLOAD_BYTES",
        )
        log_format = pick("SUPERBRAIN_LOG_FORMAT", "log_format", "auto").lower()
        if log_format not in LOG_FORMATS:
            raise ConfigError(
                f"SUPERBRAIN_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}",
                variable="SUPERBRAIN_LOG_FORMAT",
            )
        log_level = pick("SUPERBRAIN_LOG_LEVEL", "log_level", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(
                "SUPERBRAIN_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL",
                variable="SUPERBRAIN_LOG_LEVEL",
            )
        if not db_url.strip():
            raise ConfigError("SUPERBRAIN_DB is empty", variable="SUPERBRAIN_DB")
        return cls(
            db_url=db_url,
            data_dir=data_dir,
            timezone=timezone,
            bot_id=bot_id,
            max_download_bytes=max_dl,
            log_format=log_format,
            log_level=log_level,
        )


def zone_setting(name: str) -> ZoneInfo:
    """The owner's time zone by IANA name; errors name ``SUPERBRAIN_TIMEZONE``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"SUPERBRAIN_TIMEZONE: unknown time zone {name!r} (e.g. Europe/Moscow)",
            variable="SUPERBRAIN_TIMEZONE",
        ) from exc


def int_setting(value: str, name: str, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """An integer variable from ``minimum`` to ``maximum`` (by default, what fits in a
    signed 64-bit integer); errors name the variable."""
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer", variable=name) from None
    if number < minimum:
        need = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        raise ConfigError(f"{name} {need}", variable=name)
    if number > maximum:
        raise ConfigError(
            f"{name} is too large: at most {maximum}"
            + (" (a signed 64-bit integer)" if maximum == INT64_MAX else ""),
            variable=name,
        )
    return number


def check_bot_token(token: str | None) -> str:
    """The bot token, validated; errors name ``TELEGRAM_BOT_TOKEN`` and never echo it.

    The bot and the nightly shell both send with it, so both check it the same way.
    """
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set", variable="TELEGRAM_BOT_TOKEN")
    if not _BOT_TOKEN.match(token) or not 0 < int(token.split(":", 1)[0]) <= INT64_MAX:
        # The digits are the bot's id, stored with every update: they must fit 64 bits.
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is malformed (expected <digits>:<secret> from @BotFather)",
            variable="TELEGRAM_BOT_TOKEN",
        )
    return token


def parse_owner_ids(raw: str | None) -> frozenset[int]:
    """``SUPERBRAIN_OWNER_IDS``: Telegram user ids separated by commas or spaces.

    A user id is positive (negative ids are groups and channels) and fits in a
    signed 64-bit integer; anything else is refused naming the variable.
    """
    owners: set[int] = set()
    for part in re.split(r"[,\s]+", raw or ""):
        if not part:
            continue
        try:
            owner = int(part)
        except ValueError:
            raise ConfigError(
                "SUPERBRAIN_OWNER_IDS must be Telegram user ids separated by commas",
                variable="SUPERBRAIN_OWNER_IDS",
            ) from None
        if not 0 < owner <= INT64_MAX:
            raise ConfigError(
                f"SUPERBRAIN_OWNER_IDS: {part[:40]} is not a Telegram user id"
                f" (user ids are positive, at most {INT64_MAX})",
                variable="SUPERBRAIN_OWNER_IDS",
            )
        owners.add(owner)
    return frozenset(owners)
