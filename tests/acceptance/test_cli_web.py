"""`superbrain web-login` and `superbrain web` in real subprocesses: one line out, the
same secret on both sides, and clear configuration errors (exit 2) before serving."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from superbrain_core import login_links

from .test_cli import run


def test_web_login_prints_one_link_signed_with_the_data_dirs_secret(tmp_path: Path) -> None:
    result = run(tmp_path, "web-login")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("http://127.0.0.1:8765/login/")
    secret_file = tmp_path / "data" / "web" / "secret"
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    secret = login_links.load_secret(tmp_path / "data", env={})
    claims = login_links.verify_login(secret, line.rsplit("/", 1)[1])
    assert claims.owner_id == login_links.LOCAL_OWNER
    # A second link is different and signed with the same secret.
    again = run(tmp_path, "web-login", "--base-url", "https://brain.example/").stdout.strip()
    assert again.startswith("https://brain.example/login/") and again != line
    login_links.verify_login(secret, again.rsplit("/", 1)[1])


def test_web_login_is_for_an_owner(tmp_path: Path) -> None:
    owners = {"SUPERBRAIN_OWNER_IDS": "111, 222", "SUPERBRAIN_WEB_SECRET": "k" * 40}
    first = run(tmp_path, "web-login", env=owners)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip().rsplit("/", 1)[1]
    assert login_links.verify_login(b"k" * 40, token).owner_id == 111
    chosen = run(tmp_path, "web-login", "--owner", "222", env=owners)
    assert (
        login_links.verify_login(b"k" * 40, chosen.stdout.strip().rsplit("/", 1)[1]).owner_id == 222
    )
    stranger = run(tmp_path, "web-login", "--owner", "333", env=owners)
    assert stranger.returncode == 2 and "333 is not in SUPERBRAIN_OWNER_IDS" in stranger.stderr
    assert stranger.stdout == ""


def test_bad_settings_stop_before_anything_is_served(tmp_path: Path) -> None:
    short = run(tmp_path, "web-login", env={"SUPERBRAIN_WEB_SECRET": "tooshort1"})
    assert short.returncode == 2 and "at least 32" in short.stderr
    assert "tooshort1" not in short.stderr + short.stdout  # a secret is never echoed
    bad_url = run(tmp_path, "web-login", "--base-url", "ftp://x")
    assert bad_url.returncode == 2 and "http://" in bad_url.stderr
    listen = run(tmp_path, "web", "--listen", "nowhere")
    assert listen.returncode == 2 and "HOST:PORT" in listen.stderr
    owners = run(tmp_path, "web", env={"SUPERBRAIN_OWNER_IDS": "-5"})
    assert owners.returncode == 2 and "SUPERBRAIN_OWNER_IDS" in owners.stderr


def test_web_serves_until_sigterm_and_stops_cleanly(tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERBRAIN_", "TELEGRAM_"))}
    env.update(
        SUPERBRAIN_DB=f"sqlite:///{tmp_path / 'cli.db'}", SUPERBRAIN_DATA_DIR=str(tmp_path / "data")
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "superbrain_core", "web", "--listen", f"127.0.0.1:{port}"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(200):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("superbrain web did not start")
        assert health.text == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert "Stopping." in err and f"127.0.0.1:{port}" in err
