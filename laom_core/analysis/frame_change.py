"""How much of the frame-to-frame change in a distracted dataset is the agent's?

A latent action model learns z from what changes between o_t and o_{t+1}: when distractors
make most of that change, a forward model's cheapest use of z is to describe them. With twin
datasets (the same episodes collected with and without distractors: same seeds, so the same
actions), the vanilla twin's change is the agent's alone, so

    agent_share = E(vanilla) / E(distracted),   E = mean over pixels and steps of (o_{t+1} - o_t)^2

with pixels in [0, 1]. It is an energy ratio, not an exact decomposition: the cross term
between agent and distractor change is left out (it averages near zero when they are
independent), and where a distractor covers the agent the agent's own change is hidden.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from laom_core.data.hdf5 import open_dataset

DEFAULT_TRAJECTORIES = 20  # 20 x 250 steps at 64 px reads ~60 MB and takes about a second


def frame_change_energy(path: str | os.PathLike, trajectories: int = DEFAULT_TRAJECTORIES) -> float:
    """Mean squared change between consecutive frames (pixels in [0, 1]) over the first
    ``trajectories`` trajectories of the file."""
    return _energy_and_actions(*_cache_key(path), trajectories)[0]


def twin_agent_share(vanilla: str | os.PathLike, distracted: str | os.PathLike,
                     trajectories: int = DEFAULT_TRAJECTORIES) -> float | None:
    """E(vanilla) / E(distracted) for twin files; None when they are not twins (their first
    trajectories' actions differ, so the vanilla change is not the distracted file's agent)."""
    e_v, a_v = _energy_and_actions(*_cache_key(vanilla), trajectories)
    e_d, a_d = _energy_and_actions(*_cache_key(distracted), trajectories)
    if a_v.shape != a_d.shape or not np.allclose(a_v, a_d) or e_d <= 0:
        return None
    return e_v / e_d


def _cache_key(path: str | os.PathLike) -> tuple[str, int, int]:
    """The resolved path with its mtime and size: a rewritten file is read again."""
    p = Path(path).resolve()
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=32)
def _energy_and_actions(path: str, _mtime_ns: int, _size: int, trajectories: int) -> tuple[float, np.ndarray]:
    total, count, actions = 0.0, 0, []
    with open_dataset(path) as ds:
        for traj in range(min(trajectories, ds.num_trajectories)):
            obs = ds.read(traj, "obs").astype(np.float32) / 255.0
            diff = obs[1:] - obs[:-1]
            total += float(np.square(diff, dtype=np.float64).sum())
            count += diff.size
            actions.append(ds.read(traj, "actions"))
    actions_all = np.concatenate(actions) if actions else np.zeros((0, 0), np.float32)
    return (total / count if count else 0.0), actions_all
