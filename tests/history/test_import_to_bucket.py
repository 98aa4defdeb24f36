"""`import-desktop` puts media in the Supabase Storage bucket when one is configured.

In process (typer's runner) so the Storage API can be mocked with respx; the
store is a real SQLite file. Before the fix the import wrote to the local
``files`` folder whatever the settings said.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import respx
from click.testing import Result
from typer.testing import CliRunner

from superbrain_core.cli.commands import app

EXPORT = Path(__file__).resolve().parent.parent / "fixtures" / "desktop_export" / "supergroup_2021"
PROJECT = "https://proj.supabase.co"


def _invoke(tmp_path: Path, *args: str) -> Result:
    env = {
        "SUPERBRAIN_DB": f"sqlite:///{tmp_path / 'cli.db'}",
        "SUPERBRAIN_DATA_DIR": str(tmp_path / "data"),
        "SUPERBRAIN_FILES_BUCKET": "files",
        "SUPABASE_URL": PROJECT,
        "SUPABASE_SERVICE_KEY": "sb_secret_" + "k" * 30,
    }
    return CliRunner().invoke(app, list(args), env=env)


def test_import_uploads_media_to_the_configured_bucket(tmp_path: Path) -> None:
    uploads: list[str] = []

    def upload(request: httpx.Request) -> httpx.Response:
        uploads.append(request.url.path)
        return httpx.Response(200, json={"Key": request.url.path})

    with respx.mock(assert_all_called=False) as mock:
        mock.post(url__regex=rf"{PROJECT}/storage/v1/object/files/.*").mock(side_effect=upload)
        result = _invoke(tmp_path, "import-desktop", str(EXPORT))
    assert result.exit_code == 0, result.output
    assert len(uploads) == 2
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        stored = conn.execute("SELECT status, file_path FROM raw_files").fetchall()
    assert {s for s, _ in stored} == {"stored"}
    assert sorted(f"/storage/v1/object/files/{p}" for _, p in stored) == sorted(uploads)
    files = tmp_path / "data" / "files"
    assert not files.exists() or not [p for p in files.rglob("*") if p.is_file()]


def test_a_refused_upload_is_not_saved_and_retried_later(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(url__regex=rf"{PROJECT}/storage/v1/object/files/.*").mock(
            return_value=httpx.Response(500)
        )
        refused = _invoke(tmp_path, "import-desktop", str(EXPORT))
    assert refused.exit_code == 5, refused.output
    with respx.mock(assert_all_called=False) as mock:
        mock.post(url__regex=rf"{PROJECT}/storage/v1/object/files/.*").mock(
            return_value=httpx.Response(200, json={})
        )
        retried = _invoke(tmp_path, "files", "retry")
    assert retried.exit_code == 0, retried.output
    assert "files saved now: 2" in retried.output
