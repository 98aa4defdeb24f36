"""The HTTP plumbing the remote classifiers (webhook and OpenAI) share.

Reading a response, describing a fault without leaking secrets, reading the
timeout and the URL, and what a request may say about the owner's zone and files
live here once, so that both classifiers fail in the same words.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from superbrain_core.analyzer.classify.schema import ClassifierError, ClassifierInput
from superbrain_core.errors import ConfigError
from superbrain_core.logs import MASK, redact_text

#: How much of a faulty body an error message quotes: enough to recognise
#: "502 Bad Gateway" or an n8n error, short enough for a log line.
SNIPPET_CHARS = 100

DEFAULT_TIMEOUT = 30.0
TIMEOUT_VARIABLE = "SUPERBRAIN_CLASSIFIER_TIMEOUT"


def snippet(text: str, *, limit: int = SNIPPET_CHARS, secrets: Iterable[str] = ()) -> str:
    """``text`` on one line, known ``secrets`` and secret-shaped strings masked, cut to ``limit``.

    Secrets are masked before cutting so that a key straddling the cut cannot
    leave a recognisable prefix behind.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    one_line = " ".join(redact_text(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def looks_like_html(response: httpx.Response) -> bool:
    """True for an error page from a proxy or n8n itself (even one served with 200)."""
    if "html" in response.headers.get("content-type", "").lower():
        return True
    head = response.text.lstrip()[:15].lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body"))


def http_fault(
    response: httpx.Response, *, source: str, secrets: Iterable[str], auth_hint: str
) -> ClassifierError:
    """The error for a non-2xx reply.

    Every status is ``retryable=True``: none of them is known to be caused by the
    message itself. A 401 or 404 means the configuration is wrong, and marking the
    message dead for that would lose it; the batch quarantines a message after
    repeated attempts anyway. The message says what kind of fault it is, and an
    authentication failure never quotes the body (it may echo the credential).
    """
    status = response.status_code
    if status in (401, 403):
        return ClassifierError(f"{source}: HTTP {status}: not authorised; check {auth_hint}")
    if status in (408, 429):
        kind = "rate limited or timed out, will retry"
    elif status >= 500:
        kind = "server error, will retry"
    elif 400 <= status < 500:
        kind = "client error, likely configuration; retried until quarantined"
    else:
        kind = "unexpected status"
    body = "an HTML page: " if looks_like_html(response) else ""
    quoted = snippet(response.text, secrets=secrets) or "(empty body)"
    return ClassifierError(f"{source}: HTTP {status} ({kind}): {body}{quoted}")


def transport_fault(exc: httpx.HTTPError, *, source: str, timeout: float) -> ClassifierError:
    """The error for a request that got no reply: timeouts and connection faults.

    The exception text is not quoted: httpx puts the URL in some messages, and a
    webhook URL may carry a token.
    """
    if isinstance(exc, httpx.TimeoutException):
        return ClassifierError(f"{source}: no reply within {timeout:g}s ({type(exc).__name__})")
    return ClassifierError(f"{source}: request failed ({type(exc).__name__})")


def response_json(response: httpx.Response, *, source: str, secrets: Iterable[str]) -> Any:
    """The JSON body of a 2xx reply; empty, HTML and non-JSON bodies are retryable errors."""
    if not response.content.strip():
        raise ClassifierError(f"{source}: HTTP {response.status_code} with an empty body")
    if looks_like_html(response):
        quoted = snippet(response.text, secrets=secrets)
        raise ClassifierError(
            f"{source}: HTTP {response.status_code} with an HTML page instead of JSON: {quoted}"
        )
    try:
        return json.loads(response.content)
    except ValueError:
        quoted = snippet(response.text, secrets=secrets)
        raise ClassifierError(
            f"{source}: HTTP {response.status_code} with a non-JSON body: {quoted}"
        ) from None


def request_timeout(seconds: float) -> httpx.Timeout:
    """The client timeout: ``seconds`` overall per phase, connecting capped at 10 s.

    A dead host should fail fast; a model that thinks for 25 s should not.
    """
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def timeout_from_env(env: Mapping[str, str]) -> float:
    """``SUPERBRAIN_CLASSIFIER_TIMEOUT`` in seconds (default 30), validated."""
    raw = env.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(
            f"{TIMEOUT_VARIABLE} must be a number of seconds", variable=TIMEOUT_VARIABLE
        ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{TIMEOUT_VARIABLE} must be positive", variable=TIMEOUT_VARIABLE)
    return seconds


def http_url(value: str, variable: str) -> str:
    """``value`` without a trailing slash if it is an absolute http(s) URL, else ConfigError.

    The value is not quoted in the error: a URL may carry credentials.
    """
    try:
        url = httpx.URL(value.strip())
    except (httpx.InvalidURL, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"{variable} must be an http(s) URL such as https://host/path", variable=variable
        )
    return value.strip().rstrip("/")


def zone_name(item: ClassifierInput) -> str:
    """The owner's zone as an IANA name when it has one (``Europe/Moscow``), else its label."""
    key = getattr(item.timezone, "key", None)
    if isinstance(key, str) and key:
        return key
    return item.local_date.tzname() or "UTC"


def file_summaries(item: ClassifierInput) -> list[dict[str, Any]]:
    """What a remote classifier may know about the files: descriptors, never bytes or ids."""
    return [
        {
            "file_type": f.file_type,
            "file_name": f.file_name,
            "mime_type": f.mime_type,
            "file_size": f.file_size,
        }
        for f in item.files
    ]
