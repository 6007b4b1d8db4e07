"""The dashboard in a real browser: Playwright driving Debian's chromium (headless).

Starts ``streamlit run app.py`` on a free localhost port in a temporary workspace holding
tiny datasets made by the real collector, opens every page, launches a smoke run from
Train, watches it reach finished on Runs, sees the latent-space chart and a rollout video,
and saves a screenshot of every page under tests/e2e/screenshots/ (git-ignored). No page
may show an exception.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.e2e.dashboard import CHROMIUM, require_browser, serve_dashboard
from tests.pages.conftest import build_datasets

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parent / "screenshots"
PAGES = {"home": "", "datasets": "datasets", "train": "train", "runs": "runs", "latent_space": "latent_space",
         "budgets": "budgets", "rollouts": "rollouts"}
# Overrides typed into the Train page so the smoke run takes seconds of compute.
OVERRIDES = "\n".join([
    "lapo.total_updates=3", "bc.total_updates=3", "decoder.total_updates=3", "run.eval_max_steps=6",
    "run.log_every=1", "lapo.batch_size=8", "bc.batch_size=8", "decoder.batch_size=8",
    "run.probe_samples=64", "run.latents_samples=48",
])


@pytest.fixture
def server(workspace):
    require_browser()
    build_datasets(workspace)
    with serve_dashboard(workspace, LAOM_TORCH_THREADS="1") as url:
        yield url, workspace
    _stop_background(workspace)


def _stop_background(workspace: Path) -> None:
    """Stop runs and jobs this test started (the scheduler exits on its own when idle)."""
    from laom_core import jobs
    from laom_core.runs import launcher

    os.environ["LAOM_STUDIO_WORKSPACE"] = str(workspace)
    launcher.stop_all(grace_s=3)
    for job in jobs.list_jobs():
        if job.state == "running":
            jobs.stop_job(job.id, grace_s=2)


def settle(page, timeout: float = 30_000) -> None:
    """Wait until streamlit has finished the script run (the running indicator is gone)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_selector("h1", timeout=timeout)
    deadline = time.time() + timeout / 1000
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            break
        time.sleep(0.2)
    time.sleep(0.5)


def assert_no_exception(page, name: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, f"{name} shows an exception"
    assert "Traceback" not in page.content(), f"{name} shows a traceback"


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_every_page_in_chromium(server):
    from playwright.sync_api import sync_playwright

    url, workspace = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            # A deep link as the very first request of the server (a bookmark after a restart)
            # must go through app.py's navigation, not the pages/ folder's old layout.
            page.goto(f"{url}/runs")
            settle(page)
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Supervision budgets" in nav and "common" not in nav, nav
            for name, path in PAGES.items():
                page.goto(f"{url}/{path}")
                settle(page)
                assert_no_exception(page, name)

            # Launch a smoke run from Train (defaults: LAOM, smoke preset, train + eval datasets).
            page.goto(f"{url}/train")
            settle(page)
            area = page.get_by_label("Config overrides, one `section.key=value` per line")
            area.fill(OVERRIDES)
            area.press("Control+Enter")
            settle(page)
            assert "lapo.total_updates=3" in page.content()  # the equivalent command shows them
            shot(page, "train")
            page.get_by_role("button", name="Launch 1 run").click()
            page.get_by_text("Queued 1 run").wait_for(timeout=30_000)
            assert_no_exception(page, "train after launch")

            # Runs: the live page follows the run to finished.
            page.goto(f"{url}/runs")
            settle(page)
            page.get_by_role("tab", name="Progress").click()
            # The Progress tab's markdown (the table is a canvas grid with hidden accessible cells).
            page.locator('[data-testid="stMarkdownContainer"]', has_text="✓ finished").first.wait_for(timeout=420_000)
            page.get_by_role("tab", name="Curves").click()
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
            assert_no_exception(page, "runs")
            shot(page, "runs")

            page.goto(f"{url}/latent_space")
            settle(page)
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            time.sleep(1.0)
            # Lasso around the whole plot area: the frames behind the points appear.
            area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
            x0, y0, w, h = area["x"], area["y"], area["width"], area["height"]
            page.mouse.move(x0 + 3, y0 + 3)
            page.mouse.down()
            for fx, fy in ((0.98, 0.02), (0.98, 0.98), (0.02, 0.98), (0.02, 0.03)):
                page.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
            page.mouse.up()
            page.get_by_text("selected (showing").wait_for(timeout=30_000)
            assert_no_exception(page, "latent_space")
            shot(page, "latent_space")

            page.goto(f"{url}/rollouts")
            settle(page)
            video = page.locator("video").first
            video.wait_for(timeout=60_000)
            page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 1 }",
                                   timeout=30_000)
            assert_no_exception(page, "rollouts")
            shot(page, "rollouts")

            for name in ("home", "datasets", "budgets"):
                page.goto(f"{url}/{PAGES[name]}")
                settle(page)
                if name != "home":
                    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
                time.sleep(1.0)
                assert_no_exception(page, name)
                shot(page, name)
        finally:
            browser.close()
