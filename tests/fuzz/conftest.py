"""The fuzz suite's two hypothesis profiles and the database every example starts from.

* ``ci`` (the default): a few dozen examples per property, derandomized, so every
  run of the suite tries the same inputs and a red CI can be reproduced locally;
  no deadline (the first example pays for imports and the event loop), and no
  shrinking, which can take minutes on one failure.
* ``fuzz`` (``SUPERBRAIN_FUZZ=long``, ``make fuzz``): thousands of random examples
  per property, failures remembered in hypothesis' example database.

The profile is applied per test (:func:`fuzz_settings`), not loaded globally, so
the rest of the test suite keeps hypothesis' defaults when it runs in one session
with this folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, Phase, settings

from superbrain_core.capture import Capturer
from superbrain_core.demo.samples import demo_day
from superbrain_core.files import LocalFileStore
from superbrain_core.history.importer import import_desktop_export
from superbrain_core.storage.sqlite.store import SqliteStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "desktop_export"

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking: a failure shrinks for minutes, CI needs the verdict; the
    # failing example is printed as found (``make fuzz`` shrinks it to the minimum).
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    print_blob=True,
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "fuzz",
    max_examples=3000,
    deadline=None,
    print_blob=True,
    suppress_health_check=_HEALTH,
)

#: ``fuzz`` when ``SUPERBRAIN_FUZZ=long``, else ``ci``.
PROFILE = "fuzz" if os.environ.get("SUPERBRAIN_FUZZ", "").strip().lower() == "long" else "ci"


def fuzz_settings(scale: float = 1.0, **overrides: Any) -> settings:
    """The active profile for one test, its example count scaled by ``scale`` (for
    properties whose examples are expensive, such as a subprocess each)."""
    base = settings.get_profile(PROFILE)
    examples = max(1, round(base.max_examples * scale))
    return settings(base, max_examples=examples, **overrides)


async def _seed(db: Path, files: Path) -> None:
    """A day of the demo's updates (replies and chains included) and a Desktop import,
    so each property also checks that what was there before stays as it was."""
    async with SqliteStore(db) as store:
        capturer = Capturer(store)
        for update in demo_day():
            await capturer.capture(update)
        await import_desktop_export(
            store, LocalFileStore(files), FIXTURES / "supergroup_2021" / "result.json"
        )


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database file with prior rows; examples work on copies of it."""
    where = tmp_path_factory.mktemp("fuzz-seed")
    db = where / "seed.db"
    anyio.run(_seed, db, where / "files")
    return db


@pytest.fixture(scope="session")
def fuzz_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where examples make their folders (session-scoped, so hypothesis may share it)."""
    return tmp_path_factory.mktemp("fuzz")
