"""Access control over real HTTP: no session, no data; links are single-use and expire;
every POST needs its CSRF token; cookies and security headers are as promised."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from superbrain_core import login_links
from superbrain_core.storage.base import Store
from superbrain_core.storage.sqlite.store import SqliteStore
from superbrain_core.web.security import SESSION_COOKIE
from tests.web.helpers import OWNER, TEXTS, logged_in, serve, small_archive

pytestmark = pytest.mark.anyio

PAGES = [
    "/",
    f"/items/{OWNER}/1",
    "/tables/events",
    "/tables/tasks",
    "/tables/notes",
    "/tables/links",
    "/tables/people",
    "/tables/files",
    "/tables/expenses",
    "/chats",
    f"/chats/{OWNER}",
    f"/chats/{OWNER}/media",
    f"/chats/{OWNER}/files",
    f"/chats/{OWNER}/links",
    "/search?q=встреча",
    "/files/1",
    "/static/style.css",
    "/nowhere",
]


@pytest.fixture
async def store(tmp_path: Path) -> SqliteStore:  # type: ignore[misc]
    async with SqliteStore(tmp_path / "web.db") as opened:
        await small_archive(opened)
        yield opened


def assert_headers(response: httpx.Response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_anonymous_requests_get_no_data(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        for page in PAGES:
            response = await c.get(page)
            assert response.status_code == 401, page
            assert_headers(response)
            assert not any(t.split()[0] in response.text for t in TEXTS), page
        for page in (f"/items/{OWNER}/1/move", "/tasks/1/status", "/logout"):
            response = await c.post(page, data={"table": "notes", "status": "done"})
            assert response.status_code == 401
        health = await c.get("/healthz")
        assert health.status_code == 200 and health.text == "ok"
        assert_headers(health)


async def test_a_link_logs_in_once_with_a_locked_down_cookie(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        link = server.link()
        response = await c.get(link)
        assert response.status_code == 303 and response.headers["Location"] == "/"
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback
        home = await c.get("/")
        assert home.status_code == 200 and "Купить молоко" in home.text
        assert_headers(home)
        # The same link again, from a browser without the session: refused.
        async with httpx.AsyncClient(base_url=server.base_url) as other:
            again = await other.get(link)
            assert again.status_code == 403 and SESSION_COOKIE not in again.headers.get(
                "Set-Cookie", ""
            )
            assert (await other.get("/")).status_code == 401


async def test_a_used_link_stays_used_after_a_restart(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        link = server.link()
        assert (await c.get(link)).status_code == 303
    async with serve(store, tmp_path) as restarted:
        path = link.removeprefix(server.base_url)
        async with httpx.AsyncClient(base_url=restarted.base_url) as c:
            response = await c.get(path)
            assert response.status_code == 403 and "already used" in response.text


async def test_expired_forged_and_foreign_links_do_nothing(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        expired = server.link(now=time.time() - login_links.LINK_TTL_SECONDS - 1)
        good = server.link()
        payload, _, mac = good.rpartition("/")[2].partition(".")
        forged = f"{server.base_url}/login/{payload}.{mac[:-2]}AA"
        other_secret = login_links.login_url(
            server.base_url, login_links.mint_login(b"x" * 40, OWNER)
        )
        not_owner = server.link(owner=OWNER + 1)
        session_as_link = login_links.login_url(
            server.base_url, login_links.mint_session(server.access.secret, OWNER)
        )
        for link in (expired, forged, other_secret, not_owner, session_as_link, "/login/x.y"):
            response = await c.get(link)
            assert response.status_code == 403, link
            assert "Set-Cookie" not in response.headers
            assert (await c.get("/")).status_code == 401
        # None of them burned the good link.
        assert (await c.get(good)).status_code == 303


async def test_a_forged_cookie_is_not_a_session(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path) as server:
        forged = login_links.mint_session(b"y" * 40, OWNER)
        login = login_links.mint_login(server.access.secret, OWNER)
        for cookie in (forged, login, "garbage"):
            async with httpx.AsyncClient(
                base_url=server.base_url, cookies={SESSION_COOKIE: cookie}
            ) as c:
                assert (await c.get("/")).status_code == 401


async def test_posts_without_their_csrf_token_are_refused(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        token = await logged_in(c, server)
        before = await store.routing_history(OWNER, 2)
        for data in (
            {"table": "notes"},
            {"table": "notes", "csrf": ""},
            {"table": "notes", "csrf": "x" + token[1:]},
        ):
            response = await c.post(f"/items/{OWNER}/2/move", data=data)
            assert response.status_code == 403
        # A token from another session is refused too.
        async with httpx.AsyncClient(base_url=server.base_url) as other:
            other_token = await logged_in(other, server)
        response = await c.post(
            f"/items/{OWNER}/2/move", data={"table": "notes", "csrf": other_token}
        )
        assert response.status_code == 403
        response = await c.post("/tasks/1/status", data={"status": "done"})
        assert response.status_code == 403
        assert await store.routing_history(OWNER, 2) == before
        # With it, the move happens; the header form works as well.
        response = await c.post(f"/items/{OWNER}/2/move", data={"table": "notes", "csrf": token})
        assert response.status_code == 303
        assert (await store.routing_history(OWNER, 2))[-1].destination == "notes"
        response = await c.post(
            f"/items/{OWNER}/2/move", data={"table": "tasks"}, headers={"X-CSRF-Token": token}
        )
        assert response.status_code == 303


async def test_the_cookie_is_secure_behind_https(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path, secure_cookies=True) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as c:
            response = await c.get(server.link())
            assert "Secure" in response.headers["Set-Cookie"]


async def test_with_no_owners_only_local_links_work(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path, owners=frozenset()) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as c:
            assert (await c.get(server.link(owner=OWNER))).status_code == 403
            assert (await c.get(server.link(owner=login_links.LOCAL_OWNER))).status_code == 303
            assert (await c.get("/")).status_code == 200


async def test_logout_ends_the_session_cookie(store: Store, tmp_path: Path) -> None:
    async with serve(store, tmp_path) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        token = await logged_in(c, server)
        response = await c.post("/logout", data={"csrf": token})
        assert response.status_code == 303
        assert (await c.get("/")).status_code == 401


async def test_links_and_cookies_never_reach_the_logs(store: Store, tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    async with serve(store, tmp_path) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        link = server.link()
        token = link.rsplit("/", 1)[1]
        with capture_logs() as logs:
            first = await c.get(link)
            await c.get(link)  # used: refused and logged as such
            await c.post(f"/items/{OWNER}/1/move", data={"table": "notes"})  # no CSRF
        cookie = first.cookies[SESSION_COOKIE]
        text = repr(logs)
        assert {e["event"] for e in logs} >= {"web_login", "web_login_refused", "web_csrf_refused"}
        assert token not in text and token.split(".")[1] not in text and cookie not in text
        assert "s" * 40 not in repr(server.access)
