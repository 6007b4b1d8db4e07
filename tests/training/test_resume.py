"""A run killed with SIGKILL mid-stage resumes from its checkpoint; finished stages stay done."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from laom_core.runs.store import RunStore
from train_helpers import FAST, train

REPO = Path(__file__).resolve().parents[2]


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path} did not appear in {timeout} s")
        time.sleep(0.2)


@pytest.mark.slow
def test_sigkill_then_resume(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["--method", "laom", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
            "--labeled-data", str(data_dir / "labeled.h5"), "--run-dir", str(run_dir), *FAST,
            "--set", "lapo.total_updates=8", "--set", "bc.total_updates=400", "--set", "run.checkpoint_every=3"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LAOM_TORCH_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "laom_core", "train", "--no-progress", *args], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(run_dir / "checkpoints" / "bc" / "last.pt", proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    stages = json.loads((run_dir / "stages.json").read_text())
    assert set(stages["finished"]) == {"lam"}
    lam_final = run_dir / "checkpoints" / "lam" / "final.pt"
    lam_mtime = lam_final.stat().st_mtime_ns
    probe_before = (run_dir / "artifacts" / "probe.json").read_text()
    latents_mtime = (run_dir / "artifacts" / "latents.npz").stat().st_mtime_ns
    [row] = RunStore().list_runs()
    assert row["status"] in ("running", "failed")  # killed without a word; the store's liveness check may notice

    code, summary, err = train(capsys, *args, "--set", "bc.total_updates=12", "--resume", "--run-id", row["id"])
    assert code == 0, err
    assert "resuming stage bc at update" in err and "resuming stage lam" not in err
    assert lam_final.stat().st_mtime_ns == lam_mtime
    assert (run_dir / "artifacts" / "latents.npz").stat().st_mtime_ns == latents_mtime
    assert (run_dir / "artifacts" / "probe.json").read_text() == probe_before
    finished = json.loads((run_dir / "stages.json").read_text())["finished"]
    assert set(finished) == {"lam", "bc", "decoder", "eval"}
    assert finished["lam"] == stages["finished"]["lam"]
    assert summary["probe_mse"] == json.loads(probe_before)["held_out_probe_mse"]
    assert not (run_dir / "checkpoints" / "bc" / "last.pt").exists()
    assert RunStore().get_run(row["id"])["status"] == "finished"


def test_resume_of_a_finished_run_redoes_nothing(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"), "--run-dir", str(run_dir),
            *FAST, "--set", "bc.total_updates=4"]
    code, first, err = train(capsys, *args)
    assert code == 0, err
    final = run_dir / "checkpoints" / "bc" / "final.pt"
    mtime = final.stat().st_mtime_ns
    code, again, err = train(capsys, *args, "--resume")
    assert code == 0, err
    assert final.stat().st_mtime_ns == mtime
    assert again["stage_samples_per_s"] == first["stage_samples_per_s"]
