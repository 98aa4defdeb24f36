"""The examples run and do what they say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_capture_example_resolves_the_reply_to_the_bot(tmp_path: Path) -> None:
    db = tmp_path / "ex.db"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "capture_in_your_code.py"), f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "chain root #1: В четверг созвон с бухгалтером" in result.stdout
    assert "reply #3: в 11:30 (to: Во сколько?)" in result.stdout
    assert db.exists()


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
def test_bot_example_without_a_token_says_so_and_exits_2(tmp_path: Path, token: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SUPERBRAIN_"))}
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "embed_in_your_bot.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "@BotFather" in result.stderr
    assert "Traceback" not in result.stderr and "KeyError" not in result.stderr
    assert not list(tmp_path.iterdir()), "nothing was created"
