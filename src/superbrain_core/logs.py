"""structlog set-up: JSON lines in production, readable lines in a terminal.

Secrets never reach the output: a processor masks values under secret-looking
keys and anything shaped like a Bot API token or a key inside any string, so a
stray ``log.info("calling", url=url_with_token)`` is still safe.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(
    r"(token|secret|password|passwd|api_?key|service_?key|authorization)", re.I
)
_SECRET_VALUES = (
    re.compile(
        r"(?<![0-9])\d{6,12}:[A-Za-z0-9_-]{30,}"
    ),  # Telegram bot token (also in /bot<token>/)
    re.compile(r"\bsb_(secret|publishable)_[A-Za-z0-9_-]{10,}\b"),  # Supabase keys
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b"),  # JWT
    re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"),  # user:password@ in URLs
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}\b"),  # OpenAI-style keys
)
MASK = "***"


def redact_text(text: str) -> str:
    """``text`` with anything that looks like a secret replaced by ``***``."""
    for pattern in _SECRET_VALUES:
        text = pattern.sub(MASK, text)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: MASK if _SECRET_KEYS.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets by key name and by shape."""
    for key in list(event_dict):
        if _SECRET_KEYS.search(key):
            event_dict[key] = MASK
        else:
            event_dict[key] = _redact(event_dict[key])
    return event_dict


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was set up.

    Notebooks, test runners and embedding programs swap ``sys.stderr``; a logger
    bound to the stream of the moment would later write to a closed one.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    """Configure structlog (and stdlib logging) for the process.

    ``auto`` picks readable output when stderr is a terminal and JSON otherwise
    (containers, CI, pipes).
    """
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become plain text here, in both formats, so that the
        # redaction below sees them; a pretty renderer would also print every
        # frame's local variables, tokens included.
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    # httpx logs full request URLs at INFO; Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
