"""examples/explore.ipynb runs clean, on this project's own Python, and shows what it says."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "explore.ipynb"
KERNEL = "superbrain-test-venv"


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernelspec that starts ``sys.executable`` (this venv) — a ``python3`` spec found
    on the machine could start another interpreter without the library — and an
    environment that leaves the user's Jupyter, IPython and superbrain settings alone."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "superbrain test venv",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "matplotlib"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the notebook builds the demo
    for name in list(os.environ):
        if name.startswith("SUPERBRAIN_"):
            monkeypatch.delenv(name)


def outputs(cell: Any) -> list[dict[str, Any]]:
    return list(cell.get("outputs", []))


def text_of(cell: Any) -> str:
    parts = []
    for out in outputs(cell):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_the_saved_notebook_is_clean() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.usefixtures("kernel_env")
def test_the_notebook_runs_clean_and_shows_the_move(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=180,
        resources={"metadata": {"path": str(tmp_path)}},
        allow_errors=False,
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in outputs(c) if o["output_type"] == "error"]
    stderr = [o["text"] for c in code for o in outputs(c) if o.get("name") == "stderr"]
    assert not errors and not stderr, (errors, stderr)
    assert all(c.execution_count for c in code), "every code cell ran"

    assert text_of(code[0]) == "<Explorer sqlite Europe/Moscow open>", "the demo ran quietly"
    everything = "\n".join(text_of(c) for c in code)
    assert "message #1: events → tasks (moved by run 2)" in everything

    plots = [o for c in code for o in outputs(c) if "image/png" in o.get("data", {})]
    assert len(plots) == 1, "the per-day bar chart"

    per_day = next(c for c in code if "per_day = " in c.source)
    assert "photo" in text_of(per_day) and "text" in text_of(per_day)
    versions = next(c for c in code if "versions = " in c.source)
    assert "Чек из кафе 1250" in text_of(versions) and "Чек из кафе 1 350" in text_of(versions)
    night = next(c for c in code if "night = " in c.source)
    assert "tasks" in text_of(night)
    assert "superbrain-demo-" in "".join(code[0].source), "it builds the demo in the temp dir"
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("superbrain-"))
    assert left == [], "the notebook removes its demo folder from the temp dir"
