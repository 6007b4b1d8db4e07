"""Tiny datasets for the training tests (32 px toy data, seconds per method)."""
from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from laom_core.data.toy import make_toy_dataset


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train-data")
    make_toy_dataset(root / "toy.h5", trajectories=6, steps=24, img_size=32, action_dim=2, seed=0)
    make_toy_dataset(root / "labeled.h5", trajectories=2, steps=24, img_size=32, action_dim=2, seed=1)
    make_toy_dataset(root / "toy_a4.h5", trajectories=2, steps=12, img_size=32, action_dim=4, seed=2)
    make_toy_dataset(root / "other_task.h5", trajectories=2, steps=12, img_size=32, action_dim=2, seed=3)
    with h5py.File(root / "other_task.h5", "r+") as f:
        f.attrs["task_name"] = "jump"
    return root
