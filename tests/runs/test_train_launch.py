"""`launch` with the real `train` command (smoke preset), and launch's argument checks."""
from __future__ import annotations

import json
from pathlib import Path

from laom_core.cli import main
from laom_core.data.toy import make_toy_dataset

from runs_helpers import wait_for


def test_launch_train_smoke_runs_in_background(store, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAOM_STUDIO_SCHEDULER_POLL", "0.2")
    monkeypatch.setenv("LAOM_TORCH_THREADS", "1")
    data = make_toy_dataset(tmp_path / "labeled.hdf5", trajectories=3, steps=10, img_size=16)
    args = ["launch", "--method", "bc", "--preset", "smoke", "--data", str(data), "--set", "bc.total_updates=2",
            "--set", "bc.batch_size=4", "--set", "run.log_every=1", "--device", "cpu", "--client-token", "t1"]
    assert main(args) == 0
    run_id = capsys.readouterr().out.strip()
    assert store.get_run(run_id)["status"] in ("queued", "running")  # printed at once, runs in background
    assert main(args) == 0 and capsys.readouterr().out.strip() == run_id  # same request, same run

    run = wait_for(lambda: (r := store.get_run(run_id))["status"] in ("finished", "failed") and r, timeout=240,
                   interval=0.5)
    assert run["status"] == "finished", run["error"]
    wait_for(lambda: store.get_run(run_id)["exit_code"] == 0, timeout=10)
    run_dir = Path(run["run_dir"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["method"] == "bc" and summary["run_id"] == run_id
    assert (run_dir / "config.yaml").exists() and "attempt 1" in (run_dir / "log.txt").read_text()
    curves = store.metrics(run_id, stage="bc")
    assert "loss" in curves and len(curves["loss"]["step"]) >= 1
    assert run["method"] == "bc" and run["preset"] == "smoke" and run["task"] == "toy-move"


def test_launch_checks_arguments_before_queueing(store, tmp_path, capsys):
    data = make_toy_dataset(tmp_path / "d.hdf5", trajectories=2, steps=6, img_size=16)
    assert main(["launch", "--method", "laom", "--data", str(tmp_path / "missing.hdf5")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["launch", "--method", "laom", "--data", str(data), "--set", "lapo.no_such_key=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert main(["launch", "--method", "laom", "--data", str(data), "--set", "lapo.batch_size=-4"]) == 2
    assert main(["launch", "--method", "lapo", "--data", str(data), "--preset", "huge"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert store.list_runs() == []


def test_launch_refuses_a_leaky_labeled_file_before_queueing(store, tmp_path, capsys):
    from laom_core.data.hdf5 import open_dataset, write_dataset
    from laom_core.data.splits import held_out_trajectories
    from laom_core.data.subsets import make_labeled_subset

    data = make_toy_dataset(tmp_path / "d.hdf5", trajectories=20, steps=12, img_size=16, seed=0)
    held = held_out_trajectories(data)
    with open_dataset(data) as ds:  # a labeled file holding a held-out trajectory's steps
        leaky = write_dataset(tmp_path / "leaky.hdf5", dict(ds.attrs),
                              [{**ds.trajectory(held[0]), "traj_return": 0.0}])
    assert main(["launch", "--method", "idm", "--data", str(data), "--labeled-data", str(leaky)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "held-out trajectories" in err
    assert store.list_runs() == []
    # a subset cut around the held-out trajectories, and the training file itself, are queued
    subset = make_labeled_subset(data, 4, 12, seed=0, out=tmp_path / "sub.hdf5")
    for labeled in (subset, data):
        assert main(["launch", "--method", "idm", "--data", str(data), "--labeled-data", str(labeled),
                     "--set", "idm.total_updates=1"]) == 0, capsys.readouterr().err
    assert len(store.list_runs()) == 2
    for run in store.list_runs():
        main(["runs", "stop", run["id"]])
