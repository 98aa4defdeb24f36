"""Who may see the page: login links, the session cookie, CSRF and security headers.

Nothing but ``/healthz`` and the login link itself answers without a session;
every POST must carry the session's CSRF token (403 otherwise); every response
carries a CSP without inline scripts and refuses framing. The token logic lives in
:mod:`superbrain_core.login_links`; this module only applies it to requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import attrs
from aiohttp import web

from superbrain_core import login_links
from superbrain_core.logs import get_logger

log = get_logger(__name__)

SESSION_COOKIE = "superbrain_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC_PATHS = frozenset({"/healthz"})
LOGIN_PREFIX = "/login/"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " media-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

NOT_LOGGED_IN = "Not logged in. Ask for a link: superbrain web-login (or /web to the bot)."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class Access:
    """The secret, who may log in, where used links are remembered."""

    secret: bytes = attrs.field(repr=False)
    owners: frozenset[int]
    """Empty: only links minted for :data:`login_links.LOCAL_OWNER` (no owners configured)."""
    ledger: login_links.NonceLedger
    secure_cookies: bool = False
    """Mark the cookie Secure even on plain HTTP (TLS ends at a proxy in front)."""

    def allowed(self, owner_id: int) -> bool:
        if not self.owners:
            return owner_id == login_links.LOCAL_OWNER
        return owner_id in self.owners


ACCESS = web.AppKey("access", Access)
SESSION = web.RequestKey("session", login_links.Token)


def session_of(request: web.Request) -> login_links.Token:
    token = request.get(SESSION)
    assert isinstance(token, login_links.Token), "only called behind the auth middleware"
    return token


def csrf_for(request: web.Request) -> str:
    return login_links.csrf_token(request.app[ACCESS].secret, session_of(request))


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


def see_other(location: str) -> web.Response:
    """A 303 to ``location`` (after a POST, or after logging in)."""
    return web.Response(status=303, headers={"Location": location})


def _denied(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No session, no data; a POST without its CSRF token is refused with 403."""
    if request.path in PUBLIC_PATHS or request.path.startswith(LOGIN_PREFIX):
        return await handler(request)
    access = request.app[ACCESS]
    cookie = request.cookies.get(SESSION_COOKIE, "")
    try:
        session = login_links.verify_session(access.secret, cookie)
    except login_links.BadToken:
        return _denied(401, NOT_LOGGED_IN)
    if not access.allowed(session.owner_id):
        return _denied(401, "This session's owner is not in SUPERBRAIN_OWNER_IDS.")
    request[SESSION] = session
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in {
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        }:
            form = await request.post()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not login_links.csrf_ok(access.secret, session, given):
            log.warning("web_csrf_refused", path=request.path)
            return _denied(403, "Refused: the form's CSRF token is missing or wrong.")
    return await handler(request)


async def login(request: web.Request) -> web.StreamResponse:
    """``/login/{token}``: a good, unused link sets the session cookie and goes to ``/``."""
    access = request.app[ACCESS]
    token = request.match_info["token"]
    try:
        claims = login_links.verify_login(access.secret, token)
    except login_links.BadToken as exc:
        log.info("web_login_refused", reason=str(exc))
        return _denied(403, "This login link is expired or not valid. Ask for a new one.")
    if not access.allowed(claims.owner_id):
        log.info("web_login_refused", reason="not an owner")
        return _denied(403, "This login link is for someone who is not an owner.")
    fresh = await anyio.to_thread.run_sync(access.ledger.consume, claims)
    if not fresh:
        log.info("web_login_refused", reason="used")
        return _denied(403, "This login link was already used. Ask for a new one.")
    session = login_links.mint_session(access.secret, claims.owner_id)
    response = see_other("/")
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=login_links.SESSION_TTL_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=access.secure_cookies or request.secure,
        path="/",
    )
    log.info("web_login", owner_id=claims.owner_id)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = see_other("/healthz")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def healthz(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok", content_type="text/plain")


def install(app: web.Application, access: Access) -> None:
    app[ACCESS] = access
    app.middlewares.append(auth_middleware)
    app.on_response_prepare.append(_add_headers)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/login/{token}", login)
    app.router.add_post("/logout", logout)
