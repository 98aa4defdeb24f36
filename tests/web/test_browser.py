"""The page in a real browser: headless Chromium (Debian's package) driven by Playwright.

It runs what a person does after ``make demo``: start ``superbrain web`` on the
demo database, open a link from ``superbrain web-login``, see the night's items,
move one and find it in the other table after a reload and in ``superbrain
explain``, search in Russian by another word form, and open the chat with the
album and the edited message. Every page is saved as a screenshot in
``tests/web/artifacts/`` (or ``$SUPERBRAIN_WEB_ARTIFACTS``); docs/web.md names them.

Without Chromium or Playwright the test skips with the reason; with ``CI=true``
that skip fails the run (marker ``browser``).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from rich.console import Console

from superbrain_core.demo.scenario import run_demo

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SUPERBRAIN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("SUPERBRAIN_WEB_ARTIFACTS", Path(__file__).parent / "artifacts"))


def _browser_or_skip() -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (the dev extra)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "superbrain_core", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def demo_site(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """``superbrain web`` serving a fresh demo database: (base URL, db URL, env)."""
    _browser_or_skip()
    report = anyio.run(lambda: run_demo(tmp_path, Console(file=io.StringIO())))
    db = f"sqlite:///{report.db_path}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERBRAIN_")}
    env.update(SUPERBRAIN_DATA_DIR=str(tmp_path), SUPERBRAIN_LOG_FORMAT="json")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "superbrain_core",
            "--db",
            db,
            "web",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                pytest.fail(
                    f"superbrain web exited: {server.stderr.read() if server.stderr else ''}"
                )
            time.sleep(0.1)
        else:
            pytest.fail("superbrain web did not answer /healthz in 20 s")
        yield base, db, env
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_review_correct_search_and_browse_in_chromium(
    demo_site: tuple[str, str, dict[str, str]],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db, env = demo_site
    login = _cli("web-login", "--base-url", base, env=env)
    assert login.returncode == 0, login.stderr
    link = login.stdout.strip()
    assert link.startswith(f"{base}/login/") and "\n" not in link
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="ru-RU")
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def shot(name: str) -> None:
            page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            shots.append(name)

        # Log in through the link: it lands on the review of the demo's nights.
        page.goto(link)
        assert page.url == f"{base}/"
        meeting = page.locator('[data-key="100500:1"]')
        expect(meeting).to_be_visible()
        expect(page.locator('section[data-table="tasks"] [data-key="100500:1"]')).to_have_count(1)
        expect(page.locator('section[data-table="expenses"]')).to_be_visible()
        shot("01-review.png")

        # The same link again does nothing.
        other = browser.new_page()
        response = other.goto(link)
        assert response is not None and response.status == 403
        other.close()

        # Move the meeting from tasks to events; after a reload it is there, as the owner's.
        meeting.locator("select[name=table]").select_option("events")
        meeting.get_by_role("button", name="Перенести").click()
        page.wait_for_url(f"{base}/")
        page.reload()
        moved = page.locator('section[data-table="events"] [data-key="100500:1"]')
        expect(moved).to_have_count(1)
        expect(moved).to_contain_text("исправлено вами")
        expect(page.locator('section[data-table="tasks"] [data-key="100500:1"]')).to_have_count(0)
        shot("02-review-after-move.png")

        explained = _cli("--db", db, "explain", "100500:1", env=env)
        assert explained.returncode == 0, explained.stderr
        rows = [line for line in explained.stdout.splitlines() if "│ owner" in line]
        assert rows and "events" in rows[-1] and "current" in rows[-1], explained.stdout

        page.goto(f"{base}/items/100500/1")
        expect(page.get_by_test_id("current-table")).to_have_text("События")
        shot("03-item.png")

        page.goto(f"{base}/tables/events")
        expect(page.locator(".agenda")).to_contain_text("Встреча с Олегом")
        shot("04-events.png")
        for n, table in enumerate(("tasks", "notes", "links", "people", "files"), start=5):
            page.goto(f"{base}/tables/{table}")
            expect(page.locator("h1")).to_be_visible()
            shot(f"{n:02d}-{table}.png")
        page.goto(f"{base}/tables/expenses")
        expect(page.get_by_test_id("totals")).to_contain_text("RUB")
        expect(page.locator("svg.chart rect")).to_have_count(1)
        shot("10-expenses.png")

        # Search by another word form: "встречу" finds "встреча", highlighted.
        page.goto(f"{base}/search")
        page.locator("input[name=q]").fill("встречу")
        page.get_by_role("button", name="Найти").click()
        hit = page.get_by_test_id("hit").first
        expect(hit.locator("mark")).to_have_text("встреча")
        shot("11-search.png")

        page.goto(f"{base}/chats")
        expect(page.get_by_test_id("chat")).to_have_count(2)
        shot("12-chats.png")

        # The owner's chat: the album is one bubble, the edited receipt shows its versions.
        page.goto(f"{base}/chats/100500")
        album = page.get_by_test_id("album")
        expect(album).to_have_count(1)
        expect(album.get_by_test_id("message")).to_have_count(2)
        receipt = page.locator("#m5")
        expect(receipt.get_by_test_id("edited")).to_be_visible()
        receipt.get_by_test_id("versions").locator("summary").click()
        expect(receipt.get_by_test_id("versions")).to_contain_text("1250")
        expect(receipt.locator(".text")).to_contain_text("1 350")
        expect(page.locator("#m10 .forward")).to_contain_text("Заметки инженера")
        expect(page.locator("#m6 img")).to_have_count(1)
        shot("13-chat.png")
        for n, section in enumerate(("media", "files"), start=14):
            page.goto(f"{base}/chats/100500/{section}")
            shot(f"{n}-chat-{section}.png")
        page.goto(f"{base}/chats/-1001234567890/links")
        expect(page.locator("main table")).to_contain_text("https://example.org/postgres-skip-lock")
        shot("16-chat-links.png")

        assert not [e for e in errors if "Content Security Policy" in e], errors
        browser.close()
    print(f"\nscreenshots in {ARTIFACTS}: {', '.join(shots)}")
    assert all((ARTIFACTS / s).stat().st_size > 0 for s in shots)
