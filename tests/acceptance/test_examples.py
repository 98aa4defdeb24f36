"""The examples run and do what they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
