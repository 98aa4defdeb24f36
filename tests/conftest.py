"""Shared fixtures, and the rule that CI never silently skips what it must run.

Tests that need the real Postgres server (marker ``postgres``) or the shared
Telegram samples beside the project (marker ``samples``) skip with a clear reason
on a developer machine that lacks them. With ``CI=true`` such a skip fails the
run instead: a green CI must mean those tests ran.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from superbrain_core.storage.sqlite.store import SqliteStore

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("SUPERBRAIN_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
SAMPLES_DIR = SHARED_DIR / "telegram_samples"
ENFORCED_MARKERS = ("postgres", "samples", "browser")

# The store backends of the one conformance suite (used by the storage, analyzer,
# history and explore tests alike) and the per-test Postgres databases.
pytest_plugins = ("tests.storage.backends", "tests.storage.postgres.fixtures")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


_enforced_skips: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and any(m in report.keywords for m in ENFORCED_MARKERS):
        _enforced_skips.append(f"{report.nodeid}: {report.longrepr}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if in_ci() and _enforced_skips:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            reporter.write_line(
                f"CI=true: {len(_enforced_skips)} Postgres/shared-sample test(s) were skipped;"
                " they must run in CI:",
                red=True,
            )
            for line in _enforced_skips[:20]:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """``../shared/telegram_samples``; skips (fails in CI) when it is absent."""
    if not SAMPLES_DIR.is_dir():
        pytest.skip(
            f"shared Telegram samples not found at {SAMPLES_DIR} (set SUPERBRAIN_SHARED_DIR)"
        )
    return SAMPLES_DIR


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "test.db") as store:
        yield store
