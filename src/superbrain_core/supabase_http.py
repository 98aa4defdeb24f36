"""What every direct HTTP call to Supabase needs: the right headers for the key.

Supabase has two kinds of server keys. Legacy ``service_role`` keys are JWTs and
go in both ``apikey`` and ``Authorization: Bearer``. New ``sb_secret_…`` keys are
not JWTs: they go in ``apikey`` only, and the gateway rejects them as a bearer token.
"""

from __future__ import annotations

from superbrain_core.errors import ConfigError


def auth_headers(key: str) -> dict[str, str]:
    """Headers authenticating a server-side request with ``key`` (either kind)."""
    if not key:
        raise ConfigError("SUPABASE_SERVICE_KEY is empty", variable="SUPABASE_SERVICE_KEY")
    if key.startswith("sb_"):
        if key.startswith("sb_publishable_"):
            raise ConfigError(
                "SUPABASE_SERVICE_KEY holds a publishable key; the server needs a secret key",
                variable="SUPABASE_SERVICE_KEY",
            )
        return {"apikey": key}
    return {"apikey": key, "Authorization": f"Bearer {key}"}
