"""Probing finished LAMs again on one common split (laom_core.analysis.reprobe, `runs probe`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from laom_core.analysis import reprobe
from laom_core.commands.runs import parse_ids
from laom_core.errors import LaomError
from train_helpers import FAST

REPO = Path(__file__).resolve().parents[2]


def test_probe_features_reads_a_linear_action_and_not_noise():
    rng = np.random.default_rng(0)

    def part(n):
        actions, states = rng.normal(size=(n, 2)), rng.normal(size=(n, 5))
        z = np.c_[actions, rng.normal(size=(n, 6)) * 0.01]  # the action, linearly, plus a little noise
        return {"z": z, "emb": rng.normal(size=(n, 16)), "actions": actions, "states": states}

    figures = reprobe.probe_features(part(400), part(300))
    assert figures["r2_action"] > 0.99 and figures["probe_mse"] < 0.01 * figures["chance_probe_mse"]
    assert figures["r2_state"] < 0.05  # random embeddings explain no state
    assert figures["fit_samples"] == 400 and figures["test_samples"] == 300
    broken = part(50)
    broken["z"][3, 0] = np.nan
    with pytest.raises(LaomError, match="NaN"):
        reprobe.probe_features(broken, part(50))


def test_unseen_split_fits_on_shared_and_tests_on_unseen_trajectories(tmp_path):
    big, small = tmp_path / "big.h5", tmp_path / "small.h5"
    split = reprobe.unseen_split([(small, 4, [0, 1, 3]), (big, 8, [0, 2, 3, 4, 6])])
    assert split.data == big and split.fit == (0, 3) and split.test == (5, 7)
    with pytest.raises(LaomError, match="no common probe split"):
        reprobe.unseen_split([(small, 2, [0, 1]), (big, 2, [0, 1])])
    assert parse_ids("0-3, 7,2") == (0, 1, 2, 3, 7)


@pytest.fixture(scope="module")
def lam_run(data_dir, tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, workspace) of a LAOM stage-1 run registered in that workspace's store."""
    root = tmp_path_factory.mktemp("reprobe")
    env = dict(os.environ, LAOM_STUDIO_WORKSPACE=str(root / "workspace"))
    proc = subprocess.run([sys.executable, "-m", "laom_core", "train", "--method", "laom", "--preset", "smoke",
                           "--data", str(data_dir / "toy.h5"), "--run-dir", str(root / "run"), "--name", "tiny",
                           *FAST, "--set", "lapo.total_updates=8", "--set", "run.stop_after=lam"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root / "run", root / "workspace"


def test_reprobe_run_scores_a_trained_lam_and_caches_it(lam_run, data_dir):
    lam_run = lam_run[0]
    split = reprobe.ProbeSplit(data_dir / "toy.h5", fit=(0, 1, 2, 3), test=(4, 5), samples=64)
    figures = reprobe.reprobe_run(lam_run, split)
    assert figures["fit_samples"] == 64 and figures["test_samples"] == 46  # 2 trajectories x 23 transitions
    assert figures["chance_probe_mse"] > 0 and np.isfinite(figures["probe_mse"])
    assert np.isfinite(figures["r2_action"]) and np.isfinite(figures["r2_state"])
    cached = json.loads((lam_run / "artifacts" / f"reprobe-{split.key()}.json").read_text())
    assert cached["figures"] == figures and cached["test"] == [4, 5]
    assert reprobe.run_training_ids(lam_run, 6) == [0, 1, 2, 4, 5]  # seed 0: trajectory 3 held out
    with pytest.raises(LaomError, match="outside"):
        reprobe.reprobe_run(lam_run, reprobe.ProbeSplit(data_dir / "toy.h5", fit=(0,), test=(9,)))
    with pytest.raises(LaomError, match="overlap"):
        reprobe.reprobe_run(lam_run, reprobe.ProbeSplit(data_dir / "toy.h5", fit=(0, 1), test=(1,)))
    with pytest.raises(LaomError, match="not a training run"):
        reprobe.reprobe_run(data_dir, split)


def test_runs_probe_cli_prints_one_row_per_run_and_names_bad_input(lam_run, data_dir):
    _run_dir, workspace = lam_run
    env = dict(os.environ, LAOM_STUDIO_WORKSPACE=str(workspace))
    base = [sys.executable, "-m", "laom_core", "runs", "probe"]
    run_id = json.loads(subprocess.run([sys.executable, "-m", "laom_core", "runs", "list", "--json"], env=env,
                                       capture_output=True, text=True, cwd=REPO).stdout)[0]["id"]
    ok = subprocess.run(base + [run_id, "--data", str(data_dir / "toy.h5"), "--fit", "0-2", "--test", "3",
                                "--samples", "32", "--json"], capture_output=True, text=True, cwd=REPO, env=env)
    assert ok.returncode == 0, ok.stderr[-2000:]
    out = json.loads(ok.stdout)
    assert out["fit"] == [0, 1, 2] and out["test"] == [3] and len(out["runs"]) == 1
    assert out["runs"][0]["method"] == "laom" and out["runs"][0]["test_samples"] == 23
    for bad, message in ((["--fit", "0-x"], "trajectory ids must look like"), (["--fit", "7"], "outside")):
        args = base + [run_id, "--data", str(data_dir / "toy.h5"), "--test", "3"] + bad
        proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO, env=env)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
