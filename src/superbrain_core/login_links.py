"""Single-use login links and session cookies for the web page (``superbrain web``).

The web page has no passwords: the owner asks for a link (``superbrain web-login``
on the server, or ``/web`` to the bot) and opens it within ten minutes. A link is
an HMAC-signed token carrying the owner's id, its expiry and a random nonce, so
any process that knows the secret can mint one (the CLI, the bot's pod) and only
the web server decides whether it is still good. "Single use" is what the
:class:`NonceLedger` adds: the server records every nonce it accepted in a small
SQLite file, so a used link fails even after a restart.

Sessions and CSRF tokens are signed with the same secret. A session cookie says
who and until when; the CSRF token is an HMAC of the session's id, so a form
rendered for one session cannot be replayed from another.

The secret comes from ``SUPERBRAIN_WEB_SECRET`` (what a cluster shares between the
bot's pod and the web's) or, when unset, from ``<data dir>/web/secret``, created on
first use with mode 0600. It is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

from superbrain_core.errors import ConfigError

#: How long a login link is good for.
LINK_TTL_SECONDS = 10 * 60
#: How long a session lasts before the owner asks for a new link.
SESSION_TTL_SECONDS = 7 * 24 * 3600
#: Shorter secrets are refused: the secret is all that stands between a guess and a session.
MIN_SECRET_CHARS = 32
#: The owner id of a link minted on a machine where ``SUPERBRAIN_OWNER_IDS`` is unset
#: (the demo): the web server then accepts this id only.
LOCAL_OWNER = 0

_LOGIN = "login"
_SESSION = "session"


class BadToken(ValueError):
    """A link or cookie that is forged, malformed, expired or already used."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise BadToken("not base64") from exc


def load_secret(data_dir: Path, env: Mapping[str, str] | None = None) -> bytes:
    """The signing secret: ``SUPERBRAIN_WEB_SECRET``, else a file made on first use.

    The file is created atomically with ``O_EXCL`` and mode 0600, so two processes
    starting together agree on one secret and no other user can read it.
    """
    env = os.environ if env is None else env
    given = env.get("SUPERBRAIN_WEB_SECRET", "")
    if given:
        if len(given) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"SUPERBRAIN_WEB_SECRET must be at least {MIN_SECRET_CHARS} characters",
                variable="SUPERBRAIN_WEB_SECRET",
            )
        return given.encode("utf-8")
    path = data_dir / "web" / "secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text(encoding="ascii").strip()
        if len(text) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"{path} holds no usable secret: delete it to make a new one",
                variable="SUPERBRAIN_WEB_SECRET",
            ) from None
        return text.encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip().encode("ascii")


@attrs.frozen
class Token:
    """What a verified link or cookie says."""

    kind: str
    owner_id: int
    expires_at: int
    nonce: str


def _sign(secret: bytes, kind: str, owner_id: int, ttl: int, now: float | None) -> str:
    when = int(time.time() if now is None else now)
    body = {"k": kind, "o": owner_id, "e": when + ttl, "n": secrets.token_urlsafe(18)}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode("ascii"))
    mac = hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def _verify(secret: bytes, token: str, kind: str, now: float | None) -> Token:
    payload, dot, mac = token.partition(".")
    if not dot or not payload or len(token) > 512:
        raise BadToken("malformed token")
    want = hmac.new(secret, payload.encode("ascii", "replace"), hashlib.sha256).digest()
    if not hmac.compare_digest(want, _unb64(mac)):
        raise BadToken("bad signature")
    try:
        body = json.loads(_unb64(payload))
        found = Token(str(body["k"]), int(body["o"]), int(body["e"]), str(body["n"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadToken("malformed token") from exc
    if found.kind != kind:
        raise BadToken(f"a {found.kind} token where a {kind} token was expected")
    if found.expires_at <= (time.time() if now is None else now):
        raise BadToken("expired")
    return found


def mint_login(
    secret: bytes, owner_id: int, *, ttl: int = LINK_TTL_SECONDS, now: float | None = None
) -> str:
    """A login token for ``owner_id``, good for ``ttl`` seconds and (with the ledger) once."""
    return _sign(secret, _LOGIN, owner_id, ttl, now)


def login_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/login/{token}"


def verify_login(secret: bytes, token: str, *, now: float | None = None) -> Token:
    """The link's claims if its signature holds and it has not expired (use is checked
    by the :class:`NonceLedger`)."""
    return _verify(secret, token, _LOGIN, now)


def mint_session(
    secret: bytes, owner_id: int, *, ttl: int = SESSION_TTL_SECONDS, now: float | None = None
) -> str:
    return _sign(secret, _SESSION, owner_id, ttl, now)


def verify_session(secret: bytes, cookie: str, *, now: float | None = None) -> Token:
    return _verify(secret, cookie, _SESSION, now)


def csrf_token(secret: bytes, session: Token) -> str:
    """The token every form of this session carries; tied to the session's nonce."""
    return _b64(hmac.new(secret, f"csrf:{session.nonce}".encode(), hashlib.sha256).digest())


def csrf_ok(secret: bytes, session: Token, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(secret, session), given or "")


class NonceLedger:
    """The nonces of login links already used, kept in a SQLite file so a restart
    does not make a used link good again. Expired nonces are pruned (their links
    fail on expiry anyway)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS used_links"
                " (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)"
            )
        os.chmod(path, 0o600)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def consume(self, token: Token, *, now: float | None = None) -> bool:
        """Record the link's nonce; ``False`` when it was used before."""
        when = int(time.time() if now is None else now)
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM used_links WHERE expires_at < ?", (when,))
            try:
                conn.execute(
                    "INSERT INTO used_links (nonce, expires_at) VALUES (?, ?)",
                    (token.nonce, token.expires_at),
                )
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                return False
            conn.execute("COMMIT")
            return True
        finally:
            conn.close()
