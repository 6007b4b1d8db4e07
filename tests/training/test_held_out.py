"""No label leak: one held-out set per dataset file, labeled subsets cut around it, train
refusing a labeled file that overlaps it; and the three named probes every LAM run reports."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laom_core.cli import main
from laom_core.data.hdf5 import open_dataset, write_dataset
from laom_core.data.splits import (check_labeled_disjoint, held_out_overlap, held_out_split, held_out_trajectories,
                                   original_trajectories)
from laom_core.errors import DatasetError
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


def test_leak_check_reads_content_not_recorded_indices(toy20, tmp_path):
    held = held_out_trajectories(toy20)
    # A subset of another file: its original_traj_idx name toy20's held-out trajectories,
    # but it holds none of their steps, so nothing leaks.
    other = make_toy_dataset(tmp_path / "other30.h5", trajectories=30, steps=24, img_size=32, seed=5)
    sub = make_labeled_subset(other, 27, 24, seed=0, out=tmp_path / "other_sub.h5")
    assert set(original_trajectories(sub)) & set(held)
    assert held_out_overlap(sub, toy20, held) == {}
    check_labeled_disjoint(sub, toy20, held)
    # A hand-made file holding 10 steps of a held-out trajectory and no recorded index: a leak.
    with open_dataset(toy20) as ds:
        attrs = dict(ds.attrs)
        part = {k: v[5:15] for k, v in ds.trajectory(held[1]).items() if k in ("obs", "actions", "states")}
    hand = write_dataset(tmp_path / "hand.h5", attrs, [{**part, "traj_return": 0.0}])
    assert original_trajectories(hand) == []
    assert held_out_overlap(hand, toy20, held) == {held[1]: 10}
    with pytest.raises(DatasetError, match=f"10 steps of held-out trajectories \\({held[1]}\\)"):
        check_labeled_disjoint(hand, toy20, held)


def test_training_file_as_labeled_set_labels_only_its_training_trajectories(toy20, tmp_path, capsys):
    code, summary, err = train(capsys, "--method", "idm", "--preset", "smoke", "--data", str(toy20),
                               "--run-dir", str(tmp_path / "run"), *FAST)
    assert code == 0, err
    assert "training trajectories as its labeled set" in err
    held = summary["held_out_trajectories"]
    assert held and summary["labeled_trajectories"] == summary["train_trajectories"] == 20 - len(held)
    # the labeled sampler never reads a held-out trajectory
    from laom_core.training.methods import describe_data
    info = describe_data(toy20, toy20, None, "idm", 0.1)
    assert info["labeled_ids"] == info["train_ids"] and not set(info["labeled_ids"]) & set(info["held_out_ids"])
