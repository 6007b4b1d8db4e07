"""The toy dataset: released layout, distractor signals, recoverable actions, determinism."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from laom_core.data.hdf5 import validate_dataset
from laom_core.data.toy import make_toy_dataset
from laom_core.errors import ConfigError


def _load(path):
    with h5py.File(path, "r", locking=False) as f:
        return {int(k): {n: f[k][n][()] for n in ("obs", "actions", "states")} for k in f.keys()}


def _probe_mse(data, held_out_from: int) -> tuple[float, float]:
    """Ridge probe frame difference -> a_t, fitted on early trajectories, scored on the rest."""
    x, y, g = [], [], []
    for i, d in data.items():
        o = d["obs"].astype(np.float32) / 255.0
        x.append((o[1:] - o[:-1]).reshape(len(o) - 1, -1))
        y.append(d["actions"][:-1])
        g.append(np.full(len(o) - 1, i))
    x, y, g = np.concatenate(x), np.concatenate(y), np.concatenate(g)
    x = np.c_[x, np.ones(len(x))]
    tr, te = g < held_out_from, g >= held_out_from
    xt = x[tr].astype(np.float64)
    alpha = np.linalg.solve(xt @ xt.T + 0.01 * np.eye(len(xt)), y[tr])  # ridge in dual form (n << d)
    mse = float(((x[te] @ (xt.T @ alpha) - y[te]) ** 2).mean())
    mean_mse = float(((y[te] - y[tr].mean(0)) ** 2).mean())
    return mse, mean_mse


def test_layout_is_valid_and_actions_recoverable(tmp_path):
    path = make_toy_dataset(tmp_path / "toy.h5", trajectories=12, steps=40, img_size=32, action_dim=2, seed=0)
    info = validate_dataset(path)
    assert (info.domain_name, info.task_name, info.difficulty, info.dynamic) == ("toy", "move", "vanilla", False)
    assert (info.num_trajectories, info.total_steps, info.img_hw) == (12, 480, 32)
    assert (info.action_dim, info.state_dim) == (2, 4)
    assert info.distractor_signals == []
    data = _load(path)
    a = data[0]["actions"]
    assert a.dtype == np.float32 and np.abs(a).max() <= 1.0 and a.std() > 0.3
    # states: position then velocity; velocity is the displacement the action caused
    s = data[0]["states"]
    np.testing.assert_allclose(s[:-1, :2] + s[:-1, 2:], s[1:, :2], atol=1e-6)
    mse, mean_mse = _probe_mse(data, held_out_from=9)
    assert mse < 0.25 * mean_mse


def test_distractors_write_signals_and_hide_actions(tmp_path):
    path = make_toy_dataset(tmp_path / "d.h5", trajectories=12, steps=40, img_size=32, seed=0, distractors=True)
    info = validate_dataset(path)
    assert info.dynamic is True and info.difficulty == "easy"
    assert info.distractor_signals == ["camera", "clip_id", "color", "frame_index"]
    with h5py.File(path, "r", locking=False) as f:
        d = f["0/distractor"]
        assert d["camera"].shape == (40, 2) and d["color"].shape == (40, 3)
        cams = np.concatenate([f[f"{i}/distractor/camera"][()] for i in range(12)])
        assert np.abs(np.diff(cams, axis=0)).sum() > 0  # the camera moves
        clips = {int(f[f"{i}/distractor/clip_id"][0]) for i in range(12)}
        assert len(clips) > 1
        fi = f["0/distractor/frame_index"][()]
        assert np.all(np.abs(np.diff(fi)) == 1) or np.any(np.diff(fi) == 0)  # plays frame by frame
    # the same linear probe that reads actions off clean frames fails with distractors
    clean_mse, _ = _probe_mse(_load(make_toy_dataset(tmp_path / "c.h5", trajectories=12, steps=40,
                                                     img_size=32, seed=0)), 9)
    mse, mean_mse = _probe_mse(_load(path), 9)
    assert mse > 3 * clean_mse


def test_deterministic_by_seed_and_more_action_dims(tmp_path):
    a = make_toy_dataset(tmp_path / "a.h5", trajectories=2, steps=10, img_size=16, action_dim=3, seed=5)
    b = make_toy_dataset(tmp_path / "b.h5", trajectories=2, steps=10, img_size=16, action_dim=3, seed=5)
    c = make_toy_dataset(tmp_path / "c.h5", trajectories=2, steps=10, img_size=16, action_dim=3, seed=6)
    da, db, dc = _load(a), _load(b), _load(c)
    for key in ("obs", "actions", "states"):
        np.testing.assert_array_equal(da[1][key], db[1][key])
    assert not np.array_equal(da[1]["actions"], dc[1]["actions"])
    assert da[0]["actions"].shape == (10, 3) and da[0]["states"].shape == (10, 8)  # 2 discs


def test_bad_arguments_and_no_partial_file(tmp_path):
    with pytest.raises(ConfigError):
        make_toy_dataset(tmp_path / "x.h5", steps=1)
    assert not any(tmp_path.iterdir())
