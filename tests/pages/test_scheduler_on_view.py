"""Opening the dashboard starts the scheduler for runs left queued (e.g. after a reboot)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from laom_core.runs import launcher
from laom_core.runs.store import RunStore

REPO = Path(__file__).resolve().parents[2]


def test_runs_page_starts_queued_runs(workspace):
    store = RunStore()
    run_id = launcher.launch_argv(
        [sys.executable, "-c", "print('hello from a queued run')"],
        name="left queued", method="bc", store=store, start_scheduler=False,
    )
    assert store.get_run(run_id)["status"] == "queued"
    assert not launcher.scheduler_alive()

    at = AppTest.from_file(str(REPO / "pages" / "runs.py"), default_timeout=60)
    at.run()
    assert not at.exception

    # The scheduler started it: it left the queue and its output reached the run's log.
    log = Path(store.get_run(run_id)["run_dir"]) / "log.txt"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.exists() and "hello from a queued run" in log.read_text()):
        time.sleep(0.5)
    assert store.get_run(run_id)["status"] != "queued"
    assert "hello from a queued run" in log.read_text()
    store.close()
