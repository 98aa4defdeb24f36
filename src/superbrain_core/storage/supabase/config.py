"""The Supabase store's settings: the project URL and service key, checked before any request.

A wrong URL or key must fail at start-up with a message naming the variable to
fix (and never repeating the key), not at the first write as an opaque 401.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from superbrain_core.errors import ConfigError
from superbrain_core.supabase_http import auth_headers

URL_HINT = "expected the project URL, https://<project-ref>.supabase.co"
KEY_VARIABLE = "SUPABASE_SERVICE_KEY"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def rest_url(url: str) -> str:
    """PostgREST's base URL (``…/rest/v1``) for the project URL ``url``.

    HTTPS only, since the service key travels in every request; plain HTTP is
    accepted for a loopback host (``supabase start`` serves
    ``http://127.0.0.1:54321``). The message never repeats the URL, which
    could carry credentials.
    """
    raw = url.strip()
    if not raw:
        raise ConfigError("SUPABASE_URL is not set", variable="SUPABASE_URL")
    try:
        parts = urlsplit(raw)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        host, parts = None, None
    if (
        parts is None
        or not host
        or parts.username is not None
        or parts.query
        or parts.fragment
        or not (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK))
    ):
        raise ConfigError(f"SUPABASE_URL is not a valid URL ({URL_HINT})", variable="SUPABASE_URL")
    path = parts.path.rstrip("/").removesuffix("/rest/v1")
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/rest/v1", "", ""))


def key_headers(key: str, variable: str = KEY_VARIABLE) -> dict[str, str]:
    """:func:`auth_headers` for ``key``, with errors naming ``variable`` (never the key).

    Beyond what ``auth_headers`` rejects (empty, publishable), a legacy JWT
    whose ``role`` claim is ``anon`` or ``authenticated`` is refused here: with
    it every table is invisible and every function forbidden, which would
    otherwise only show up as a confusing 401 at the first request.
    """
    key = key.strip()
    if any(c.isspace() or not c.isprintable() or not c.isascii() for c in key):
        raise ConfigError(
            f"{variable} holds characters an API key never has (whitespace or non-ASCII)",
            variable=variable,
        )
    try:
        headers = auth_headers(key)
    except ConfigError as exc:
        raise ConfigError(
            str(exc).replace(KEY_VARIABLE, variable) if variable != KEY_VARIABLE else str(exc),
            variable=variable,
        ) from None
    role = _jwt_role(key)
    if role in {"anon", "authenticated"}:
        raise ConfigError(
            f"{variable} holds the {role} key; the server needs the service_role key"
            " (or an sb_secret_… key)",
            variable=variable,
        )
    return headers


def _jwt_role(key: str) -> str | None:
    """The ``role`` claim of a JWT-shaped key, unverified (only to catch a mix-up)."""
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    role = claims.get("role") if isinstance(claims, dict) else None
    return role if isinstance(role, str) else None


def settings_from_env(env: Mapping[str, str]) -> tuple[str, str, str]:
    """``(url, key, key_variable)`` from ``SUPABASE_URL`` and ``SUPABASE_SERVICE_KEY``
    (else ``SUPABASE_KEY``, the name some Supabase guides use)."""
    url = env.get("SUPABASE_URL", "")
    if not url.strip():
        raise ConfigError(
            "SUPERBRAIN_DB=supabase needs SUPABASE_URL (the project URL)", variable="SUPABASE_URL"
        )
    for variable in (KEY_VARIABLE, "SUPABASE_KEY"):
        key = env.get(variable, "")
        if key.strip():
            return url, key, variable
    raise ConfigError(
        "SUPERBRAIN_DB=supabase needs SUPABASE_SERVICE_KEY (or SUPABASE_KEY):"
        " the project's service_role or sb_secret_… key",
        variable=KEY_VARIABLE,
    )
