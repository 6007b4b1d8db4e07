"""No label leak: one held-out set per dataset file, labeled subsets cut around it, train
refusing a labeled file that overlaps it; and the three named probes every LAM run reports."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laom_core.cli import main
from laom_core.data.hdf5 import open_dataset, write_dataset
from laom_core.data.splits import held_out_split, held_out_trajectories, original_trajectories
from laom_core.data.subsets import make_labeled_subset
from laom_core.data.toy import make_toy_dataset
from laom_core.training.artifacts import trajectory_clips
from train_helpers import FAST, train


@pytest.fixture(scope="module")
def toy20(tmp_path_factory):
    root = tmp_path_factory.mktemp("held-out")
    return make_toy_dataset(root / "toy20.h5", trajectories=20, steps=24, img_size=32, seed=0, distractors=True)


def test_held_out_set_is_the_files_not_the_seeds(toy20, tmp_path, capsys):
    held = held_out_trajectories(toy20)
    assert len(held) == 2 and held == held_out_split(20)[1]
    summaries = []
    for seed in (0, 1, 2):
        code, summary, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(toy20),
                                   "--run-dir", str(tmp_path / f"s{seed}"), *FAST, "--set", f"seed={seed}",
                                   "--set", "run.held_out_fraction=0.1")
        assert code == 0, err
        summaries.append(summary)
    assert [s["held_out_trajectories"] for s in summaries] == [held] * 3
    assert summaries[0]["train_trajectories"] == 18


def test_labeled_subsets_never_come_from_held_out_trajectories(toy20, tmp_path):
    held = set(held_out_trajectories(toy20))
    # More chunks than trajectories: chunks are cut from every eligible trajectory.
    out = make_labeled_subset(toy20, 40, 8, seed=3, out=tmp_path / "chunks.h5")
    assert not set(original_trajectories(out)) & held
    # As many whole trajectories as there are training ones: exactly the training trajectories.
    out = make_labeled_subset(toy20, 18, 24, seed=4, out=tmp_path / "whole.h5")
    assert set(original_trajectories(out)) == set(range(20)) - held


def test_cli_subset_respects_the_held_out_fraction(toy20, tmp_path):
    out = tmp_path / "sub.h5"
    code = main(["dataset", "subset", str(toy20), "--trajectories", "30", "--chunk-size", "8", "--seed", "0",
                 "--out", str(out), "--held-out-fraction", "0.25"])
    assert code == 0
    assert not set(original_trajectories(out)) & set(held_out_trajectories(toy20, 0.25))


def test_train_refuses_a_labeled_file_cut_from_held_out_trajectories(toy20, tmp_path, capsys):
    held = held_out_trajectories(toy20)
    with open_dataset(toy20) as ds:
        attrs = dict(ds.attrs)
        trajs = [{**ds.trajectory(t), "traj_return": 0.0, "group_attrs": {"original_traj_idx": np.int64(t)}}
                 for t in (held[0], 5 if 5 not in held else 6)]
    leaky = write_dataset(tmp_path / "leaky.h5", attrs, trajs)
    run_dir = tmp_path / "run"
    code, _, err = train(capsys, "--method", "laom-labels", "--preset", "smoke", "--data", str(toy20),
                         "--labeled-data", str(leaky), "--run-dir", str(run_dir), *FAST)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "held-out" in lines[0] and str(held[0]) in lines[0]
    assert "Traceback" not in err
    assert not (run_dir / "stages.json").exists()


@pytest.mark.slow
def test_lam_run_reports_three_named_probes(toy20, tmp_path, capsys):
    eval_data = make_toy_dataset(tmp_path / "eval.h5", trajectories=3, steps=24, img_size=32, seed=9,
                                 distractors=True)
    labeled = make_labeled_subset(toy20, 4, 24, seed=0, out=tmp_path / "lab.h5")
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", "laom-labels", "--preset", "smoke", "--data", str(toy20),
                               "--labeled-data", str(labeled), "--eval-data", str(eval_data),
                               "--run-dir", str(run_dir), *FAST, "--set", "run.stop_after=lam")
    assert code == 0, err
    probe = json.loads((run_dir / "artifacts" / "probe.json").read_text())
    for key in ("probe_online", "probe_clip_seen", "probe_clip_unseen"):
        assert summary[key] is not None and np.isfinite(summary[key]) and summary[key] >= 0, key
    assert summary["probe_clip_seen"] == probe["probe_clip_seen"]
    assert summary["chance_clip_unseen"] > 0
    # clip-seen: the held-out trajectories whose clip also plays in a training trajectory
    clips = trajectory_clips(toy20)
    train_clips = {clips[t] for t in range(20) if t not in summary["held_out_trajectories"]}
    expected = [t for t in summary["held_out_trajectories"] if clips[t] in train_clips]
    assert probe["clip_seen_trajectories"] == expected
    assert probe["clip_unseen_source"] == str(eval_data)
    # runs show --json carries the split and the probes
    capsys.readouterr()
    assert main(["runs", "show", summary["run_id"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert shown["held_out_trajectories"] == summary["held_out_trajectories"]
    assert shown["probe_clip_seen"] == summary["probe_clip_seen"]


def test_named_probes_without_eval_data_or_clips(tmp_path, capsys):
    data = make_toy_dataset(tmp_path / "plain.h5", trajectories=10, steps=20, img_size=32, seed=1)
    code, summary, err = train(capsys, "--method", "lapo", "--preset", "smoke", "--data", str(data),
                               "--run-dir", str(tmp_path / "run"), *FAST, "--set", "run.stop_after=lam")
    assert code == 0, err
    assert summary["probe_clip_unseen"] is None  # no eval data
    # no clips recorded: every held-out trajectory counts as clip-seen
    assert summary["probe_clip_seen"] == pytest.approx(summary["probe_mse"])
