"""Screenshots of every dashboard page from a real browser (Debian's chromium via Playwright).

    python scripts/screenshots.py [--out docs/screenshots] [--url http://localhost:8501]

Without ``--url`` it starts ``streamlit run app.py`` on a free localhost port over the
current workspace (``LAOM_STUDIO_WORKSPACE`` or ./workspace) and stops it afterwards, so the
pictures show whatever that workspace holds (for the README: the demo's finished runs).
Pages must render without an exception; a page that shows one fails the script.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PAGES = {"home": "", "datasets": "datasets", "train": "train", "runs": "runs", "latent_space": "latent_space",
         "budgets": "budgets", "rollouts": "rollouts"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
         "--server.address", "localhost", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("localhost", port), timeout=1):
                return proc, f"http://localhost:{port}"
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("streamlit did not start within 60 s")


def settle(page, timeout_s: float = 60.0) -> None:
    """Wait for the script run to finish (no running indicator), then for charts to draw."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    page.wait_for_selector("h1", timeout=timeout_s * 1000)
    deadline = time.time() + timeout_s
    while time.time() < deadline and page.locator('[data-testid="stStatusWidget"]').count():
        time.sleep(0.3)
    time.sleep(2.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    p.add_argument("--url", help="a dashboard already running (default: start one)")
    p.add_argument("--width", type=int, default=1400)
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    proc, url = (None, args.url) if args.url else start_server()
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": args.width, "height": 1000})
            for name, path in PAGES.items():
                page.goto(f"{url}/{path}")
                settle(page)
                if page.locator('[data-testid="stException"]').count():
                    failed.append(name)
                page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
                print(f"{name}: {args.out / (name + '.png')}")
            browser.close()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    if failed:
        print(f"pages showing an exception: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
