"""Helpers for the training tests: fast overrides, fake control data, in-process CLI."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from laom_core.cli import main

# Small enough for seconds per method on a shared 2-core machine.
FAST = [
    "--set", "lapo.total_updates=16", "--set", "bc.total_updates=8", "--set", "decoder.total_updates=8",
    "--set", "idm.total_updates=8", "--set", "run.log_every=2", "--set", "run.checkpoint_every=4",
    "--set", "lapo.batch_size=8", "--set", "bc.batch_size=8", "--set", "idm.batch_size=8",
]


def fake_control_dataset(path: Path, task: str = "cheetah-run", action_dim: int = 6, state_dim: int = 17,
                         trajectories: int = 4, steps: int = 16, img_size: int = 32, seed: int = 0) -> Path:
    """Random pixels with a real task's dims and attrs: enough to train and to build its env."""
    rng = np.random.default_rng(seed)
    domain, task_name = task.split("-", 1)
    with h5py.File(path, "w") as f:
        for i in range(trajectories):
            g = f.create_group(str(i))
            g.create_dataset("obs", data=rng.integers(0, 255, (steps, img_size, img_size, 3), dtype=np.uint8))
            g.create_dataset("actions", data=rng.uniform(-1, 1, (steps, action_dim)).astype(np.float32))
            g.create_dataset("states", data=rng.normal(size=(steps, state_dim)).astype(np.float32))
            g.attrs["traj_return"] = 0.0
        f.attrs.update({"domain_name": domain, "task_name": task_name, "difficulty": "vanilla", "dynamic": False,
                        "img_hw": img_size, "split": "train", "dataset_return": 0.0})
    return path


def train(capsys, *args: str) -> tuple[int, dict | None, str]:
    """Run the CLI; returns (exit code, parsed last stdout line or None, stderr)."""
    code = main(["train", "--no-progress", *args])
    out, err = capsys.readouterr()
    lines = [line for line in out.strip().splitlines() if line.strip()]
    summary = json.loads(lines[-1]) if code == 0 and lines else None
    return code, summary, err
