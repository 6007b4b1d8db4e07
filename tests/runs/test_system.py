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


def _fake_cuda(monkeypatch, util: float | None = 37.0):
    """torch.cuda as a CUDA process sees it (CI has no GPU): one device, some memory in use."""
    import torch

    mib = 2**20
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 2048 * mib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 1024 * mib)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 1536 * mib)

    def utilization(device=None):
        if util is None:
            raise ModuleNotFoundError("pynvml")
        return util

    monkeypatch.setattr(torch.cuda, "utilization", utilization)


def _page_system_keys() -> list[str]:
    """SYSTEM_KEYS of pages/runs.py, read from its source (the page runs Streamlit when imported)."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[2] / "pages" / "runs.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SYSTEM_KEYS":
            return ast.literal_eval(node.value)
    raise AssertionError("pages/runs.py has no SYSTEM_KEYS")


def test_cuda_figures_reach_the_system_stage_the_runs_page_plots(store, monkeypatch):
    """The Runs page's System tab plots gpu_mem_mb and gpu_util of stage 'system': training
    logs them through system_metrics, the monitor through sample_system (same figures)."""
    from laom_core.runs.system import cuda_device_name, cuda_figures
    from laom_core.training.common import system_metrics

    _fake_cuda(monkeypatch)
    expected = {"gpu_mem_mb": 2048.0, "gpu_mem_allocated_mb": 1024.0, "gpu_mem_peak_mb": 1536.0, "gpu_util": 37.0}
    assert cuda_figures() == expected
    assert cuda_device_name() == "NVIDIA H200"
    for values in (system_metrics(), sample_system()):
        assert {k: values[k] for k in expected} == expected and values["rss_mb"] > 1
    run_id = store.create_run("gpu", "laom", "t", {}, None)
    monitor = start_system_monitor(store, run_id, interval_s=60)
    monitor.stop()  # one reading at stop
    curves = store.metrics(run_id, stage="system")
    keys = _page_system_keys()
    assert {"gpu_mem_mb", "gpu_util"} <= set(keys) <= set(curves)  # every plotted key is recorded
    assert curves["gpu_mem_mb"]["value"][-1] == 2048.0 and curves["gpu_util"]["value"][-1] == 37.0
    assert store.get_run(run_id)["gpu_name"] == "NVIDIA H200"


def test_no_utilisation_without_nvml(monkeypatch):
    from laom_core.runs.system import cuda_figures

    _fake_cuda(monkeypatch, util=None)
    monkeypatch.setitem(__import__("sys").modules, "pynvml", None)  # import pynvml -> ImportError
    figures = cuda_figures()
    assert "gpu_util" not in figures and figures["gpu_mem_mb"] == 2048.0
