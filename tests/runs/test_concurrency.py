"""Eight writer processes and a reader on one store: every metric row arrives, reads never fail."""
from __future__ import annotations

import numpy as np

from laom_core.runs.launcher import launch_argv

from runs_helpers import fake_argv, wait_for

STEPS, KEYS, WRITERS = 1200, 4, 8


def test_eight_writers_and_a_reader_lose_nothing(store, monkeypatch):
    monkeypatch.setenv("LAOM_STUDIO_MAX_RUNS", str(WRITERS))
    monkeypatch.setenv("LAOM_STUDIO_SCHEDULER_POLL", "0.1")
    # Tiny batches (16 rows) make ~300 write transactions per process compete for the lock.
    ids = [launch_argv(fake_argv("--steps", STEPS, "--keys", KEYS, "--flush-rows", 16), group="crowd",
                       store=store) for _ in range(WRITERS)]
    seen = {run_id: 0 for run_id in ids}
    reads = 0
    max_running = 0

    def all_done():
        nonlocal reads, max_running
        curves = store.group_metrics(group="crowd")  # the reader, concurrently with the writers
        reads += 1
        for run_id in ids:
            n = sum(len(c["step"]) for c in curves.get(run_id, {}).values())
            assert n >= seen[run_id], "a reader saw rows disappear"
            seen[run_id] = n
        statuses = [store.get_run(r)["status"] for r in ids]
        max_running = max(max_running, statuses.count("running"))
        return all(s in ("finished", "failed") for s in statuses)

    wait_for(all_done, timeout=60, interval=0.02)
    assert reads > 5 and max_running > 1
    for run_id in ids:
        run = store.get_run(run_id)
        assert run["status"] == "finished", run["error"]
        curves = store.metrics(run_id)
        assert sorted(curves) == [f"k{j}" for j in range(KEYS)]
        for j in range(KEYS):
            c = curves[f"k{j}"]
            np.testing.assert_array_equal(c["step"], np.arange(STEPS))
            np.testing.assert_array_equal(c["value"], np.arange(STEPS) * 10 + j)
    assert store.count_metrics() == WRITERS * STEPS * KEYS
