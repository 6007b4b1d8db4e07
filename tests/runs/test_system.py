"""System figures: CPU % over the interval between readings, resident memory, children."""
from __future__ import annotations

import subprocess
import sys
import time

from laom_core.data.toy import make_toy_dataset
from laom_core.runs.system import system_metrics


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
