"""Tracker parity in a real browser (issue 16): every feature of the Runs page that W&B and
TensorBoard users reach for first, in headless chromium over a small workspace (a sweep
of three finished runs, see tests/pages/tracker_workspace.py).

Links that open one run and a comparison; the URL following the table's selection; curves
against relative and wall-clock time; rename, tags and notes; archive and delete with
confirmation and the "Show archived" toggle; the sweep table with grouping and parallel
coordinates; whole log, log and metric CSV downloads; the artifacts browser with a video
that plays and a download. Screenshots at 1400 px go to tests/e2e/screenshots/parity_*.png.
"""
from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest

from tests.e2e.dashboard import CHROMIUM, require_browser, serve_dashboard
from tests.e2e.test_browser import assert_no_exception, settle, shot
from tests.pages.tracker_workspace import build

pytestmark = pytest.mark.e2e


@pytest.fixture
def tracker_server(workspace):
    require_browser()
    ids = build(workspace)
    with serve_dashboard(workspace) as url:
        yield url, workspace, ids


def short(rid: str) -> str:
    return rid.rsplit("-", 1)[-1]


def panel(page):
    """The tab panel on show (every tab's content is in the page; one is visible)."""
    return page.locator('[role="tabpanel"]:visible').first


def tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    settle(page)
    return panel(page)


def runs_store(workspace: Path):
    from laom_core.runs.store import RunStore

    return RunStore(workspace / "runs.sqlite")


def stored(workspace: Path, run_id: str | None = None):
    """One run as the store has it now, or (no id) every run."""
    with runs_store(workspace) as s:
        return s.get_run(run_id) if run_id else s.list_runs()


def until(check, timeout: float = 90.0) -> None:
    """Wait until ``check()`` (a look at the run store) holds: the click was handled."""
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, "the page did not make the change"
        time.sleep(0.3)


def test_tracker_parity_in_chromium(tracker_server):
    from playwright.sync_api import sync_playwright

    url, workspace, ids = tracker_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(90_000)  # a busy 2-core machine: the waits below end as soon as things show
        try:
            # ---- a link that compares two runs, opened cold
            page.goto(f"{url}/runs?runs={short(ids[0])},{short(ids[1])}")
            settle(page)
            page.get_by_text("Opened from the link").wait_for(timeout=90_000)
            page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
            assert_no_exception(page, "runs (comparison link)")
            legend = page.locator(".js-plotly-plot").first.locator(".legendtext").all_inner_texts()
            assert len(legend) == 2, legend
            # curves against relative and wall-clock time
            page.get_by_text("Relative", exact=True).click()
            settle(page)
            page.locator(".js-plotly-plot .xtitle", has_text="relative time (h)").first.wait_for(timeout=90_000)
            page.get_by_text("Wall", exact=True).click()
            settle(page)
            page.locator(".js-plotly-plot .xtitle", has_text="wall-clock time").first.wait_for(timeout=90_000)
            shot(page, "parity_curves")
            diff = tab(page, "Config diff")
            diff.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=90_000)
            assert "lapo.learning_rate" in diff.text_content()  # the grid's accessible cells

            # ---- the sweep view: table by hyperparameter, grouping, parallel coordinates
            sweep = tab(page, "Sweep")
            sweep.locator(".js-plotly-plot .parcoords").first.wait_for(timeout=90_000)
            assert "lapo.learning_rate" in sweep.locator(".js-plotly-plot").first.inner_text()
            group_by = sweep.get_by_role("combobox", name="Group by")
            group_by.click()
            group_by.press_sequentially("lapo.learning_rate")
            group_by.press("Enter")
            settle(page)
            assert_no_exception(page, "sweep grouped")
            page.wait_for_function("() => document.body.textContent.includes('eval_return_mean mean')", timeout=90_000)
            shot(page, "parity_sweep")

            # ---- selecting a row puts the run into the URL (so it can be copied)
            page.goto(f"{url}/runs")
            settle(page)
            grid = page.locator('[data-testid="stDataFrame"]').first
            grid.wait_for()
            box = grid.bounding_box()
            page.mouse.click(box["x"] + 12, box["y"] + 35 + 35 * 1 + 17)  # the second row's selection cell
            settle(page)
            page.wait_for_function(f"() => location.search.includes('run={ids[1]}')", timeout=90_000)

            # ---- one run by link: log, downloads, artifacts
            page.goto(f"{url}/runs?run={short(ids[0])}")
            settle(page)
            logs = tab(page, "Log & control")
            assert "FIRST LINE" not in logs.inner_text()
            logs.get_by_text("Whole log").click()
            settle(page)
            panel(page).get_by_text("FIRST LINE of the log").wait_for(timeout=90_000)
            with page.expect_download() as dl:
                panel(page).get_by_role("button", name="Log", exact=True).click()
            text = Path(dl.value.path()).read_text()
            assert text.startswith("FIRST LINE") and "line 149 of run 0" in text
            with page.expect_download() as dl:
                panel(page).get_by_role("button", name="Metrics (CSV)", exact=True).click()
            rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
            assert len(rows) == 40 and {r["key"] for r in rows} == {"loss", "lr", "cpu_percent", "rss_mb"}
            shot(page, "parity_log")

            files = tab(page, "Artifacts")
            assert "6 files" in files.inner_text()
            picker = files.get_by_role("combobox", name="File")
            picker.click()
            picker.press_sequentially("rollout_0")
            picker.press("Enter")
            settle(page)
            page.wait_for_function("() => [...document.querySelectorAll('video')].some(v => v.readyState >= 1)",
                                   timeout=90_000)
            with page.expect_download() as dl:
                panel(page).get_by_role("button", name="Download rollout_0.webm", exact=True).click()
            assert Path(dl.value.path()).read_bytes() == (workspace / "runs/run0/artifacts/rollout_0.webm").read_bytes()
            assert_no_exception(page, "artifacts")
            shot(page, "parity_artifacts")

            # ---- rename, tags, notes
            manage = tab(page, "Manage")
            name = manage.get_by_role("textbox", name="Name", exact=True)
            name.fill("best lr")
            name.press("Enter")
            settle(page)
            panel(page).get_by_role("button", name="Rename").click()
            until(lambda: stored(workspace, ids[0])["name"] == "best lr")
            settle(page)
            tags = panel(page).get_by_role("textbox", name="Tags (comma-separated)")
            tags.fill("keep, paper fig")
            tags.press("Enter")
            settle(page)
            panel(page).get_by_role("button", name="Save tags").click()
            until(lambda: stored(workspace, ids[0])["tags"] == ["keep", "paper fig"])
            settle(page)
            notes = panel(page).get_by_role("textbox", name="Notes")
            notes.fill("stable after 3k steps")
            notes.press("Control+Enter")
            settle(page)
            panel(page).get_by_role("button", name="Save notes").click()
            until(lambda: stored(workspace, ids[0])["notes"] == "stable after 3k steps")
            settle(page)
            with runs_store(workspace) as s:
                run = s.get_run(ids[0])
            assert (run["name"], run["tags"], run["notes"]) == ("best lr", ["keep", "paper fig"],
                                                                 "stable after 3k steps")
            shot(page, "parity_manage")

            # ---- archive with confirmation; hidden until "Show archived"
            panel(page).get_by_role("button", name=re.compile("Archive…")).click()
            settle(page)
            panel(page).get_by_text("nothing is deleted").first.wait_for(timeout=90_000)
            with runs_store(workspace) as s:
                assert s.get_run(ids[0])["archived"] is False
            panel(page).get_by_role("button", name="Yes, archive").click()
            until(lambda: stored(workspace, ids[0])["archived"])
            settle(page)
            page.goto(f"{url}/runs")
            settle(page)
            page.get_by_text("2 of 3 runs").wait_for(timeout=90_000)
            page.get_by_text("Show archived").click()
            settle(page)
            page.get_by_text("3 of 3 runs").wait_for(timeout=90_000)

            # ---- delete with confirmation (cancel first)
            page.goto(f"{url}/runs?run={short(ids[2])}")
            settle(page)
            manage = tab(page, "Manage")
            manage.get_by_role("button", name=re.compile("Delete…")).click()
            settle(page)
            panel(page).get_by_role("button", name="Cancel").click()
            panel(page).get_by_text("cannot be undone").wait_for(state="detached", timeout=90_000)
            settle(page)
            with runs_store(workspace) as s:
                assert len(s.list_runs()) == 3
            panel(page).get_by_role("button", name=re.compile("Delete…")).click()
            settle(page)
            panel(page).get_by_text("cannot be undone").wait_for(timeout=90_000)
            panel(page).get_by_role("button", name="Yes, delete").click()
            until(lambda: len(stored(workspace)) == 2)
            settle(page)
            with runs_store(workspace) as s:
                assert [r["id"] for r in s.list_runs()] == ids[:2]
            assert not (workspace / "runs" / "run2").exists()
            assert_no_exception(page, "runs after delete")
            shot(page, "parity_runs")
        except Exception:
            shot(page, "parity_failure")
            raise
        finally:
            browser.close()
