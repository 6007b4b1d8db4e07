"""System figures: a background thread logs CPU % and resident memory under stage 'system'."""
from __future__ import annotations

import time

from laom_core.runs.system import sample_system, start_system_monitor


def test_monitor_logs_cpu_and_memory(store):
    run_id = store.create_run("a", "laom", "t", {}, None)
    monitor = start_system_monitor(store, run_id, interval_s=0.05)
    ballast = bytearray(64 * 2**20)  # resident memory the monitor must see
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    t0 = time.time()
    x = 0
    # Keep a core busy until the monitor has sampled a few times (bounded: a loaded CI
    # machine may schedule the monitor thread late).
    while (time.time() - t0 < 0.6 or monitor.samples < 4) and time.time() - t0 < 30:
        x += 1
    monitor.stop()
    curves = store.metrics(run_id, stage="system")
    assert {"cpu_percent", "rss_mb"} <= set(curves)
    n = len(curves["rss_mb"]["step"])
    assert n >= 3 and list(curves["rss_mb"]["step"]) == list(range(n))
    assert curves["rss_mb"]["value"].max() > 64
    assert curves["cpu_percent"]["value"].max() > 5
    assert "gpu_mem_mb" not in curves  # no CUDA here: nothing made up
    monitor.stop()  # idempotent
    del ballast


def test_sample_has_the_documented_keys():
    values = sample_system()
    assert values["rss_mb"] > 1 and values["cpu_percent"] >= 0
