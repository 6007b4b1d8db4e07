"""execute.run takes a resolved request (no argparse): what a backend calls in its own process."""
from __future__ import annotations

import json
import threading

import pytest

from laom_core.data.toy import make_toy_dataset
from laom_core.errors import LaomError
from laom_core.runs import execute
from laom_core.runs.request import TrainRequest, validate_train_request

FAST = ["bc.total_updates=2", "bc.batch_size=4", "run.log_every=1"]


def test_a_request_from_json_runs_in_a_worker_thread(store, tmp_path, monkeypatch):
    monkeypatch.setenv("LAOM_TORCH_THREADS", "1")
    data = make_toy_dataset(tmp_path / "d.hdf5", trajectories=3, steps=10, img_size=16)
    run_id = store.create_run("r", "bc", "toy-move", {}, None, status="queued")
    request = validate_train_request("bc", preset="smoke", sets=FAST, data=data, device="cpu",
                                     run_dir=tmp_path / "run", run_id=run_id, progress=False)
    shipped = TrainRequest.from_dict(json.loads(json.dumps(request.to_dict())))  # e.g. over a cluster queue
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(summary=execute.run(shipped)))
    worker.start()
    worker.join(300)
    assert out["summary"]["method"] == "bc" and out["summary"]["preset"] == "smoke"
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["method"] == "bc"
    row = store.get_run(run_id)
    assert row["status"] == "finished" and row["exit_code"] == 0 and row["run_dir"] == str(tmp_path / "run")


def test_a_failing_request_marks_its_run_failed(store, tmp_path, monkeypatch):
    monkeypatch.setenv("LAOM_TORCH_THREADS", "many")
    data = make_toy_dataset(tmp_path / "d.hdf5", trajectories=3, steps=10, img_size=16)
    run_id = store.create_run("r", "bc", "toy-move", {}, None, status="queued")
    request = validate_train_request("bc", preset="smoke", data=data, device="cpu", run_id=run_id)
    with pytest.raises(LaomError, match="LAOM_TORCH_THREADS"):
        execute.run(request)
    row = store.get_run(run_id)
    assert row["status"] == "failed" and "LAOM_TORCH_THREADS" in row["error"] and row["exit_code"] == 2
