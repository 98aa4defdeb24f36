"""The chaos suite: real processes killed with SIGKILL, a database taken away, faults.

``make test`` runs it bounded (small bursts, a few hundred messages); ``make
chaos`` sets ``SUPERBRAIN_CHAOS=long`` for the full sizes the issue names
(2,000 webhook updates and more). Every test prints one ``CHAOS`` line with its
figures: what was lost, what was duplicated, and how long recovery took.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

LONG = os.environ.get("SUPERBRAIN_CHAOS", "").strip().lower() == "long"


def scale(bounded: int, long: int) -> int:
    """A size for this run: ``long`` under ``SUPERBRAIN_CHAOS=long``, else ``bounded``."""
    return long if LONG else bounded


def figures(name: str, **values: object) -> None:
    """One line a person (or CI log) can read: ``CHAOS <name>: lost=0 duplicated=0 ...``."""
    shown = " ".join(
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
    print(f"\nCHAOS {name}: {shown}", flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the developer's SUPERBRAIN_/TELEGRAM_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERBRAIN_", "TELEGRAM_"))}
    env.update(extra)
    return env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each kind, migrated by the real CLI."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chaos.db'}"
        return
    from tests.storage.postgres import pgutil

    pgutil.require_server()
    pgutil.ensure_api_roles()
    with pgutil.database("chaos") as dsn:
        migrated = pgutil.superbrain("--db", dsn, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        yield dsn
