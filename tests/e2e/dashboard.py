"""The one way the browser tests start the dashboard: ``streamlit run app.py`` on a free
localhost port over a given workspace, for as long as a ``with`` block lasts."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.pages.conftest import REPO

CHROMIUM = "/usr/bin/chromium"


def require_browser() -> None:
    """Skip the test unless Debian's chromium and Playwright are installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --browser installs it)")
    pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_dashboard(workspace: Path, **env: str) -> Iterator[str]:
    """The dashboard's URL, served over ``workspace`` (its log: ``workspace/streamlit.log``)
    with ``env`` added to the server's environment; stopped when the block ends."""
    port = free_port()
    server_env = dict(os.environ, LAOM_STUDIO_WORKSPACE=str(workspace), **env, PYTHONPATH=str(REPO))
    log = open(workspace / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
         "--server.address", "localhost", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("localhost", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise AssertionError("streamlit did not start:\n" + (workspace / "streamlit.log").read_text()[-2000:])
    try:
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
