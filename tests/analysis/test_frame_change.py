"""The agent's share of frame change, on twin files whose energies are known."""
from __future__ import annotations

import numpy as np
import pytest

from laom_core.analysis import frame_change as fc
from laom_core.data.hdf5 import write_dataset

STEPS, HW = 40, 16


def _episode(rng: np.random.Generator, noise: float) -> dict:
    """A bright 4x4 square that moves one pixel per step, plus independent noise frames."""
    obs = np.zeros((STEPS, HW, HW, 3), np.float32)
    for t in range(STEPS):
        x = t % (HW - 4)
        obs[t, 6:10, x:x + 4] = 0.5
    obs = obs + noise * rng.random((STEPS, HW, HW, 3), dtype=np.float32)
    return {"obs": np.round(np.clip(obs, 0, 1) * 255).astype(np.uint8),
            "actions": np.ones((STEPS, 2), np.float32), "states": np.zeros((STEPS, 3), np.float32),
            "traj_return": 0.0}


def _write(path, noise: float, actions_scale: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    eps = [_episode(rng, noise) for _ in range(3)]
    for e in eps:
        e["actions"] = e["actions"] * actions_scale
    attrs = {"domain_name": "toy", "task_name": "move", "difficulty": "vanilla", "dynamic": False,
             "img_hw": HW, "split": "train"}
    return write_dataset(path, attrs, eps, overwrite=True)


def test_energy_is_the_mean_squared_frame_difference(tmp_path):
    path = _write(tmp_path / "v.hdf5", noise=0.0)
    obs = _episode(np.random.default_rng(0), 0.0)["obs"].astype(np.float64) / 255
    expected = np.mean(np.square(obs[1:] - obs[:-1]))
    assert fc.frame_change_energy(path) == pytest.approx(expected, rel=1e-5)


def test_agent_share_falls_as_distractor_change_grows(tmp_path):
    vanilla = _write(tmp_path / "v.hdf5", noise=0.0)
    light, heavy = _write(tmp_path / "l.hdf5", noise=0.1), _write(tmp_path / "h.hdf5", noise=0.6)
    assert fc.twin_agent_share(vanilla, vanilla) == 1.0
    share_light, share_heavy = fc.twin_agent_share(vanilla, light), fc.twin_agent_share(vanilla, heavy)
    assert 0.3 < share_light < 1.0 and share_heavy < 0.2 and share_heavy < share_light
    # the noise of uniform draws in [0, noise] changes by noise^2 / 6 per pixel per step
    e_v = fc.frame_change_energy(vanilla)
    assert abs(fc.frame_change_energy(heavy) - (e_v + 0.6 ** 2 / 6)) < 0.1 * 0.6 ** 2 / 6


def test_files_that_are_not_twins_have_no_share(tmp_path):
    vanilla = _write(tmp_path / "v.hdf5", noise=0.0)
    other = _write(tmp_path / "o.hdf5", noise=0.1, actions_scale=-1.0)
    assert fc.twin_agent_share(vanilla, other) is None


def test_a_rewritten_file_is_read_again(tmp_path):
    path = tmp_path / "v.hdf5"
    _write(path, noise=0.0)
    before = fc.frame_change_energy(path)
    _write(path, noise=0.5)  # a new file renamed over the old one: a new size and mtime
    assert fc.frame_change_energy(path) > before + 0.01
