"""System figures: CPU % over the interval between readings, resident memory, children."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from laom_core.data.toy import make_toy_dataset
from laom_core.system import system_metrics


@pytest.fixture
def store(workspace):
    from laom_core.runs.store import RunStore

    s = RunStore()
    yield s
    s.close()


def _busy(seconds: float) -> None:
    t0 = time.process_time()
    x = 0
    while time.process_time() - t0 < seconds:
        x += 1


def test_cpu_percent_measures_the_interval_between_readings():
    system_metrics()
    _busy(0.3)
    busy = system_metrics()["cpu_percent"]
    assert busy > 20, busy  # a fresh psutil.Process per reading always said 0.0
    time.sleep(0.3)
    idle = system_metrics()["cpu_percent"]
    assert idle < busy


def test_first_reading_of_a_process_is_its_average_not_zero():
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<20: pass"])
    try:
        time.sleep(0.5)
        values = system_metrics(child.pid)
        assert values["cpu_percent"] > 10 and values["rss_mb"] > 1
    finally:
        child.kill()
        child.wait()


def test_children_count_and_documented_keys():
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<20: pass"])
    try:
        time.sleep(0.3)
        system_metrics()
        time.sleep(0.3)
        values = system_metrics()
        assert values["cpu_percent"] > 20  # the busy child, not this sleeping process
        assert values["rss_mb"] > 1 and "gpu_mem_mb" not in values  # no CUDA here: nothing made up
    finally:
        child.kill()
        child.wait()


def test_training_logs_cpu_through_the_cached_monitor(store, tmp_path, capsys, monkeypatch):
    from laom_core.cli import main

    monkeypatch.setenv("LAOM_TORCH_THREADS", "1")
    data = make_toy_dataset(tmp_path / "d.hdf5", trajectories=3, steps=10, img_size=16)
    code = main(["train", "--no-progress", "--method", "bc", "--preset", "smoke", "--data", str(data),
                 "--set", "bc.total_updates=6", "--set", "bc.batch_size=4", "--set", "run.log_every=1",
                 "--device", "cpu", "--name", "sys"])
    assert code == 0, capsys.readouterr().err
    run = store.list_runs()[0]
    curves = store.metrics(run["id"], stage="system")
    assert len(curves["cpu_percent"]["value"]) >= 3
    assert curves["cpu_percent"]["value"].max() > 0  # it was 0.0 at every step


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

    tree = ast.parse((Path(__file__).resolve().parents[1] / "pages" / "runs.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SYSTEM_KEYS":
            return ast.literal_eval(node.value)
    raise AssertionError("pages/runs.py has no SYSTEM_KEYS")


def test_cuda_figures_reach_the_system_stage_the_runs_page_plots(monkeypatch):
    """The Runs page's System tab plots the keys of stage 'system', which training logs
    through :func:`laom_core.system.system_metrics`."""
    from laom_core.system import cuda_device_name, cuda_figures

    _fake_cuda(monkeypatch)
    expected = {"gpu_mem_mb": 2048.0, "gpu_mem_allocated_mb": 1024.0, "gpu_mem_peak_mb": 1536.0, "gpu_util": 37.0}
    assert cuda_figures() == expected
    assert cuda_device_name() == "NVIDIA H200"
    values = system_metrics()
    assert {k: values[k] for k in expected} == expected and values["rss_mb"] > 1
    assert {"gpu_mem_mb", "gpu_util"} <= set(_page_system_keys()) <= set(values)  # every plotted key is recorded


def test_no_utilisation_without_nvml(monkeypatch):
    from laom_core.system import cuda_figures

    _fake_cuda(monkeypatch, util=None)
    monkeypatch.setitem(__import__("sys").modules, "pynvml", None)  # import pynvml -> ImportError
    figures = cuda_figures()
    assert "gpu_util" not in figures and figures["gpu_mem_mb"] == 2048.0
