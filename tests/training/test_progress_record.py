"""Each training stage writes its progress as a record, read by the Runs page without tqdm text."""
from __future__ import annotations

import json

from laom_core.analysis.progress import stage_progress
from laom_core.procs import read_progress
from train_helpers import FAST, train


def test_a_stage_writes_its_progress_record(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, _out, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                            "--run-dir", str(run_dir), *FAST, "--set", "bc.total_updates=3")
    assert code == 0, err
    record = read_progress(run_dir / "progress.json")
    assert record is not None and record["stage"] == "bc" and record["done"] == record["total"] == 3
    assert record["fraction"] == 1.0
    # train() passes --no-progress: there is no bar in the log, yet a running stage has a fraction.
    stages = json.loads((run_dir / "stages.json").read_text())
    stages["finished"].pop("bc", None)
    (run_dir / "stages.json").write_text(json.dumps(stages))
    bc = next(s for s in stage_progress(run_dir, "running") if s["stage"] == "bc")
    assert bc["fraction"] == 1.0 and bc["n"] == 3
