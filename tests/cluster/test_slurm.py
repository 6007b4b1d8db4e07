"""The slurm backend against a real single-node Slurm cluster (scripts/start_slurm.sh): what
only Slurm has (the checks every backend shares are in test_backends.py)."""
from __future__ import annotations

import json
from pathlib import Path

from cluster_helpers import done, queue, wait_for


def test_concurrency_limit_per_backend(store, slurm):
    from laom_core.cli import main

    assert main(["runs", "concurrency", "--backend", "slurm", "1"]) == 0
    ids = [queue(store, slurm, "--steps", 8, "--sleep", 0.2) for _ in range(3)]
    peak = 0
    while not all(done(store, i) for i in ids):
        peak = max(peak, sum(store.get_run(i, reconcile=False)["status"] == "running" for i in ids))
        import time

        time.sleep(0.1)
    assert peak == 1 and all(store.get_run(i)["status"] == "finished" for i in ids)


def test_launch_train_smoke_through_slurm(store, slurm, tmp_path, capsys, monkeypatch):
    """The real thing: `launch --backend slurm` of a smoke BC run on tiny generated data."""
    from laom_core.cli import main
    from laom_core.data.toy import make_toy_dataset

    monkeypatch.setenv("LAOM_TORCH_THREADS", "1")
    data = make_toy_dataset(tmp_path / "labeled.hdf5", trajectories=3, steps=10, img_size=16)
    assert main(["launch", "--method", "bc", "--preset", "smoke", "--data", str(data), "--set", "bc.total_updates=3",
                 "--set", "bc.batch_size=4", "--set", "run.log_every=1", "--device", "cpu",
                 "--backend", "slurm", "--time-limit", "30", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["backend"] == "slurm"
    run = wait_for(lambda: done(store, out["id"]), timeout=300)
    assert run["status"] == "finished", run["error"]
    assert run["backend_opts"]["time_limit_min"] == 30
    summary = json.loads((Path(run["run_dir"]) / "summary.json").read_text())
    assert summary["method"] == "bc"
    curves = store.metrics(out["id"], stage="bc")
    assert "loss" in curves and len(curves["loss"]["step"]) == 3
    assert main(["runs", "show", out["id"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert shown["backend"] == "slurm" and shown["job_id"] == run["job_id"]


def test_launch_without_a_cluster_says_so(store, tmp_path, capsys, monkeypatch):
    from laom_core.cli import main
    from laom_core.data.toy import make_toy_dataset

    data = make_toy_dataset(tmp_path / "d.hdf5", trajectories=2, steps=6, img_size=16)
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    assert main(["launch", "--method", "bc", "--data", str(data), "--backend", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no Slurm cluster is reachable") and "\n" not in err
    assert main(["launch", "--method", "bc", "--data", str(data), "--partition", "x"]) == 2
    assert "--partition does not apply to --backend local" in capsys.readouterr().err
    assert store.list_runs() == []


def test_a_sweeps_runs_go_as_one_job_array(store, slurm):
    from laom_core.runs.backends import check_backend
    from laom_core.runs.launcher import ensure_scheduler, launch_argv

    from cluster_helpers import fake_argv

    opts = check_backend("slurm", {})
    ids = [launch_argv(fake_argv("--steps", 12), method="fake", group="grid", store=store, start_scheduler=False,
                       backend="slurm", backend_opts=opts) for _ in range(4)]
    ensure_scheduler(store)
    runs = [wait_for(lambda i=i: done(store, i), timeout=180) for i in ids]
    assert all(r["status"] == "finished" for r in runs), [r["error"] for r in runs]
    arrays = {r["job_id"].split("_")[0] for r in runs}
    assert len(arrays) == 1 and all("_" in r["job_id"] for r in runs)  # one array, a task per run
    assert all(store.count_metrics(i) == 12 for i in ids)


def test_a_job_killed_behind_our_back_is_failed_from_the_backend_state(store, slurm, monkeypatch):
    """No exit.json (the wrapper was SIGKILLed too): Slurm's job state is the backstop."""
    from cluster_helpers import processes_of

    monkeypatch.setenv("LAOM_STUDIO_BACKEND_POLL", "0.5")
    run_id = queue(store, slurm, "--steps", 1000, "--sleep", 0.1)
    wait_for(lambda: store.count_metrics(run_id) >= 3, timeout=120)
    job = store.get_run(run_id)["job_id"]
    import psutil

    for proc in processes_of(run_id):  # the wrapper, the run, submitit's job process: as a node crash would
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    run = wait_for(lambda: done(store, run_id), timeout=60)
    assert run["status"] == "failed" and not (Path(run["run_dir"]) / "exit.json").exists()
    assert f"slurm job {job}" in run["error"] and "log tail" in run["error"]
